"""The authorizer Lambda invoked directly with API Gateway's REQUEST event, and the login
IP lockout driven through the gateway from another client address."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import new_user
from tests.support.events import authorizer_event
from tests.support.lambda_context import lambda_context

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def authorizer(platform: Any) -> Any:
    # The same module object the gateway's "container" runs (warm after the first call).
    from authorizer_app import authorizer as module

    return module


def test_a_valid_token_gets_an_api_wide_allow_policy_and_string_context(api: Any, authorizer: Any) -> None:
    user = new_user(api, tier="pro")
    result = authorizer.lambda_handler(
        authorizer_event(f"Bearer {user.access_token}"), lambda_context("authorizer", timeout_s=5, memory_mb=512)
    )
    assert result["principalId"] == user.id
    (statement,) = result["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "execute-api:Invoke"
    # Every route of the stage, so a cached verdict never 403s the next route
    assert statement["Resource"] == "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*"
    context = result["context"]
    assert context == {"user_id": user.id, "role": "user", "tier": "pro", "auth_method": "jwt", "api_key_id": ""}
    assert all(isinstance(v, str) for v in context.values())


@pytest.mark.parametrize("authorization", [None, "Bearer REPLACE_ME", "Bearer " + "a" * 10_000, "Digest x"])
def test_invalid_credentials_raise_unauthorized(authorizer: Any, authorization: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(
            authorizer_event(authorization), lambda_context("authorizer", timeout_s=5, memory_mb=512)
        )


def test_two_authorization_headers_are_refused(api: Any, authorizer: Any) -> None:
    user = new_user(api)
    event = authorizer_event(f"Bearer {user.access_token}")
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {user.access_token}", "Bearer other"]
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(event, lambda_context("authorizer", timeout_s=5, memory_mb=512))


def test_a_malformed_method_arn_is_refused(api: Any, authorizer: Any) -> None:
    user = new_user(api)
    event = authorizer_event(f"Bearer {user.access_token}")
    event["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:*"
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(event, lambda_context("authorizer", timeout_s=5, memory_mb=512))


def test_x_api_key_is_read_only_without_an_authorization_header(api: Any, authorizer: Any) -> None:
    alice, bob = new_user(api), new_user(api)
    bobs_key = api.post("/api/v1/auth/api-keys", json={"name": "b"}, headers=bob.headers).json()["key"]
    # With caching off (no identity source), API Gateway calls the authorizer without Authorization.
    alone = authorizer.lambda_handler(
        authorizer_event(None, **{"x-api-key": bobs_key}), lambda_context("authorizer", timeout_s=5, memory_mb=512)
    )
    assert alone["context"]["user_id"] == bob.id and alone["context"]["auth_method"] == "api_key"
    # With an Authorization header (the cache key), X-API-Key never changes the verdict.
    both = authorizer.lambda_handler(
        authorizer_event(f"Bearer {alice.access_token}", **{"X-API-Key": bobs_key}),
        lambda_context("authorizer", timeout_s=5, memory_mb=512),
    )
    assert both["context"]["user_id"] == alice.id


def test_the_authorizer_refuses_a_disabled_user(api: Any, authorizer: Any) -> None:
    admin, user = new_user(api, admin=True), new_user(api)
    assert (
        authorizer.lambda_handler(
            authorizer_event(f"Bearer {user.access_token}"), lambda_context("authorizer", timeout_s=5, memory_mb=512)
        )["principalId"]
        == user.id
    )
    api.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin.headers)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(
            authorizer_event(f"Bearer {user.access_token}"), lambda_context("authorizer", timeout_s=5, memory_mb=512)
        )


def test_tokens_signed_with_a_rotated_out_key_stay_valid_while_the_ring_has_it(platform: Any) -> None:
    from claw_common.auth.tokens import KeyRing, issue_access_token, parse_key_ring, verify_access_token

    old = parse_key_ring(os.environ["JWT_SIGNING_KEYS"])
    token = issue_access_token(
        old, user_id=str(uuid.uuid4()), role="user", tier="free", issuer="i", audience="a", ttl_s=300
    )
    rotated = parse_key_ring(
        json.dumps({"keys": [{"kid": "next", "secret": "n" * 48}, {"kid": old.current.kid, "secret": "x"}]}).replace(
            '"x"', json.dumps(old.current.secret.decode())
        )
    )
    assert rotated.current.kid == "next"
    assert verify_access_token(rotated, token, issuer="i", audience="a").sub
    with pytest.raises(Exception):  # noqa: B017 - TokenError once the old key is gone
        verify_access_token(KeyRing(rotated.keys[:1]), token, issuer="i", audience="a")


def test_the_authorizer_imports_no_web_framework_or_pydantic() -> None:
    code = (
        "import sys, authorizer_app.authorizer;"
        "bad = [m for m in ('fastapi', 'pydantic', 'pydantic_settings', 'zhipuai', 'starlette',"
        " 'claw_common.settings', 'claw_common.data.db', 'claw_common.http.app') if m in sys.modules];"
        "print(','.join(bad))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/common"), str(ROOT / "functions/authorizer")]),
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_too_many_failures_from_one_ip_lock_logins_from_it(api: Any, platform: Any) -> None:
    from authorizer_app import logic
    from claw_common.data.cache import get_redis

    ctx = logic.auth_context()
    throttle = logic.login_throttle(ctx)
    user = new_user(api)
    client_ip = f"198.51.100.{uuid.uuid4().int % 250 + 1}"

    def login_from(ip: str, email: str, password: str) -> tuple[int, dict[str, str], dict[str, Any]]:
        body = json.dumps({"email": email, "password": password}).encode()
        scope = {
            "type": "http",
            "method": "POST",
            "path": "/api/v1/auth/login",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")],
            "client": (ip, 40000),
        }
        status, headers, payload = platform.gateway.handle(scope, body)
        return status, {k.lower(): v for k, v in headers}, json.loads(payload)

    try:
        # Given failures spread over many accounts (password spraying) from one address,
        # recorded by the real counters (the per-IP rate limit would stop a test sending
        # them all through the gateway within a minute) ...
        assert login_from(client_ip, f"spray-{uuid.uuid4().hex[:6]}@example.com", "Wrong-pass-123")[0] == 401
        for i in range(throttle.per_ip - 1):
            throttle.failed(f"spray-{i}@example.com", client_ip)
        # ... that address is locked, even for a correct password ...
        status, headers, body = login_from(client_ip, user.email, user.password)
        assert status == 429 and int(headers["retry-after"]) > 0
        assert "failed sign-in attempts" in body["detail"]
        # ... but other addresses are not.
        assert login_from("192.0.2.77", user.email, user.password)[0] == 200
    finally:
        get_redis().delete(f"claw:auth:fail:ip:{client_ip}")


def test_websocket_connect_is_authorized_by_its_token_query_parameter_only(api: Any, authorizer: Any) -> None:
    user = new_user(api)
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:wsapi12345/dev/$connect",
        "headers": {"Authorization": "Bearer garbage"},
        "queryStringParameters": {"token": user.access_token},
        "multiValueQueryStringParameters": {"token": [user.access_token]},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "stage": "dev", "apiId": "wsapi12345"},
    }
    result = authorizer.lambda_handler(event, lambda_context("authorizer", timeout_s=5, memory_mb=512))
    assert result["context"]["user_id"] == user.id
    assert result["policyDocument"]["Statement"][0]["Resource"].endswith("wsapi12345/dev/*")
    # A REST request never reads a token from the query string (URLs end up in logs).
    rest = authorizer_event(None)
    rest["queryStringParameters"] = {"token": user.access_token}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(rest, lambda_context("authorizer", timeout_s=5, memory_mb=512))


def _visitor_token(origin: str = "https://shop.example.com") -> str:
    from claw_common.auth.tokens import parse_key_ring
    from claw_common.auth.visitor_tokens import issue_visitor_token

    return issue_visitor_token(
        parse_key_ring(os.environ["JWT_SIGNING_KEYS"]),
        visitor_id=str(uuid.uuid4()),
        assistant="ast_" + "v" * 24,
        conversation_id=str(uuid.uuid4()),
        origin=origin,
        issuer=os.environ.get("JWT_ISSUER") or "https://claw.ai",
        ttl_s=600,
    )


def test_a_visitor_session_token_opens_only_a_websocket_without_a_user(authorizer: Any) -> None:
    token = _visitor_token()
    # On a REST route it is refused, whatever the route
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.lambda_handler(
            authorizer_event(f"Bearer {token}"), lambda_context("authorizer", timeout_s=5, memory_mb=512)
        )

    # On $connect from its origin it is accepted, with a context that names no user
    event = {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:wsapi12345/dev/$connect",
        "headers": {"Origin": "https://shop.example.com"},
        "queryStringParameters": {"token": token},
        "multiValueQueryStringParameters": {"token": [token]},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "stage": "dev", "apiId": "wsapi12345"},
    }
    result = authorizer.lambda_handler(event, lambda_context("authorizer", timeout_s=5, memory_mb=512))
    context = result["context"]
    assert "user_id" not in context and context["auth_method"] == "visitor"
    assert context["assistant"] == "ast_" + "v" * 24
    assert result["principalId"] == f"visitor:{context['visitor_id']}"

    # From another origin (or none) it is refused
    for headers in ({"Origin": "https://evil.example.net"}, {}):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorizer.lambda_handler(
                {**event, "headers": headers}, lambda_context("authorizer", timeout_s=5, memory_mb=512)
            )


def _fresh_authorizer(event: dict[str, Any], report: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The handler in a new process (a cold start): its result and what it had imported by then."""
    code = (
        "import io, json, sys, authorizer_app.authorizer as a\n"
        "from tests.support.lambda_context import lambda_context\n"
        "out = io.StringIO(); a.logger._logger.handlers[0].setStream(out)\n"
        "context = lambda_context('authorizer', timeout_s=5, memory_mb=512)\n"
        "try:\n"
        "    result = a.lambda_handler(json.loads(sys.argv[1]), context)\n"
        "except Exception as exc:\n"
        "    result = str(exc)\n"
        f"watched = {report}\n"
        "sys.__stdout__.write(json.dumps({'result': result, 'log': out.getvalue(),"
        " 'imported': [m for m in watched if m in sys.modules]}) + '\\n')\n"
    )
    paths = [ROOT, ROOT / "layers/common", ROOT / "functions/authorizer", ROOT / "local"]
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(map(str, paths)), "POWERTOOLS_LOG_LEVEL": "INFO"}
    env["POWERTOOLS_SERVICE_NAME"] = "authorizer"  # as the template sets it
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(event)], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


HEAVY_FOR_A_JWT = (
    "redis",
    "cryptography",
    "psycopg",
    "aws_lambda_powertools",
    "boto3",
    "cryptography.x509",
    "cryptography.hazmat.primitives.asymmetric",
    "joserfc.jwk",
    "joserfc.jwe",
)


def test_a_cold_start_with_a_valid_token_and_cached_state_imports_no_database_driver_crypto_or_powertools(
    api: Any, authorizer: Any
) -> None:
    # Given a user whose state is in the cache (a first request put it there)
    user = new_user(api)
    event = authorizer_event(f"Bearer {user.access_token}")
    authorizer.lambda_handler(event, lambda_context("authorizer", timeout_s=5, memory_mb=512))
    # When a new execution environment authorizes the user's request
    run = _fresh_authorizer(event, repr(HEAVY_FOR_A_JWT))
    # Then it is allowed, without redis-py (the cache is read over RESP by hand), psycopg (API
    # keys and cache misses only), Powertools, boto3 (the signing keys come from the
    # environment here) or any crypto beyond the standard library's HMAC
    assert run["result"]["principalId"] == user.id
    assert run["imported"] == []
    (line,) = [json.loads(x) for x in run["log"].splitlines()]
    assert line["message"] == "allowed" and line["user_id"] == user.id and line["cold_start"] is True
    assert line["correlation_id"] == event["requestContext"]["requestId"] and line["service"] == "authorizer"


def test_on_aws_with_the_secrets_extension_the_signing_keys_come_without_boto3(api: Any, authorizer: Any) -> None:
    from claw_common.aws import aws_client
    from tests.support.secrets_extension import secrets_extension

    # Given the signing keys in Secrets Manager (as on AWS), and the extension's layer attached
    secretsmanager = aws_client("secretsmanager")
    keys = os.environ["JWT_SIGNING_KEYS"]
    arn = secretsmanager.create_secret(Name=f"claw-test-jwt-{uuid.uuid4().hex[:8]}", SecretString=keys)["ARN"]
    user = new_user(api)
    event = authorizer_event(f"Bearer {user.access_token}")
    authorizer.lambda_handler(event, lambda_context("authorizer", timeout_s=5, memory_mb=512))  # state cached
    with secrets_extension(secretsmanager, "session-token") as (port, asked):
        # When a new environment authorizes the user's first request
        run = _fresh_authorizer(
            event,
            repr(("boto3", "botocore", *HEAVY_FOR_A_JWT)),
            env={
                "JWT_SIGNING_KEYS": "",
                "JWT_SECRET_ARN": arn,
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(port),
                "AWS_SESSION_TOKEN": "session-token",
            },
        )
    # Then the keys came from the extension, once, and nothing of boto3 was imported
    assert run["result"]["principalId"] == user.id
    assert asked == [arn] and run["imported"] == []


def test_a_refused_token_is_logged_without_the_token(api: Any) -> None:
    user = new_user(api)
    forged = user.access_token[:-4] + ("AAAA" if not user.access_token.endswith("AAAA") else "BBBB")
    run = _fresh_authorizer(authorizer_event(f"Bearer {forged}"), "()")
    assert run["result"] == "Unauthorized"
    (line,) = [json.loads(x) for x in run["log"].splitlines()]
    assert line["message"] == "denied" and "BadSignatureError" in line["reason"]
    assert line["source_ip"] == "203.0.113.10"
    # Neither the token nor any part of it reaches the log
    assert all(part not in run["log"] for part in forged.split("."))
