"""The config handler invoked with real API Gateway REST proxy events (tests/events), against the
platform's real PostgreSQL, Valkey and (moto) KMS."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.config_helpers import admin_id, invoke_config, member_id
from tests.conftest import wait_for

MASK = "********"


def _create(platform: Any, key: str, value: Any, **extra: Any) -> dict[str, Any]:
    resp = invoke_config(platform, "POST", "/configs", body={"key": key, "value": value, **extra})
    assert resp.status == 201, resp.body
    return resp.json()


def _history(platform: Any, key: str) -> list[dict[str, Any]]:
    resp = invoke_config(platform, "GET", f"/configs/{key}/history", query={"limit": "100"})
    assert resp.status == 200, resp.body
    return resp.json()["items"]


def test_lifecycle_with_history_rollback_and_stale_versions(platform: Any, unique: str) -> None:
    key = f"test.lifecycle_{unique}"

    # Given a new key
    created = _create(platform, key, {"greeting": "hello"}, description="greeting text")
    assert {k: created[k] for k in ("key", "value", "description", "is_sensitive", "is_public", "version")} == {
        "key": key,
        "value": {"greeting": "hello"},
        "description": "greeting text",
        "is_sensitive": False,
        "is_public": False,
        "version": 1,
    }
    assert created["updated_by"] == admin_id() and created["updated_at"]

    # When it is updated with If-Match, then again with the body's version
    r = invoke_config(
        platform, "PUT", f"/configs/{key}", body={"value": {"greeting": "hi"}}, headers={"If-Match": '"1"'}
    )
    assert r.status == 200 and r.json()["version"] == 2 and r.headers["etag"] == '"2"'
    r = invoke_config(platform, "PUT", f"/configs/{key}", body={"value": {"greeting": "hey"}, "version": 2})
    assert r.status == 200 and r.json()["version"] == 3

    # Then a writer holding version 2 gets 409 and nothing changes
    stale = invoke_config(platform, "PUT", f"/configs/{key}", body={"value": {"greeting": "lost"}, "version": 2})
    assert stale.status == 409 and stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_version"] == 3
    assert invoke_config(platform, "GET", f"/configs/{key}").json()["value"] == {"greeting": "hey"}

    # When rolled back to version 1, the value returns under a new version
    rb = invoke_config(platform, "POST", f"/configs/{key}/rollback", body={"version": 1})
    assert rb.status == 200, rb.body
    assert rb.json()["value"] == {"greeting": "hello"} and rb.json()["version"] == 4

    # When deleted with a stale version → 409; with the current one → 204, then 404
    assert invoke_config(platform, "DELETE", f"/configs/{key}", headers={"If-Match": '"3"'}).status == 409
    assert invoke_config(platform, "DELETE", f"/configs/{key}", query={"version": "4"}).status == 204
    assert invoke_config(platform, "GET", f"/configs/{key}").status == 404

    # Then history has exactly one row per write, newest first, with actor and values
    items = _history(platform, key)
    assert [(i["version"], i["action"]) for i in items] == [
        (5, "delete"),
        (4, "rollback"),
        (3, "update"),
        (2, "update"),
        (1, "create"),
    ]
    assert items[1]["rolled_back_to"] == 1
    assert items[2]["old_value"] == {"greeting": "hi"} and items[2]["new_value"] == {"greeting": "hey"}
    assert items[0]["new_value"] is None and all(i["actor"] == admin_id() for i in items)

    # And the deleted key can be rolled back to life, continuing the version numbers
    revived = invoke_config(platform, "POST", f"/configs/{key}/rollback", body={"version": 3})
    assert revived.status == 200 and revived.json()["version"] == 6 and revived.json()["value"] == {"greeting": "hey"}


def test_create_conflicts_and_bad_input_are_clear_4xx(platform: Any, unique: str) -> None:
    key = f"test.create_{unique}"
    _create(platform, key, 1)
    dup = invoke_config(platform, "POST", "/configs", body={"key": key, "value": 2})
    assert dup.status == 409

    bad_key = invoke_config(platform, "POST", "/configs", body={"key": "NoNamespace", "value": 1})
    assert bad_key.status == 422 and bad_key.json()["errors"][0]["loc"] == ["body", "key"]

    null_value = invoke_config(platform, "POST", "/configs", body={"key": f"test.null_{unique}", "value": None})
    assert null_value.status == 422

    missing_version = invoke_config(platform, "PUT", f"/configs/{key}", body={"value": 3})
    assert missing_version.status == 422

    bad_etag = invoke_config(platform, "PUT", f"/configs/{key}", body={"value": 3}, headers={"If-Match": "abc"})
    assert bad_etag.status == 400

    no_such_version = invoke_config(platform, "POST", f"/configs/{key}/rollback", body={"version": 99})
    assert no_such_version.status == 404

    too_big = invoke_config(platform, "POST", "/configs", body={"key": f"test.big_{unique}", "value": "x" * 70_000})
    assert too_big.status == 422 and too_big.json()["errors"][0]["type"] == "too_long"


@pytest.mark.parametrize(
    ("key", "value", "loc"),
    [
        ("ai.pricing", {"glm-4": {"input": 0.1, "output": -1}}, ["body", "value", "glm-4", "output"]),
        ("ai.default_model", "not a model", ["body", "value"]),
        ("ai.quota.monthly_tokens", {"free": 1000, "pro": -5, "enterprise": 10}, ["body", "value", "pro"]),
        (
            "rate_limit.tiers",
            {"free": {"per_minute": 100}, "pro": {"per_minute": 500}},
            ["body", "value", "enterprise"],
        ),
        ("rate_limit.deny_ips", ["10.0.0.0/8", "300.1.1.1"], ["body", "value"]),
        (
            "rate_limit.routes",
            {"conversations": {"per_minute": 60}, "messages": {"per_minute": 0}, "knowledge": {"per_minute": 30}},
            ["body", "value", "messages", "per_minute"],
        ),
        (
            "ingest.limits",
            {
                "free": {"max_bytes": 1},
                "pro": {"max_bytes": 1, "max_pages": 1},
                "enterprise": {"max_bytes": 1, "max_pages": 1},
            },
            ["body", "value", "free", "max_pages"],
        ),
        ("chat.system_prompt.default", "x" * 8001, ["body", "value"]),
    ],
)
def test_known_keys_are_typed(platform: Any, key: str, value: Any, loc: list[Any]) -> None:
    resp = invoke_config(platform, "POST", "/configs", body={"key": key, "value": value})
    assert resp.status == 422, resp.body
    assert loc in [e["loc"] for e in resp.json()["errors"]]


def test_non_admins_cannot_write_and_see_only_public_keys(platform: Any, unique: str) -> None:
    public, private = f"test.public_{unique}", f"test.private_{unique}"
    _create(platform, public, {"motd": "welcome"}, is_public=True)
    _create(platform, private, {"internal": True})

    user = {"user_id": member_id(), "role": "user"}
    assert (
        invoke_config(platform, "POST", "/configs", body={"key": f"test.x_{unique}", "value": 1}, **user).status == 403
    )
    assert invoke_config(platform, "PUT", f"/configs/{public}", body={"value": 2, "version": 1}, **user).status == 403
    assert invoke_config(platform, "DELETE", f"/configs/{public}", **user).status == 403
    assert invoke_config(platform, "GET", "/configs", **user).status == 403
    assert invoke_config(platform, "GET", "/configs/audit/log", **user).status == 403
    assert invoke_config(platform, "POST", "/configs/export", body={}, **user).status == 403

    # A private key is hidden exactly like a missing one
    hidden = invoke_config(platform, "GET", f"/configs/{private}", **user)
    missing = invoke_config(platform, "GET", f"/configs/test.missing_{unique}", **user)
    assert hidden.status == missing.status == 404
    assert invoke_config(platform, "GET", f"/configs/{public}", **user).json()["value"] == {"motd": "welcome"}

    # The public list needs no caller and holds only public keys
    anon = invoke_config(platform, "GET", "/configs/public", user_id=None, query={"limit": "100"})
    assert anon.status == 200
    keys = {i["key"] for i in anon.json()["items"]}
    while anon.json()["next_cursor"]:
        anon = invoke_config(
            platform, "GET", "/configs/public", user_id=None, query={"cursor": anon.json()["next_cursor"]}
        )
        keys |= {i["key"] for i in anon.json()["items"]}
    assert public in keys and private not in keys

    # No caller on an authorized route → 401
    assert invoke_config(platform, "GET", f"/configs/{public}", user_id=None).status == 401


def test_sensitive_values_are_sealed_masked_everywhere_and_never_logged(
    platform: Any, db: Any, unique: str, capfd: pytest.CaptureFixture[str]
) -> None:
    key = f"test.secret_{unique}"
    secret = f"s3cr3t-{unique}"
    capfd.readouterr()
    # Every structured log line the functions write, formatted exactly as in CloudWatch.
    from claw_common.observability import logger

    logs = io.StringIO()
    log_handler = logging.StreamHandler(logs)
    log_handler.setFormatter(logger.registered_formatter)
    logger.addHandler(log_handler)
    try:
        _exercise_secret(platform, db, key, secret)
    finally:
        logger.removeHandler(log_handler)

    # The secret never reached the logs (nor stdout/stderr) of any of these invocations
    out, err = capfd.readouterr()
    assert secret not in out and secret not in err
    assert secret not in logs.getvalue()
    assert "config updated" in logs.getvalue() and "sensitive config revealed" in logs.getvalue()


def _exercise_secret(platform: Any, db: Any, key: str, secret: str) -> None:

    created = _create(platform, key, {"api_key": secret}, is_sensitive=True)
    updated = invoke_config(platform, "PUT", f"/configs/{key}", body={"value": {"api_key": secret + "2"}, "version": 1})
    got = invoke_config(platform, "GET", f"/configs/{key}")
    listed = invoke_config(platform, "GET", "/configs", query={"prefix": key})
    history = invoke_config(platform, "GET", f"/configs/{key}/history")
    exported = invoke_config(platform, "POST", "/configs/export", body={"prefix": key})
    audit = invoke_config(platform, "GET", "/configs/audit/log", query={"key": key})

    for resp in (updated, got, listed, history, exported, audit):
        assert resp.status == 200, resp.body
        assert secret not in resp.body
    assert created["value"] == MASK and got.json()["masked"] is True
    assert listed.json()["items"][0]["value"] == MASK
    assert {i["new_value"] for i in history.json()["items"]} == {MASK}
    assert exported.json()["items"][0]["value"] == MASK and exported.json()["items"][0]["masked"] is True

    # At rest: no plaintext column, only ciphertext and a KMS-encrypted data key
    row = db.execute("SELECT * FROM configs WHERE key = %s", (key,)).fetchone()
    assert row["value"] is None and row["value_ciphertext"] and row["value_data_key"]
    assert secret.encode() not in bytes(row["value_ciphertext"])
    hist = db.execute("SELECT old_value, new_value FROM config_history WHERE key = %s", (key,)).fetchall()
    assert secret not in json.dumps(hist)

    # A non-admin cannot reveal (hidden as missing); an admin can, and it is audited
    assert (
        invoke_config(
            platform, "GET", f"/configs/{key}", user_id=member_id(), role="user", query={"reveal": "true"}
        ).status
        == 404
    )
    revealed = invoke_config(platform, "GET", f"/configs/{key}", query={"reveal": "true"})
    assert revealed.json()["value"] == {"api_key": secret + "2"} and revealed.json()["masked"] is False
    full = invoke_config(platform, "POST", "/configs/export", body={"prefix": key, "reveal": True})
    assert full.json()["items"][0]["value"] == {"api_key": secret + "2"}
    actions = [
        i["action"] for i in invoke_config(platform, "GET", "/configs/audit/log", query={"key": key}).json()["items"]
    ]
    assert actions == ["reveal", "update", "create"]
    exports = invoke_config(platform, "GET", "/configs/audit/log", query={"action": "export", "actor": admin_id()})
    assert any(key in i["detail"]["revealed_keys"] for i in exports.json()["items"])

    # The reader decrypts it for other functions
    from claw_common.config.reader import get_config

    assert get_config(key) == {"api_key": secret + "2"}


def test_a_key_cannot_be_both_sensitive_and_public(platform: Any, unique: str) -> None:
    resp = invoke_config(
        platform,
        "POST",
        "/configs",
        body={"key": f"test.sp_{unique}", "value": 1, "is_sensitive": True, "is_public": True},
    )
    assert resp.status == 422


def test_import_dry_run_and_all_or_nothing(platform: Any, db: Any, unique: str) -> None:
    existing = f"imp_{unique}.existing"
    _create(platform, existing, 1)
    items = [
        {"key": existing, "value": 2},
        {"key": f"imp_{unique}.new", "value": {"a": 1}},
    ]

    # A dry run reports the diff and writes nothing
    dry = invoke_config(platform, "POST", "/configs/import", body={"items": items, "dry_run": True})
    assert dry.status == 200, dry.body
    assert dry.json()["created"] == [f"imp_{unique}.new"] and dry.json()["updated"] == [existing]
    assert db.execute("SELECT count(*) AS n FROM configs WHERE key LIKE %s", (f"imp_{unique}.%",)).fetchone()["n"] == 1
    assert len(_history(platform, existing)) == 1

    # One invalid item: 422 naming it, and nothing written
    bad = [*items, {"key": "ai.pricing", "value": {"glm-4": {"input": "free"}}}]
    resp = invoke_config(platform, "POST", "/configs/import", body={"items": bad})
    assert resp.status == 422
    assert resp.json()["errors"][0]["loc"][:3] == ["body", "items", "2"]
    assert invoke_config(platform, "GET", f"/configs/{existing}").json()["value"] == 1
    assert invoke_config(platform, "GET", f"/configs/imp_{unique}.new").status == 404

    # A valid import writes everything, one history row per changed key, none for unchanged ones
    third = f"imp_{unique}.same"
    _create(platform, third, "same")
    ok = invoke_config(platform, "POST", "/configs/import", body={"items": [*items, {"key": third, "value": "same"}]})
    assert ok.status == 200, ok.body
    assert ok.json()["unchanged"] == [third]
    assert [(i["version"], i["action"]) for i in _history(platform, existing)] == [(2, "import"), (1, "create")]
    assert len(_history(platform, third)) == 1
    assert invoke_config(platform, "GET", f"/configs/imp_{unique}.new").json()["value"] == {"a": 1}


def test_export_then_import_round_trips_sensitive_values_without_revealing_them(platform: Any, unique: str) -> None:
    key = f"rt_{unique}.token"
    _create(platform, key, "tok-" + unique, is_sensitive=True)
    doc = invoke_config(platform, "POST", "/configs/export", body={"prefix": f"rt_{unique}."}).json()
    item = doc["items"][0]
    item["description"] = "rotated"
    resp = invoke_config(platform, "POST", "/configs/import", body={"items": doc["items"]})
    assert resp.status == 200 and resp.json()["updated"] == [key], resp.body
    from claw_common.config.reader import get_config

    assert wait_for(lambda: get_config(key) == "tok-" + unique, timeout=10)


def test_concurrent_writers_of_one_version_exactly_one_wins(platform: Any, unique: str) -> None:
    key = f"test.race_{unique}"
    _create(platform, key, 0)
    start = threading.Barrier(20)

    def write(n: int) -> int:
        start.wait(timeout=10)
        from claw_common.auth.caller import Caller
        from claw_common.errors import Conflict
        from config_app.models import ConfigUpdate
        from config_app.writes import update_config

        try:
            update_config(key, ConfigUpdate(value=n, version=1), 1, Caller(f"w{n}", "admin", "free", "jwt"), None)
            return 200
        except Conflict:
            return 409

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(write, range(20)))
    assert sorted(results) == [200] + [409] * 19
    history = _history(platform, key)
    assert [i["version"] for i in history] == [2, 1]


def test_reader_sees_changes_within_seconds_and_survives_a_redis_outage(platform: Any, unique: str) -> None:
    from claw_common.config.reader import get_config

    key = f"test.reader_{unique}"
    assert get_config(key) is None
    created = _create(platform, key, {"n": 1})
    assert get_config(key) == {"n": 1}  # written through to the cache on create
    invoke_config(platform, "PUT", f"/configs/{key}", body={"value": {"n": 2}, "version": created["version"]})
    t0 = time.monotonic()
    assert wait_for(lambda: get_config(key) == {"n": 2}, timeout=10)
    assert time.monotonic() - t0 < 10

    # Redis down: the reader answers from the database instead of failing
    import os

    from claw_common.config.reader import forget_local
    from claw_common.data.cache import get_redis
    from claw_common.settings import get_settings

    good = os.environ["REDIS_URL"]
    try:
        os.environ["REDIS_URL"] = "redis://127.0.0.1:1/0"
        get_settings.cache_clear()
        get_redis.cache_clear()
        from claw_common.config import reader as config_reader

        config_reader._set_if_newer_script.cache_clear()
        forget_local()
        assert get_config(key) == {"n": 2}
    finally:
        os.environ["REDIS_URL"] = good
        get_settings.cache_clear()
        get_redis.cache_clear()
        config_reader._set_if_newer_script.cache_clear()


def test_fixed_routes_are_not_taken_for_keys_and_openapi_is_published(platform: Any) -> None:
    assert invoke_config(platform, "GET", "/configs/audit/log").status == 200
    assert invoke_config(platform, "POST", "/configs/reload").json()["dropped"] >= 0
    assert invoke_config(platform, "POST", "/configs/export").status == 200
    assert invoke_config(platform, "GET", "/configs/public", user_id=None).status == 200
    from claw_local.lambda_runtime import LambdaContext
    from config_app.handler import lambda_handler
    from tests.config_helpers import config_event

    event = config_event("GET", "/openapi/config.json", user_id=None)
    event.update(resource="/api/v1/openapi/config.json", pathParameters=None)
    ctx = LambdaContext("claw-ai-test-config", 512, "arn:aws:lambda:us-east-1:1:function:x", "id", timeout_s=30)
    doc = json.loads(lambda_handler(event, ctx)["body"])
    assert "/api/v1/configs/{key}/rollback" in doc["paths"] and "/api/v1/configs/import" in doc["paths"]


def test_audit_log_pages_and_filters_by_time(platform: Any, unique: str) -> None:
    key = f"test.audit_{unique}"
    created = _create(platform, key, 1)
    for v in range(1, 4):
        invoke_config(platform, "PUT", f"/configs/{key}", body={"value": v + 1, "version": v})
    page1 = invoke_config(platform, "GET", "/configs/audit/log", query={"key": key, "limit": "2"}).json()
    page2 = invoke_config(
        platform, "GET", "/configs/audit/log", query={"key": key, "limit": "2", "cursor": page1["next_cursor"]}
    ).json()
    assert [i["version"] for i in page1["items"] + page2["items"]] == [4, 3, 2, 1]
    assert page2["next_cursor"] is None
    future = invoke_config(
        platform, "GET", "/configs/audit/log", query={"key": key, "since": "2999-01-01T00:00:00Z"}
    ).json()
    assert future["items"] == []
    assert created["version"] == 1
    assert invoke_config(platform, "GET", "/configs/audit/log", query={"cursor": "!!!"}).status == 422


def test_overwrite_import_deletes_unlisted_keys_within_its_prefix(platform: Any, unique: str) -> None:
    prefix = f"ow_{unique}."
    keep, drop = prefix + "keep", prefix + "drop"
    outside = f"owx_{unique}.other"
    for key in (keep, drop, outside):
        _create(platform, key, 1)
    body = {"mode": "overwrite", "prefix": prefix, "items": [{"key": keep, "value": 2}]}

    dry = invoke_config(platform, "POST", "/configs/import", body={**body, "dry_run": True})
    assert dry.status == 200 and dry.json()["deleted"] == [drop] and dry.json()["updated"] == [keep]
    assert invoke_config(platform, "GET", f"/configs/{drop}").status == 200

    done = invoke_config(platform, "POST", "/configs/import", body=body)
    assert done.status == 200, done.body
    assert invoke_config(platform, "GET", f"/configs/{drop}").status == 404
    assert invoke_config(platform, "GET", f"/configs/{keep}").json()["value"] == 2
    assert invoke_config(platform, "GET", f"/configs/{outside}").json()["value"] == 1
    assert [i["action"] for i in _history(platform, drop)] == ["import", "create"]
    gone = invoke_config(platform, "POST", f"/configs/{drop}/rollback", body={"version": 2})
    assert gone.status == 422  # version 2 is the import's deletion
    back = invoke_config(platform, "POST", f"/configs/{drop}/rollback", body={"version": 1})
    assert back.status == 200 and back.json()["value"] == 1 and back.json()["version"] == 3
