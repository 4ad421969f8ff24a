"""Frames back to a WebSocket client through the API Gateway management API (``post_to_connection``).

* :func:`management_client` — one boto3 ``apigatewaymanagementapi`` client per endpoint URL
  (created on first use, reused by a warm Lambda).
* :func:`management_endpoint` — ``WEBSOCKET_MANAGEMENT_URL`` when set (the local gateway),
  else ``https://{domainName}/{stage}`` from the event, as on AWS.
* :class:`ConnectionPusher` — posts JSON frames to one connection; a client that went away
  (``GoneException``, HTTP 410) is remembered and nothing more is posted, without an error.
* :func:`error_frame` — an ``error`` frame with the problem+json fields of an exception.
* :class:`FrameStream` — the frames of one streamed answer, posted in order from a
  background thread so that reading the model's stream never waits for a post; tiny deltas
  are batched for at most ``max_wait_s`` (or until ``min_width`` columns of text are buffered).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import UUID

from claw_common.errors import ClawError
from claw_common.observability import logger, tracer
from claw_common.settings import get_settings

DELTA_MAX_WAIT_S = 0.05
"""Longest time a piece of text waits for more before it is posted."""
DELTA_MIN_WIDTH = 24
"""A batch at least this wide (display columns: a CJK character counts 2) is posted at once.

Models stream a few characters every few tens of milliseconds, so the wait is what usually
ends a batch; the width matters for text that is all there at once (the offline provider, a
cached answer), which still reaches the client in pieces of a few words."""


@lru_cache(maxsize=8)
def management_client(endpoint_url: str) -> Any:
    """The ``apigatewaymanagementapi`` client of ``endpoint_url`` (boto3 imported on first use)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        region_name=get_settings().aws_region,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=5),
    )


def management_endpoint(request_context: dict[str, Any]) -> str:
    """Where frames for this event's connection are posted."""
    override = get_settings().websocket_management_url
    if override:
        return override.rstrip("/")
    return f"https://{request_context['domainName']}/{request_context['stage']}"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_frame(frame: dict[str, Any]) -> bytes:
    """A frame as the UTF-8 JSON text the client receives."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode()


def error_frame(exc: ClawError, **extra: Any) -> dict[str, Any]:
    """An ``error`` frame: the problem+json fields of ``exc`` (``problem_type`` is its ``type`` URI)."""
    frame: dict[str, Any] = {
        "type": "error",
        "status": exc.status,
        "title": exc.title,
        "detail": exc.detail,
        "problem_type": exc.type,
    }
    retry_after = exc.headers.get("Retry-After")
    if retry_after is not None:
        frame["retry_after"] = int(retry_after)
    for key, value in {**exc.extra, **extra}.items():
        frame.setdefault(key, value)
    return frame


class ConnectionPusher:
    """Posts frames to one connection; stops quietly once the client is gone."""

    def __init__(self, client: Any, connection_id: str) -> None:
        self._client = client
        self.connection_id = connection_id
        self.gone = False
        """The client closed the connection (GoneException): nothing more can reach it."""
        self.failed = False
        """Posting failed otherwise; later frames are dropped so the client never sees a gap in the text."""
        self.posted = 0

    @property
    def open(self) -> bool:
        return not (self.gone or self.failed)

    def post(self, frame: dict[str, Any]) -> bool:
        """Send ``frame``; False (never an exception) when it could not be delivered."""
        if not self.open:
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.post_to_connection(ConnectionId=self.connection_id, Data=encode_frame(frame))
        except ClientError as exc:
            code = (exc.response.get("Error") or {}).get("Code")
            if code == "GoneException":
                # The client disconnected mid-answer: an ordinary event, not an error.
                self.gone = True
                logger.info("websocket client went away", extra={"connection_id": self.connection_id})
            else:
                self.failed = True
                logger.warning("websocket frame not delivered", extra={"error": code, "frames_posted": self.posted})
            return False
        except BotoCoreError as exc:
            self.failed = True
            logger.warning(
                "websocket frame not delivered", extra={"error": type(exc).__name__, "frames_posted": self.posted}
            )
            return False
        self.posted += 1
        return True


_END = object()


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class FrameStream:
    """The frames of one answer, posted in order by a background thread.

    ``delta(text)`` may be called as fast as the model produces text; consecutive pieces
    are joined into one ``{"type": "delta"}`` frame until ``min_width`` columns of text are
    buffered or the oldest has waited ``max_wait_s``. ``frame(...)`` queues any other frame
    behind the text; :meth:`close` waits until everything is posted (a Lambda is frozen once
    the handler returns, so nothing may be left in flight).
    """

    def __init__(
        self,
        pusher: ConnectionPusher,
        *,
        max_wait_s: float = DELTA_MAX_WAIT_S,
        min_width: int = DELTA_MIN_WIDTH,
    ) -> None:
        self.pusher = pusher
        self.max_wait_s = max_wait_s
        self.min_width = min_width
        self.delta_frames = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._trace_entity = _current_trace_entity()
        self._thread = threading.Thread(target=self._run, name="ws-frames", daemon=True)
        self._thread.start()

    def delta(self, text: str) -> None:
        """Queue a piece of answer text (never blocks, never raises)."""
        if text:
            self._queue.put(text)

    def frame(self, frame: dict[str, Any]) -> None:
        """Queue a frame after the text queued so far."""
        self._queue.put(frame)

    def close(self, timeout_s: float = 10.0) -> None:
        """Post what is queued and stop the thread (waits at most ``timeout_s``)."""
        self._queue.put(_END)
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("websocket frames still being posted when the answer ended")

    # ------------------------------------------------------------------ the sender thread
    def _run(self) -> None:
        _adopt_trace_entity(self._trace_entity)
        pending: Any = None
        while True:
            item = pending if pending is not None else self._queue.get()
            pending = None
            if item is _END:
                return
            if isinstance(item, str):
                text, pending = self._batch(item)
                self.delta_frames += 1
                self._post({"type": "delta", "text": text})
            else:
                self._post(item)

    def _batch(self, first: str) -> tuple[str, Any]:
        """``first`` plus the pieces that follow within the wait; also the next non-text item, if taken."""
        parts = [first]
        size = display_width(first)
        until = time.monotonic() + self.max_wait_s
        while size < self.min_width:
            left = until - time.monotonic()
            if left <= 0:
                break
            try:
                item = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if not isinstance(item, str):
                return "".join(parts), item
            parts.append(item)
            size += display_width(item)
        return "".join(parts), None

    def _post(self, frame: dict[str, Any]) -> None:
        try:
            self.pusher.post(frame)
        except Exception:  # noqa: BLE001 - the thread must keep draining the queue whatever happens
            self.pusher.failed = True
            logger.warning("websocket frame could not be encoded or posted", extra={"frame_type": frame.get("type")})


def _current_trace_entity() -> Any:
    # X-Ray keeps the current segment per thread; the sender thread needs the handler's one,
    # or every post_to_connection would log "cannot find the current segment".
    if tracer.disabled:
        return None
    try:
        from aws_xray_sdk.core import xray_recorder

        return xray_recorder.get_trace_entity()
    except Exception:  # noqa: BLE001 - tracing must never break an answer
        return None


def _adopt_trace_entity(entity: Any) -> None:
    if entity is None:
        return
    try:
        from aws_xray_sdk.core import xray_recorder

        xray_recorder.set_trace_entity(entity)
    except Exception:  # noqa: BLE001 - tracing must never break an answer
        return
