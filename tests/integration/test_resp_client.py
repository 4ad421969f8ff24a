"""The authorizer's small cache client against the platform's real Valkey, and against sockets
that refuse, hang, close or talk nonsense."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from claw_common.data.breaker import CircuitBreaker
from claw_common.data.resp import CacheReplyError, CacheUnavailable, RespClient, encode_command, read_reply


@pytest.fixture
def url(platform: Any) -> str:
    return os.environ["REDIS_URL"]


@pytest.fixture
def other(url: str) -> Iterator[redis.Redis]:
    """redis-py on the same server: the API functions' client, which writes what the authorizer reads."""
    client = redis.Redis.from_url(url, socket_timeout=2)
    yield client
    client.close()


def test_get_and_set_read_and_write_what_redis_py_does(url: str, other: redis.Redis, unique: str) -> None:
    client = RespClient(url, 1.0)
    other.set(f"resp:{unique}:a", b"\x00state\r\n\xff")
    assert client.get(f"resp:{unique}:a") == b"\x00state\r\n\xff"
    assert client.get(f"resp:{unique}:missing") is None
    assert client.set(f"resp:{unique}:b", "value", ex=30) is True
    assert other.get(f"resp:{unique}:b") == b"value"
    assert 0 < other.ttl(f"resp:{unique}:b") <= 30


def test_set_nx_is_true_only_for_the_first_writer(url: str, other: redis.Redis, unique: str) -> None:
    client = RespClient(url, 1.0)
    assert client.set(f"resp:{unique}:nx", b"1", nx=True, ex=60) is True
    assert client.set(f"resp:{unique}:nx", b"2", nx=True, ex=60) is False
    assert other.get(f"resp:{unique}:nx") == b"1"


def test_an_error_reply_raises_and_leaves_the_circuit_closed(url: str, other: redis.Redis, unique: str) -> None:
    other.rpush(f"resp:{unique}:list", b"x")
    client = RespClient(url, 1.0)
    for _ in range(3):
        with pytest.raises(CacheReplyError, match="WRONGTYPE"):
            client.get(f"resp:{unique}:list")
    assert client.breaker.state == "closed"
    # and the connection is still in step: the next command reads its own reply
    other.set(f"resp:{unique}:after", b"ok")
    assert client.get(f"resp:{unique}:after") == b"ok"


def test_a_connection_the_server_closed_is_replaced_at_once(url: str, other: redis.Redis, unique: str) -> None:
    client = RespClient(url, 1.0)
    other.set(f"resp:{unique}:k", b"v")
    assert client.get(f"resp:{unique}:k") == b"v"
    # Given the server drops the connection (as after a frozen environment's idle timeout)
    name = f"resp-{unique}"
    client.execute("CLIENT", "SETNAME", name)
    killed = [c["id"] for c in other.client_list() if c.get("name") == name]
    assert killed and other.client_kill_filter(_id=killed[0]) == 1
    # Then the next command still answers, on a new connection, and nothing opened the circuit
    assert client.get(f"resp:{unique}:k") == b"v"
    assert client.breaker.state == "closed"


def test_a_database_number_in_the_url_is_selected(url: str, unique: str) -> None:
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    client = RespClient(f"{base}/3", 1.0)
    assert client.set(f"resp:{unique}:db", b"3") is True
    in_db3 = redis.Redis.from_url(f"{base}/3", socket_timeout=2)
    in_db0 = redis.Redis.from_url(f"{base}/0", socket_timeout=2)
    assert in_db3.get(f"resp:{unique}:db") == b"3" and in_db0.get(f"resp:{unique}:db") is None


@contextmanager
def listener(serve: Callable[[socket.socket], None], conns: list[socket.socket] | None = None) -> Iterator[str]:
    """A local TCP server whose accepted connections (appended to ``conns``) are handled by ``serve``."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    conns = [] if conns is None else conns

    def loop() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for conn in conns:
            conn.close()
        server.close()


def timed(call: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        call()
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def test_a_server_that_never_answers_costs_one_timeout_then_the_circuit_opens() -> None:
    accepted: list[socket.socket] = []
    with listener(lambda conn: conn.recv(1024), accepted) as hung:
        client = RespClient(hung, 0.3)
        first, first_s = timed(lambda: client.get("k"))
        connections_for_the_first = len(accepted)
        second, _ = timed(lambda: client.get("k"))
        connections_before_the_third = len(accepted)
        third, _ = timed(lambda: client.get("k"))
        connections_after_the_third = len(accepted)
    # A timeout is not retried (one connection, one deadline), then two failures open the circuit
    assert isinstance(first, CacheUnavailable) and 0.25 <= first_s < 1.0
    assert connections_for_the_first == 1
    assert isinstance(second, CacheUnavailable)
    # and the third is refused without a connection attempt
    assert isinstance(third, CacheUnavailable) and "circuit open" in str(third)
    assert connections_after_the_third == connections_before_the_third
    assert client.breaker.state == "open"


def test_a_refused_connection_fails_fast_and_the_circuit_closes_after_a_good_trial(url: str) -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    now = [100.0]
    breaker = CircuitBreaker("redis", failure_threshold=2, reset_timeout_s=5, clock=lambda: now[0])
    client = RespClient(f"redis://127.0.0.1:{port}/0", 0.3, breaker=breaker)
    for _ in range(2):
        error, _ = timed(lambda: client.get("k"))
        assert isinstance(error, CacheUnavailable) and "refused" in str(error).lower()
    assert breaker.state == "open"
    # When the cache is back (here: the client pointed at the live server) and the open time passed
    client.port = int(url.split(":")[2].split("/")[0])
    now[0] += 5
    assert client.get("resp:absent-key") is None
    assert breaker.state == "closed"


@pytest.mark.parametrize(
    "reply",
    [b"?what\r\n", b"$abc\r\n", b"$10\r\nshort", b"", b"$99999999\r\n"],
    ids=["unknown-type", "bad-length", "truncated", "closed", "oversized"],
)
def test_a_reply_that_is_not_resp_is_unavailable_not_a_crash(reply: bytes) -> None:
    def serve(conn: socket.socket) -> None:
        conn.recv(1024)
        conn.sendall(reply)
        conn.close()

    with listener(serve) as odd:
        error, seconds = timed(lambda: RespClient(odd, 0.5).get("k"))
    assert isinstance(error, CacheUnavailable), error
    assert seconds < 1.5


def test_commands_are_encoded_as_resp_arrays_of_bulk_strings() -> None:
    assert encode_command("SET", "k", b"a\r\nb", "EX", 30) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n$2\r\nEX\r\n$2\r\n30\r\n"
    )
    chunks = iter([b"*2\r\n", b"$1\r\n", b":7\r\n"])
    assert read_reply(lambda: next(chunks), lambda n: b"x\r\n") == [b"x", 7]


def test_only_redis_urls_with_a_host_are_accepted() -> None:
    for bad in ("http://host:6379", "redis:///0", "valkey://h"):
        with pytest.raises(ValueError, match="redis://"):
            RespClient(bad, 0.3)
    client = RespClient("rediss://user:p%40ss@cache.example:6380/2", 0.3)
    assert (client.host, client.port, client.db, client.tls) == ("cache.example", 6380, 2, True)
    assert (client.username, client.password) == ("user", "p@ss")
