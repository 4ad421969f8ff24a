"""Frames of a streamed answer: batching of deltas, order, a client that goes away, bad frames."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chat_app.ws import ChatAction, error_frame, parse_chat_action
from claw_common.errors import QuotaExceeded, ValidationFailed
from claw_common.http.ws_push import ConnectionPusher, FrameStream, display_width


class RecordingClient:
    """Stands in for the management API client: records frames, or answers Gone after ``gone_after``."""

    def __init__(self, gone_after: int | None = None) -> None:
        self.frames: list[dict[str, Any]] = []
        self.calls = 0
        self.gone_after = gone_after
        self.lock = threading.Lock()

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        with self.lock:
            self.calls += 1
            if self.gone_after is not None and len(self.frames) >= self.gone_after:
                raise ClientError({"Error": {"Code": "GoneException", "Message": ""}}, "PostToConnection")
            self.frames.append(json.loads(Data))
        return {}


def test_instant_text_is_streamed_in_pieces_then_the_other_frames_in_order() -> None:
    client = RecordingClient()
    stream = FrameStream(ConnectionPusher(client, "c1="), max_wait_s=5.0, min_width=24)
    words = [f"word{n} " for n in range(40)]

    for word in words:
        stream.delta(word)
    stream.frame({"type": "sources", "sources": []})
    stream.frame({"type": "done"})
    stream.close()

    deltas = [f["text"] for f in client.frames if f["type"] == "delta"]
    assert "".join(deltas) == "".join(words)
    assert len(deltas) > 5 and all(display_width(d) >= 24 for d in deltas[:-1])
    assert [f["type"] for f in client.frames[-2:]] == ["sources", "done"]


def test_chinese_text_counts_double_width() -> None:
    assert display_width("订单发货") == 8 and display_width("ab 订") == 5


def test_a_lone_piece_is_posted_without_waiting_for_more() -> None:
    client = RecordingClient()
    stream = FrameStream(ConnectionPusher(client, "c1="), max_wait_s=0.05, min_width=1000)
    stream.delta("Hel")
    stream.delta("lo")

    # The model stalls here; the buffered text still reaches the client.
    deadline = time.monotonic() + 10
    while not client.frames and time.monotonic() < deadline:
        time.sleep(0.01)
    stream.close()
    assert client.frames == [{"type": "delta", "text": "Hello"}]


def test_a_client_gone_mid_answer_stops_the_posts_quietly() -> None:
    client = RecordingClient(gone_after=1)
    pusher = ConnectionPusher(client, "c1=")
    stream = FrameStream(pusher, max_wait_s=5.0, min_width=4)
    for piece in ["first ", "second ", "third ", "fourth "]:
        stream.delta(piece)
    stream.frame({"type": "done"})
    stream.close()

    assert pusher.gone and not pusher.failed
    assert client.frames == [{"type": "delta", "text": "first "}]
    assert client.calls == 2  # one refused post, then nothing more


def test_error_frames_carry_the_problem_fields() -> None:
    frame = error_frame(QuotaExceeded("used up", retry_after=60, extra={"quota_tokens": 5}), conversation_id="c")
    assert frame == {
        "type": "error",
        "status": 429,
        "title": "Token Quota Exceeded",
        "detail": "used up",
        "problem_type": "https://claw.ai/problems/quota-exceeded",
        "retry_after": 60,
        "quota_tokens": 5,
        "conversation_id": "c",
    }


def test_a_valid_chat_frame_parses() -> None:
    action = parse_chat_action(json.dumps({"action": "chat", "conversation_id": "abc", "message": "hi", "extra": 1}))
    assert isinstance(action, ChatAction) and action.top_k == 5 and action.knowledge_base_id is None


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"action": "chat", "conversation_id": "abc", "message": "  "}, ["message"]),
        ({"action": "chat", "conversation_id": "abc", "message": "x" * 8001}, ["message"]),
        ({"action": "chat", "conversation_id": "c", "message": "hi", "knowledge_base_id": "kb"}, ["knowledge_base_id"]),
        ({"action": "chat", "message": "hi"}, ["conversation_id"]),
        ("not json", ["body"]),
        (None, ["body"]),
    ],
)
def test_bad_chat_frames_are_422_without_echoing_the_input(body: Any, loc: list[str]) -> None:
    raw = body if body is None or isinstance(body, str) else json.dumps(body)
    with pytest.raises(ValidationFailed) as failed:
        parse_chat_action(raw)
    errors = failed.value.extra["errors"]
    assert errors[0]["loc"] == loc
    assert "x" * 50 not in failed.value.detail and "input" not in errors[0]


def test_a_streamed_answer_may_use_the_streaming_functions_whole_timeout() -> None:
    from chat_app.ws import _deadline_s

    class Context:
        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 180_000

    model_s, close_s = _deadline_s(Context())
    # Not the REST call's 25 s: the WebSocket path is bounded by its own function timeout.
    assert model_s == 177.0 and close_s == 179.5
