"""The HTTP toolkit's pure parts: typed cursors, input hygiene, the circuit breaker, the client IP."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from claw_common.data.breaker import CircuitBreaker
from claw_common.errors import ValidationFailed
from claw_common.http.client_ip import client_ip, event_source_ip
from claw_common.http.hygiene import control_character_errors, refuse_control_characters
from claw_common.http.pagination import (
    ChunkPosition,
    KeyPosition,
    SeqPosition,
    TimeIdPosition,
    decode_cursor,
    encode_cursor,
)


def b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# ----------------------------------------------------------------------------- cursors


def test_cursors_round_trip_in_their_one_shape() -> None:
    uid = "3f0e8d5c-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
    position = TimeIdPosition(at=datetime(2026, 11, 22, 8, 0), id=UUID(uid))
    assert decode_cursor(encode_cursor(position), TimeIdPosition) == position
    assert decode_cursor(encode_cursor(42), SeqPosition) == 42
    assert decode_cursor(encode_cursor("rate_limit.ip"), KeyPosition) == "rate_limit.ip"
    assert decode_cursor(encode_cursor({"i": 7}), ChunkPosition).i == 7
    assert decode_cursor(encode_cursor(["2026-11-22T08:00:00", uid]), tuple[datetime, UUID])[1] == UUID(uid)


@pytest.mark.parametrize(
    ("cursor", "shape"),
    [
        ("%%%", SeqPosition),  # not base64
        ("MQ", KeyPosition),  # base64 of 1: a number where a key belongs (was a 500 on /configs/public)
        (b64({"a": 1}), KeyPosition),
        (b64({"a": 1}), TimeIdPosition),
        (b64(True), SeqPosition),  # a bool is not a sequence number
        (b64("5"), SeqPosition),  # nor is a string
        (b64(-1), SeqPosition),
        (b64({"at": "yesterday", "id": "x"}), TimeIdPosition),
        (b64({"i": 1, "extra": 2}), ChunkPosition),
        (b64([[[[[[[[]]]]]]]]), tuple[datetime, UUID]),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), SeqPosition),  # not UTF-8
    ],
)
def test_any_other_cursor_is_a_422_on_query_cursor(cursor: str, shape: Any) -> None:
    with pytest.raises(ValidationFailed) as err:
        decode_cursor(cursor, shape)
    assert err.value.status == 422 and err.value.extra["errors"][0]["loc"] == ["query", "cursor"]


# ----------------------------------------------------------------------------- hygiene


def test_control_characters_are_found_at_any_depth_and_named_by_field() -> None:
    body = {"title": "ok\ttabs\nand lines\r", "meta": {"tags": ["fine", "bad\x00"]}, "k\x07": 1}
    errors = control_character_errors(body, ["body"])
    locs = sorted(tuple(e["loc"]) for e in errors)
    assert locs == [("body", "k\\x07"), ("body", "meta", "tags", "1")]
    assert all("\x00" not in e["msg"] and e["type"] == "string_control_character" for e in errors)
    assert "U+0000" in next(e["msg"] for e in errors if e["loc"][-1] == "1")


def test_lone_surrogates_are_not_text() -> None:
    errors = control_character_errors(json.loads('{"name": "\\ud800"}'), ["body"])
    assert errors[0]["loc"] == ["body", "name"] and "surrogate" in errors[0]["msg"]


def test_clean_input_passes_and_bad_input_is_a_422_naming_the_field() -> None:
    refuse_control_characters(control_character_errors({"text": "你好, world\n"}, ["body"]))
    with pytest.raises(ValidationFailed) as err:
        refuse_control_characters(control_character_errors({"email": "a\x00@b.c"}, ["body"]))
    assert err.value.status == 422
    assert err.value.extra["errors"][0]["loc"] == ["body", "email"]
    assert "body.email" in err.value.detail


def test_a_deeply_nested_value_does_not_overflow_the_checker() -> None:
    value: Any = "\x01"
    for _ in range(5000):
        value = [value]
    assert len(control_character_errors(value, ["body"])) == 1


# ----------------------------------------------------------------------------- circuit breaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_consecutive_failures_and_refuses_at_once() -> None:
    clock = Clock()
    opened: list[str] = []
    breaker = CircuitBreaker(
        "redis", failure_threshold=2, reset_timeout_s=5, clock=clock, on_open=lambda b: opened.append(b.name)
    )
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_success()  # a success in between resets the count
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open" and opened == ["redis"]
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow() and breaker.retry_after_s() == pytest.approx(0.1)


def test_half_open_lets_one_trial_through_and_its_result_decides() -> None:
    clock = Clock()
    breaker = CircuitBreaker("redis", failure_threshold=1, reset_timeout_s=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    assert breaker.state == "half_open"
    assert breaker.allow()  # the trial
    assert not breaker.allow()  # only one at a time
    breaker.record_failure()  # the trial failed: open again, for a full period
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_breaker_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)


# ----------------------------------------------------------------------------- client IP


def test_client_ip_is_api_gateways_source_ip_never_a_header() -> None:
    event = {"requestContext": {"identity": {"sourceIp": "203.0.113.7"}}, "headers": {"X-Forwarded-For": "10.0.0.1"}}
    assert event_source_ip(event) == "203.0.113.7"
    assert client_ip({"aws.event": event, "client": ("127.0.0.1", 1)}) == "203.0.113.7"
    assert client_ip({"client": ("127.0.0.9", 1)}) == "127.0.0.9"
    assert client_ip({}) == "unknown"
    assert event_source_ip({"requestContext": "garbage"}) is None


def test_a_redis_client_stops_asking_a_dead_server_until_the_trial() -> None:
    import redis

    from claw_common.data.redis_client import CircuitOpen, guarded_redis
    from claw_local.services import free_port

    clock = Clock()
    breaker = CircuitBreaker("redis", failure_threshold=2, reset_timeout_s=5, clock=clock)
    client = guarded_redis(f"redis://127.0.0.1:{free_port()}/0", 0.3, breaker=breaker)
    for _ in range(2):
        with pytest.raises(redis.ConnectionError) as refused:
            client.get("k")
        assert not isinstance(refused.value, CircuitOpen)
    # Open: refused at once, without a connection attempt (also for pipelines)
    with pytest.raises(CircuitOpen):
        client.get("k")
    pipe = client.pipeline(transaction=False)
    pipe.get("k")
    with pytest.raises(CircuitOpen):
        pipe.execute()
    clock.now += 5
    with pytest.raises(redis.ConnectionError) as trial:
        client.get("k")  # the trial goes to the server (still dead: open again)
    assert not isinstance(trial.value, CircuitOpen)
    assert breaker.state == "open"
