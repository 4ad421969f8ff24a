"""The REST API's REQUEST authorizer: bearer access token or API key -> IAM policy + context.

It runs before every request whose verdict API Gateway has not cached, so it stays small:
no FastAPI, no pydantic, no settings model, no ``claw_common.observability`` and no Powertools
(importing its package loads Logger, Metrics and Tracer): ``authorizer_app.log`` writes the
same JSON lines with the standard library, the one exception to "one module creates the
logger". The principal's cached state is read with ``claw_common.data.resp`` (GET and SET
over a socket: importing redis-py would cost more than the rest of this function's cold
start). Each request imports only what it needs, when it first needs it: psycopg only when
the cache misses or for API keys, boto3 only on AWS without the secrets extension (the signing
keys' secret, ``claw_common.secrets_extension``); access tokens are verified with joserfc's
HS256 parts alone (``claw_common.auth.jws_hs256``), no RSA/EC/x509.

Credentials (the identity source is the ``Authorization`` header, see docs/auth.md):

* ``Authorization: Bearer <access token>`` - a JWT from ``/auth/login`` or ``/auth/refresh``;
* ``Authorization: Bearer <API key>`` or ``Authorization: ApiKey <API key>``;
* ``X-API-Key: <API key>`` - only read when no ``Authorization`` header was sent, which
  API Gateway allows only when the authorizer's cache is off. With the cache on, the
  verdict is cached under the Authorization value alone, so any other header must not
  influence it (one client's verdict would be served to another);
* WebSocket ``$connect``: the ``token`` query parameter (access token, API key or a visitor
  session token of an assistant), the identity source of the WebSocket API's authorizer.
  A visitor token yields a context without ``user_id`` (see :func:`visitor_principal`);
  on every REST route a visitor token is refused (401).

The policy allows ``arn:aws:execute-api:{region}:{account}:{api}/{stage}/*``: API Gateway
reuses a cached verdict for every route, so a policy naming only the first route would
answer 403 on the next one. Which routes a caller may use is decided by the functions
(``require_admin``), which also re-check that the caller is still active.

Invalid credentials raise ``Exception("Unauthorized")``: that exact message is how a Lambda
authorizer makes API Gateway answer 401. Any other failure (database down) answers 500 and
is not cached.
"""

from __future__ import annotations

import hmac
import os
import re
import time
from functools import lru_cache
from typing import Any

from authorizer_app.config import AuthorizerConfig
from authorizer_app.log import JsonLogger
from claw_common.auth import tokens, visitor_tokens
from claw_common.data import resp
from claw_common.data.breaker import CircuitBreaker
from claw_common.data.credentials import DatabaseCredentials, connect_with_rotation
from claw_common.http.client_ip import event_source_ip

logger = JsonLogger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "authorizer")

MAX_HEADER_LENGTH = tokens.MAX_TOKEN_LENGTH + 16
_METHOD_ARN = re.compile(r"^(arn:aws[a-z-]*:execute-api:[a-z0-9-]+:\d{12}:[A-Za-z0-9]+)/([A-Za-z0-9_-]+)/")
# Update api_keys.last_used_at at most this often per key (a write per request would be waste).
LAST_USED_RESOLUTION_S = 60


class Denied(Exception):
    """Credentials refused; the reason goes to the log only."""


@lru_cache(maxsize=1)
def config() -> AuthorizerConfig:
    """Environment values, read once per execution environment."""
    return AuthorizerConfig.from_env()


@lru_cache(maxsize=1)
def _secretsmanager() -> Any:
    """The Parameters and Secrets extension where the deployment attached it (no boto3 import at a
    cold start, see ``claw_common.secrets_extension``), else a boto3 client."""
    from claw_common.secrets_extension import ExtensionSecrets

    extension = ExtensionSecrets.from_env()
    if extension is not None:
        return extension
    import boto3

    cfg = config()
    return boto3.client("secretsmanager", region_name=cfg.aws_region, endpoint_url=cfg.aws_endpoint_url)


@lru_cache(maxsize=1)
def key_ring_source() -> tokens.KeyRingSource:
    """The signing keys, fetched at the first token (Secrets Manager on AWS), again after a rotation."""
    cfg = config()
    return tokens.KeyRingSource(lambda: tokens.load_key_ring(cfg.jwt_signing_keys, cfg.jwt_secret_arn, _secretsmanager))


def key_ring() -> tokens.KeyRing:
    """The signing keys this container verifies with."""
    return key_ring_source().ring()


# ---------------------------------------------------------------- adapters (one of each per container)


class Database:
    """One psycopg connection reused across warm invocations; reconnects once on failure.

    The URL comes from ``DatabaseCredentials``: on AWS the database secret, read at the first
    connection and re-read once when a connection fails after a rotation.
    """

    def __init__(self, credentials: DatabaseCredentials, statement_timeout_ms: int) -> None:
        self.credentials = credentials
        self.statement_timeout_ms = statement_timeout_ms
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        from claw_common.data.deadline import DeadlineConnection, deadline_for

        def connect(url: str) -> Any:
            conn = DeadlineConnection.connect(
                url,
                autocommit=True,
                connect_timeout=2,
                application_name="claw-authorizer",
                options=f"-c statement_timeout={int(self.statement_timeout_ms)}",
            )
            # Client-side too: a hung server must not hold the authorizer past its 5 s.
            conn.deadline_s = deadline_for(self.statement_timeout_ms)
            return conn

        return connect_with_rotation(self.credentials, connect, (psycopg.OperationalError,))

    def fetchone(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        import psycopg

        from claw_common.data.deadline import DatabaseDeadlineExceeded

        for attempt in (1, 2):
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = self._connect()
                return self._conn.execute(sql, params).fetchone()
            except DatabaseDeadlineExceeded:
                # A hung server, not a dead connection: reconnecting would only wait again.
                self._conn = None
                raise
            except (psycopg.OperationalError, psycopg.InterfaceError):
                # A connection that died while the container was frozen: reconnect once.
                if self._conn is not None:
                    try:
                        self._conn.close()
                    except Exception:  # noqa: BLE001, S110 - closing a broken connection
                        pass
                self._conn = None
                if attempt == 2:
                    raise
        return None


@lru_cache(maxsize=1)
def database() -> Database:
    cfg = config()
    credentials = DatabaseCredentials(
        cfg.database_url, cfg.database_secret_arn, _secretsmanager, host_override=cfg.database_host
    )
    return Database(credentials, cfg.db_statement_timeout_ms)


@lru_cache(maxsize=1)
def cache() -> resp.RespClient:
    """The principals' cache: GET/SET only, so RESP by hand rather than redis-py (see ``claw_common.data.resp``)."""
    cfg = config()
    breaker = CircuitBreaker(
        "redis", failure_threshold=resp.FAILURE_THRESHOLD, reset_timeout_s=resp.OPEN_S, on_open=_log_open
    )
    return resp.RespClient(cfg.redis_url, cfg.redis_timeout_s, breaker=breaker)


def _log_open(breaker: CircuitBreaker) -> None:
    logger.warning(
        "redis circuit opened: commands fail at once (the database answers)",
        extra={"circuit": breaker.name, "open_s": breaker.reset_timeout_s},
    )


def _cache_get(key: str) -> dict[str, Any] | None:
    try:
        return tokens.decode_state(cache().get(key))
    except resp.CacheError:
        logger.warning("cache unavailable; asking the database", extra={"cache_key": key.split(":")[2]})
        return None


def _cache_set(key: str, state: dict[str, Any], ttl: int) -> None:
    try:
        cache().set(key, tokens.encode_state(state), ex=ttl)
    except resp.CacheError:
        pass


# ---------------------------------------------------------------- principals


def user_state(user_id: str) -> dict[str, Any]:
    """``{"active", "role", "tier"}`` of a user: Redis (~30 s, shared with the APIs), else the database."""
    key = tokens.user_state_key(user_id)
    state = _cache_get(key)
    if state is None:
        row = database().fetchone("SELECT role, tier, is_active FROM users WHERE id = %s", (user_id,))
        state = {"active": False} if row is None else {"active": bool(row[2]), "role": row[0], "tier": row[1]}
        _cache_set(key, state, tokens.PRINCIPAL_CACHE_TTL_S)
    return state


def api_key_principal(key: str) -> tuple[str, str]:
    """(key id, user id) of an active API key, or ``Denied``."""
    key_hash = tokens.sha256_hex(key)
    lookup_key = tokens.api_key_lookup_key(key_hash)
    found = _cache_get(lookup_key)
    if found is None:
        row = database().fetchone(
            "SELECT id::text, user_id::text, key_hash FROM api_keys WHERE key_hash = %s", (key_hash,)
        )
        if row is None:
            raise Denied("unknown api key")
        # The hash is the index lookup; compare once more in constant time for good measure.
        if not hmac.compare_digest(row[2], key_hash):
            raise Denied("unknown api key")
        found = {"id": row[0], "user_id": row[1]}
        _cache_set(lookup_key, found, tokens.API_KEY_LOOKUP_TTL_S)
    key_id, user_id = str(found.get("id")), str(found.get("user_id"))

    state_key = tokens.api_key_state_key(key_id)
    state = _cache_get(state_key)
    if state is None:
        row = database().fetchone("SELECT user_id::text, revoked_at IS NULL FROM api_keys WHERE id = %s", (key_id,))
        state = {"active": False} if row is None else {"active": bool(row[1]), "user_id": row[0]}
        _cache_set(state_key, state, tokens.PRINCIPAL_CACHE_TTL_S)
    if not state.get("active") or state.get("user_id") != user_id:
        raise Denied("api key revoked")
    _touch_api_key(key_id)
    return key_id, user_id


def _touch_api_key(key_id: str) -> None:
    """Record when the key was last used, at most once a minute per key."""
    try:
        first = cache().set(f"claw:auth:apikey-used:{key_id}", b"1", nx=True, ex=LAST_USED_RESOLUTION_S)
    except resp.CacheError:
        return
    if first:
        database().fetchone("UPDATE api_keys SET last_used_at = now() WHERE id = %s RETURNING 1", (key_id,))


# ---------------------------------------------------------------- the verdict


def _header(event: dict[str, Any], name: str) -> str | None:
    """A header's single value, case-insensitively; ``Denied`` when it is sent more than once."""
    wanted = name.lower()
    multi = event.get("multiValueHeaders") or {}
    values = [v for k, vs in multi.items() if k.lower() == wanted for v in (vs or [])]
    if len(values) > 1:
        raise Denied(f"{name} sent more than once")
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return value if isinstance(value, str) else None
    return values[0] if values else None


def _websocket_token(event: dict[str, Any]) -> tuple[str, str]:
    """The ``token`` query parameter of a WebSocket ``$connect`` (browsers cannot set headers
    on a WebSocket handshake); it is that authorizer's identity source, so nothing else is read."""
    values = (event.get("multiValueQueryStringParameters") or {}).get("token") or []
    if len(values) > 1:
        raise Denied("token sent more than once")
    token = str((event.get("queryStringParameters") or {}).get("token") or "").strip()
    if not token or len(token) > tokens.MAX_TOKEN_LENGTH or not token.isascii():
        raise Denied("missing or oversized websocket token")
    if token.startswith(tokens.API_KEY_PREFIX):
        if not tokens.looks_like_api_key(token):
            raise Denied("malformed api key")
        return "api_key", token
    return "jwt", token


def credentials(event: dict[str, Any]) -> tuple[str, str]:
    """(kind, secret) from the request: kind is ``jwt`` or ``api_key``."""
    if (event.get("requestContext") or {}).get("eventType") == "CONNECT":
        return _websocket_token(event)
    authorization = _header(event, "Authorization")
    if authorization is None:
        api_key = _header(event, "X-API-Key")
        if api_key is None:
            raise Denied("no credentials")
        api_key = api_key.strip()
        if not tokens.looks_like_api_key(api_key):
            raise Denied("malformed api key")
        return "api_key", api_key
    if len(authorization) > MAX_HEADER_LENGTH or not authorization.isascii():
        raise Denied("oversized or non-ascii authorization header")
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if not value or " " in value:
        raise Denied("malformed authorization header")
    scheme = scheme.lower()
    if scheme == "apikey" or (scheme == "bearer" and value.startswith(tokens.API_KEY_PREFIX)):
        if not tokens.looks_like_api_key(value):
            raise Denied("malformed api key")
        return "api_key", value
    if scheme == "bearer":
        return "jwt", value
    raise Denied("unsupported authorization scheme")


def visitor_principal(event: dict[str, Any], token: str) -> dict[str, str]:
    """The context of a visitor session token on a WebSocket ``$connect``, or ``Denied``.

    It carries no ``user_id``: every API that reads the caller finds none and refuses, so the
    connection can only be used for the ``visitor_chat`` action of the token's assistant (the
    assistants function checks the assistant on every frame). A token bound to an origin is
    accepted only from a page of that origin.
    """
    try:
        claims = visitor_tokens.verify_visitor_token(key_ring(), token, issuer=config().jwt_issuer)
    except tokens.TokenError as exc:
        raise Denied(str(exc)) from exc
    if claims.origin and _header(event, "Origin") != claims.origin:
        raise Denied("visitor token used from another origin")
    return {
        "auth_method": "visitor",
        "visitor_id": claims.visitor_id,
        "assistant": claims.assistant,
        "conversation_id": claims.conversation_id,
        "origin": claims.origin,
        "expires_at": str(claims.exp),
    }


def authenticate(event: dict[str, Any]) -> dict[str, str]:
    """The authorizer context for a request's credentials, or ``Denied``."""
    kind, secret = credentials(event)
    api_key_id = ""
    if kind == "jwt" and visitor_tokens.token_audience(secret) == visitor_tokens.VISITOR_AUDIENCE:
        # Visitor session tokens open a WebSocket for one assistant's chat and nothing else:
        # the REST API's public assistant routes verify them in the function, without this
        # authorizer, so on any route that reaches it they are refused.
        if (event.get("requestContext") or {}).get("eventType") != "CONNECT":
            raise Denied("visitor token on a route for account holders")
        return visitor_principal(event, secret)
    if kind == "jwt":
        cfg = config()
        try:
            claims = key_ring_source().verify(secret, issuer=cfg.jwt_issuer, audience=cfg.jwt_audience)
        except tokens.TokenError as exc:
            raise Denied(str(exc)) from exc
        user_id = claims.sub
    else:
        api_key_id, user_id = api_key_principal(secret)
    state = user_state(user_id)
    if not state.get("active"):
        raise Denied("user disabled or missing")
    return {
        "user_id": user_id,
        "role": str(state.get("role") or "user"),
        "tier": str(state.get("tier") or "free"),
        "auth_method": kind,
        "api_key_id": api_key_id,
    }


def api_wide_resource(method_arn: str) -> str:
    """``arn:...:{api}/{stage}/*`` from the method ARN of the request being authorized."""
    match = _METHOD_ARN.match(method_arn or "")
    if match is None:
        raise Denied("unexpected methodArn")
    return f"{match.group(1)}/{match.group(2)}/*"


def policy(principal_id: str, resource: str, context: dict[str, str]) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}],
        },
        "context": context,
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway REQUEST authorizer entry point."""
    started = time.perf_counter()
    try:
        resource = api_wide_resource(str(event.get("methodArn") or ""))
        principal = authenticate(event)
    except Denied as denied:
        request_context = event.get("requestContext") or {}
        logger.info(
            "denied",
            extra={
                "reason": str(denied),
                "request_id": request_context.get("requestId"),
                "source_ip": event_source_ip(event),
            },
        )
        raise Exception("Unauthorized") from None
    principal_id = principal.get("user_id") or f"visitor:{principal['visitor_id']}"
    logger.info(
        "allowed",
        extra={
            "user_id": principal.get("user_id"),
            "visitor_id": principal.get("visitor_id"),
            "auth_method": principal["auth_method"],
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )
    return policy(principal_id, resource, principal)
