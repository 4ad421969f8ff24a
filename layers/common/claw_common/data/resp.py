"""A small Redis/Valkey client for the authorizer: GET and SET over one connection, standard library only.

Why not redis-py: the authorizer runs before every request API Gateway has not cached, and
``import redis`` alone costs more than the rest of its cold start (~75 ms on the benchmark
machine: its package imports the asyncio client, the cluster client and their dependencies,
see benchmarks/results/latest.md). The authorizer needs two commands, ``GET`` and
``SET [EX] [NX]``, on keys the API functions write with redis-py (``claw:auth:*``); RESP, the
protocol, is a few lines for that. Every other function uses redis-py
(``claw_common.data.redis_client``).

It behaves like ``redis_client.guarded_redis`` on the failures that matter:

* deadlines: connect and each command's reply within ``timeout_s`` (``REDIS_TIMEOUT_S``);
* a refused or reset connection is retried once at once on a new connection (it heals a
  connection the server closed while the environment was frozen); a timeout is not retried;
* the same circuit breaker: two consecutive failed commands open it and commands then fail
  at once with :class:`CacheUnavailable` for 5 s;
* an error reply (``WRONGTYPE``, ``OOM``) raises :class:`CacheReplyError`: the server is alive.

URLs: ``redis://`` or ``rediss://`` (TLS, certificates verified, as ElastiCache serves),
``host[:port]``, an optional ``/db`` and optional ``user:password@`` (``AUTH`` on connect).
Replies are RESP2 (no ``HELLO``). Not thread-safe: the authorizer handles one event at a time.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from claw_common.data.breaker import CircuitBreaker

FAILURE_THRESHOLD = 2
OPEN_S = 5.0
DEFAULT_PORT = 6379
# A reply larger than this is not a value the authorizer stores (its values are ~100 bytes).
MAX_BULK = 1 << 20


class CacheError(Exception):
    """The cache did not give an answer."""


class CacheUnavailable(CacheError):
    """No answer: refused, reset, timed out, or the circuit is open."""


class CacheReplyError(CacheError):
    """The server answered with an error (it is alive)."""


Reply = bytes | int | list[Any] | None


def encode_command(*args: str | bytes | int) -> bytes:
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_reply(readline: Callable[[], bytes], read: Callable[[int], bytes]) -> Reply:
    """One RESP2 reply: simple string, error, integer, bulk string or array."""
    line = readline()
    if not line.endswith(b"\r\n"):
        raise CacheUnavailable("connection closed in the middle of a reply")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body
    if kind == b"-":
        raise CacheReplyError(body.decode(errors="replace"))
    if kind == b":":
        return int(body)
    if kind == b"$":
        size = int(body)
        if size < 0:
            return None
        if size > MAX_BULK:
            raise CacheUnavailable(f"bulk reply of {size} bytes refused")
        data = read(size + 2)
        if len(data) != size + 2:
            raise CacheUnavailable("connection closed in the middle of a reply")
        return data[:-2]
    if kind == b"*":
        count = int(body)
        return None if count < 0 else [read_reply(readline, read) for _ in range(count)]
    raise CacheUnavailable(f"unexpected reply type {kind!r}")


class RespClient:
    """``get`` and ``set`` against one server (see the module docstring)."""

    def __init__(self, url: str, timeout_s: float, *, breaker: CircuitBreaker | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss") or not parts.hostname:
            raise ValueError("a redis:// or rediss:// URL with a host is needed")
        self.host = parts.hostname
        self.port = parts.port or DEFAULT_PORT
        self.tls = parts.scheme == "rediss"
        path = parts.path.strip("/")
        self.db = int(path) if path else 0
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout_s = timeout_s
        self.breaker = breaker or CircuitBreaker("redis", failure_threshold=FAILURE_THRESHOLD, reset_timeout_s=OPEN_S)
        self._sock: socket.socket | None = None
        self._file: Any = None

    # ------------------------------------------------------------------ commands

    def get(self, key: str) -> bytes | None:
        reply = self.execute("GET", key)
        return reply if isinstance(reply, bytes) else None

    def set(self, key: str, value: bytes | str, *, ex: int | None = None, nx: bool = False) -> bool:
        """True when the value was set (with ``nx``: False when the key already existed)."""
        args: list[str | bytes | int] = ["SET", key, value]
        if ex is not None:
            args += ["EX", int(ex)]
        if nx:
            args.append("NX")
        return self.execute(*args) == b"OK"

    def execute(self, *args: str | bytes | int) -> Reply:
        """Send one command and read its reply, through the circuit breaker."""
        if not self.breaker.allow():
            raise CacheUnavailable(f"circuit open for {self.breaker.retry_after_s():.1f}s more")
        try:
            reply = self._with_one_retry(encode_command(*args))
        except CacheReplyError:
            self.breaker.record_success()
            raise
        except CacheUnavailable:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return reply

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = self._file = None

    # ------------------------------------------------------------------ the connection

    def _with_one_retry(self, command: bytes) -> Reply:
        try:
            try:
                return self._round_trip(command)
            except (ConnectionError, CacheUnavailable):
                # Refused, reset or closed (not a timeout): once more on a new connection.
                return self._round_trip(command)
        except OSError as exc:  # timeouts, unreachable hosts, TLS failures, the retry's failure
            raise CacheUnavailable(str(exc) or type(exc).__name__) from exc

    def _round_trip(self, command: bytes) -> Reply:
        if self._sock is None:
            self._connect()
        assert self._sock is not None and self._file is not None
        try:
            self._sock.sendall(command)
            return read_reply(self._file.readline, self._file.read)
        except CacheReplyError:
            raise
        except ValueError as exc:  # not RESP: nothing on this connection can be trusted
            self.close()
            raise CacheUnavailable("malformed reply") from exc
        except BaseException:
            # A timeout or reset leaves the stream mid-reply: never reuse it.
            self.close()
            raise

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls:
                import ssl

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            self._sock, self._file = sock, sock.makefile("rb")
            if self.password is not None:
                auth = ("AUTH", self.username, self.password) if self.username else ("AUTH", self.password)
                read = self._round_trip(encode_command(*auth))
                if read != b"OK":
                    raise CacheUnavailable("AUTH refused")
            if self.db:
                self._round_trip(encode_command("SELECT", self.db))
        except BaseException:
            self.close()
            sock.close()
            raise


__all__ = [
    "CacheError",
    "CacheReplyError",
    "CacheUnavailable",
    "RespClient",
    "encode_command",
    "read_reply",
]
