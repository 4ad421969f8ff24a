"""A local fake of Zhipu's HTTP API (``https://open.bigmodel.cn/api/paas/v4/``) for tests.

It speaks the wire format the ``zhipuai`` SDK expects, so tests run the real SDK against it:

* ``POST /api/paas/v4/chat/completions``: a JSON completion, or with ``"stream": true`` SSE
  ``data: {chunk}`` lines with ``choices[0].delta.content``, a final chunk with
  ``finish_reason`` and ``usage``, then ``data: [DONE]``.
* ``POST /api/paas/v4/embeddings``: deterministic unit vectors per input text, honouring
  ``dimensions`` (256/512/1024/2048, default 2048), at most 64 inputs.

Auth: ``Authorization: Bearer <api_key>`` (the SDK's default) or ``Bearer <JWT>`` signed with
the key's secret (the SDK's token mode, key ``id.secret``). Anything else gets 401 with code 1000.

Replies are derived from the request (:meth:`ZhipuFake.reply_for`) so tests can predict them.
Failures are scripted per test: ``fail_next(status=429, code="1302", times=2)``,
``reply_next("[NO_ANSWER]")`` (a chosen reply),
``delay_next(seconds=3)`` (or ``after_chunks=1`` to stall a stream midway). Every request is
recorded in ``fake.requests`` (path, parsed body, headers) so a test can assert what was sent,
or that nothing was.

Usage::

    @pytest.fixture
    def zhipu():
        with ZhipuFake() as fake:
            yield fake

    ZhipuAI(api_key=zhipu.api_key, base_url=zhipu.base_url)
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_PREFIX = "/api/paas/v4"
DEFAULT_API_KEY = "fakekeyid0001.fakesecret0001"
EMBEDDING_DIMENSIONS = (256, 512, 1024, 2048)
MAX_EMBEDDING_INPUTS = 64
STREAM_PIECE_CHARS = 8

_DEFAULT_MESSAGES = {
    "1000": "身份验证失败。",
    "1214": "参数非法。请检查文档。",
    "1261": "Prompt 超长",
    "1301": "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，感谢您的配合。",
    "1302": "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。",
    "1303": "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。",
    "1304": "该API已达今日调用次数限额，如有更多需求，请联系客服购买。",
    "1305": "当前API请求过多，请稍后重试。",
    "500": "服务内部错误，请稍后重试。",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received (recorded before any scripted failure or delay)."""

    method: str
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class _Script:
    """A scripted behaviour for the next ``times`` matching requests."""

    times: int
    path: str | None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    after_chunks: int = 0
    stream_error: bool = False

    def matches(self, path: str) -> bool:
        return self.path is None or path.endswith(self.path)


class ZhipuFake:
    """Threaded local HTTP fake of the Zhipu API on 127.0.0.1 (free port unless given)."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, *, port: int = 0) -> None:
        self.api_key = api_key
        self._port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._failures: deque[_Script] = deque()
        self._delays: deque[_Script] = deque()
        self._requests: list[RecordedRequest] = []
        self._replies: deque[str] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.omit_stream_usage = False
        """When True, streams end without ``usage`` (tests the client's local counting)."""

    # ------------------------------------------------------------ lifecycle

    def start(self) -> ZhipuFake:
        """Start serving in a background thread; returns self."""
        fake = self

        class Handler(_Handler):
            owner = fake

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="zhipu-fake", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; pending delays end at once."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> ZhipuFake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "fake not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's ``base_url``."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    # ------------------------------------------------------------ scripting and inspection

    def fail_next(
        self,
        status: int = 429,
        code: str | None = "1302",
        *,
        message: str | None = None,
        times: int = 1,
        path: str | None = None,
        retry_after: float | None = None,
        in_stream: bool = False,
    ) -> None:
        """Answer the next ``times`` requests (to ``path``, e.g. ``"/chat/completions"``, or any) with an error.

        The body is Zhipu's ``{"error": {"code", "message"}}``. ``retry_after`` adds that header.
        ``in_stream=True`` makes a streaming request start normally (HTTP 200) and then send an
        error event after its first chunk, as Zhipu does when content is flagged mid-answer.
        """
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        with self._lock:
            self._failures.append(_Script(times, path, status, code, message, headers=headers, stream_error=in_stream))

    def delay_next(self, seconds: float, *, times: int = 1, path: str | None = None, after_chunks: int = 0) -> None:
        """Delay the next ``times`` requests by ``seconds`` before answering them normally.

        With ``after_chunks=n`` a streaming reply stalls after its first ``n`` chunks instead.
        """
        with self._lock:
            self._delays.append(_Script(times, path, delay_s=seconds, after_chunks=after_chunks))

    def reply_next(self, text: str, *, times: int = 1) -> None:
        """Answer the next ``times`` chat requests with ``text`` instead of the derived reply."""
        with self._lock:
            self._replies.extend([text] * times)

    def _scripted_reply(self) -> str | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def reset(self) -> None:
        """Forget scripted behaviour and recorded requests."""
        with self._lock:
            self._replies.clear()
            self._failures.clear()
            self._delays.clear()
            self._requests.clear()
        self.omit_stream_usage = False

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path ends with ``path`` (e.g. ``"/chat/completions"``)."""
        return [r for r in self.requests if r.path.endswith(path)]

    # ------------------------------------------------------------ deterministic content

    @staticmethod
    def reply_for(body: dict[str, Any]) -> str:
        """The assistant reply the fake gives to a chat request body (before ``max_tokens``)."""
        messages = body.get("messages") or []
        last_user = next(
            (
                str(m.get("content") or "")
                for m in reversed(messages)
                if isinstance(m, dict) and m.get("role") == "user"
            ),
            "",
        )
        summary = " ".join(last_user.split())[:80]
        return f"[{body.get('model')}] You said: {summary} ({len(messages)} messages)"

    @staticmethod
    def embedding_for(text: str, dimensions: int) -> list[float]:
        """The unit vector the fake returns for ``text`` (stable across runs and processes)."""
        values: list[float] = []
        counter = 0
        while len(values) < dimensions:
            digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
            values.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", digest))
            counter += 1
        values = values[:dimensions]
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return [v / norm for v in values]

    @staticmethod
    def tokens_of(text: str) -> int:
        """The fake's token count: one per CJK character or per 4 other characters (deterministic)."""
        cjk = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
        return cjk + math.ceil((len(text) - cjk) / 4)

    # ------------------------------------------------------------ internals used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take(self, queue: deque[_Script], path: str) -> _Script | None:
        with self._lock:
            for script in queue:
                if script.matches(path):
                    script.times -= 1
                    if script.times <= 0:
                        queue.remove(script)
                    return script
        return None

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :].strip()
        if token == self.api_key:
            return True
        if token.count(".") != 2 or "." not in self.api_key:
            return False
        key_id, secret = self.api_key.split(".", 1)
        try:
            import jwt

            claims = jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False})
        except Exception:
            return False
        # The SDK's token carries its expiry in milliseconds, which PyJWT's own check would misread.
        return claims.get("api_key") == key_id and int(claims.get("exp", 0)) > time.time() * 1000


class _Handler(BaseHTTPRequestHandler):
    owner: ZhipuFake
    server_version = "ZhipuFake/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    # ------------------------------------------------------------ plumbing

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int, code: str, message: str | None = None, headers: dict | None = None) -> None:
        text = message or _DEFAULT_MESSAGES.get(code, HTTPStatus(status).phrase)
        self._send_json(status, {"error": {"code": code, "message": text}}, headers)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the fake stops first; True when the fake is stopping."""
        return self.owner._stopping.wait(seconds) if seconds > 0 else False

    def do_POST(self) -> None:
        try:
            self._handle_post()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout) while we were answering: what slow-response tests want

    def do_GET(self) -> None:
        self._send_error(404, "1222", "API 不存在")

    # ------------------------------------------------------------ routes

    def _handle_post(self) -> None:
        owner = self.owner
        path = self.path.split("?", 1)[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        owner._record(RecordedRequest("POST", path, body, {k.lower(): v for k, v in self.headers.items()}))

        if not owner._authorized(self.headers.get("Authorization")):
            self._send_error(401, "1000")
            return
        failure = owner._take(owner._failures, path)
        delay = owner._take(owner._delays, path)
        streaming = isinstance(body, dict) and body.get("stream") is True
        if delay is not None and not (streaming and delay.after_chunks) and self._wait(delay.delay_s):
            return
        if failure is not None and not (streaming and failure.stream_error):
            self._send_error(
                failure.status or 500, failure.code or str(failure.status), failure.message, failure.headers
            )
            return
        if not isinstance(body, dict):
            self._send_error(400, "1214", "请求体不是合法的 JSON 对象")
            return
        if path == f"{API_PREFIX}/chat/completions":
            self._chat(body, stream_delay=delay if streaming else None, stream_failure=failure)
        elif path == f"{API_PREFIX}/embeddings":
            self._embeddings(body)
        else:
            self._send_error(404, "1222", "API 不存在")

    def _chat(self, body: dict[str, Any], *, stream_delay: _Script | None, stream_failure: _Script | None) -> None:
        messages = body.get("messages")
        if not body.get("model") or not isinstance(messages, list) or not messages:
            self._send_error(400, "1214", "model 与 messages 为必填参数")
            return
        model = str(body["model"])
        scripted = self.owner._scripted_reply()
        content = scripted if scripted is not None else ZhipuFake.reply_for(body)
        finish = "stop"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0 and ZhipuFake.tokens_of(content) > max_tokens:
            content, finish = content[: max_tokens * 4], "length"
        prompt = sum(ZhipuFake.tokens_of(str(m.get("content") or "")) for m in messages if isinstance(m, dict))
        completion = ZhipuFake.tokens_of(content)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        created = int(time.time())
        request_id = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:20]

        if body.get("stream") is not True:
            self._send_json(
                200,
                {
                    "id": request_id,
                    "request_id": request_id,
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}
                    ],
                    "usage": usage,
                },
            )
            return

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=UTF-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()

        def send(payload: Any) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
            self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()

        pieces = [content[i : i + STREAM_PIECE_CHARS] for i in range(0, len(content), STREAM_PIECE_CHARS)]
        for index, piece in enumerate(pieces):
            if stream_delay is not None and index == stream_delay.after_chunks and self._wait(stream_delay.delay_s):
                return
            if stream_failure is not None and index == 1:
                code = stream_failure.code or "500"
                text = stream_failure.message or _DEFAULT_MESSAGES.get(code, "error")
                send({"error": {"code": code, "message": text}})
                return
            delta = {"role": "assistant", "content": piece}
            send({"id": request_id, "created": created, "model": model, "choices": [{"index": 0, "delta": delta}]})
        last: dict[str, Any] = {
            "id": request_id,
            "created": created,
            "model": model,
            "choices": [{"index": 0, "finish_reason": finish, "delta": {"role": "assistant", "content": ""}}],
        }
        if not self.owner.omit_stream_usage:
            last["usage"] = usage
        send(last)
        send("[DONE]")

    def _embeddings(self, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else inputs
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
            self._send_error(400, "1214", "input 必须是非空字符串或非空字符串数组")
            return
        if len(texts) > MAX_EMBEDDING_INPUTS:
            self._send_error(400, "1214", f"input 数组最大不得超过 {MAX_EMBEDDING_INPUTS} 条")
            return
        dimensions = body.get("dimensions") or 2048
        if dimensions not in EMBEDDING_DIMENSIONS:
            self._send_error(400, "1214", f"dimensions 取值须为 {list(EMBEDDING_DIMENSIONS)}")
            return
        prompt = sum(ZhipuFake.tokens_of(t) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "model": str(body.get("model") or "embedding-3"),
                "data": [
                    {"object": "embedding", "index": i, "embedding": ZhipuFake.embedding_for(t, dimensions)}
                    for i, t in enumerate(texts)
                ],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt},
            },
        )
