"""Warm latency of the authorizer and of representative routes, in-process and through the gateway,
and throughput under a bounded concurrent load on 127.0.0.1.

* In-process: the function's ``lambda_handler`` called with an API Gateway event (the warm
  path of one execution environment; the authorizer's verdict is already in the event).
* Gateway: HTTP on loopback to the local gateway, which runs the authorizer (with API
  Gateway's verdict cache, TTL from the template) and then the function, in this process.
* Load: a separate process (``benchmarks.loadgen``) with a fixed number of concurrent
  clients for a fixed time, so the client does not compete with the gateway for the GIL.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
from typing import Any

from benchmarks._common import RESULTS, ROOT, Context, Section, Target, load_event, rest_event, summary_ms, time_calls

API = "/api/v1"
TARGET_AUTHORIZER_P50_MS = 1.0
HUGE = {"per_minute": 10_000_000, "burst": 10_000_000}


def _set_config(conn: Any, key: str, value: Any) -> None:
    from psycopg.types.json import Jsonb

    conn.execute(
        """INSERT INTO configs (key, value, version, updated_by) VALUES (%s, %s, 1, 'benchmarks')
           ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = configs.version + 1, deleted_at = NULL""",
        (key, Jsonb(value)),
    )


def _setup(platform: Any) -> dict[str, Any]:
    """A registered admin (enterprise tier) with a token, a conversation, a config key; limits raised."""
    import httpx
    import psycopg

    from claw_common.auth.accounts import forget_principal
    from claw_common.config.reader import drop_caches

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        # The benchmark measures the limiter's cost on every request, not its refusals.
        _set_config(conn, "rate_limit.tiers", {"free": HUGE, "pro": HUGE, "enterprise": HUGE})
        _set_config(conn, "rate_limit.ip", HUGE)
        _set_config(conn, "rate_limit.global", HUGE)
        _set_config(conn, "rate_limit.routes", {"conversations": HUGE, "messages": HUGE, "knowledge": HUGE})
        _set_config(conn, "rate_limit.auth", {"register": HUGE, "login": HUGE})
        _set_config(conn, "bench.sample", {"greeting": "你好", "enabled": True, "limits": [1, 2, 3]})
    drop_caches()
    client = httpx.Client(base_url=platform.gateway_url, timeout=30)
    email, password = f"bench-{uuid.uuid4().hex[:10]}@example.com", f"Pw-{uuid.uuid4().hex}"
    resp = client.post(f"{API}/auth/register", json={"email": email, "password": password, "name": "Bench"})
    resp.raise_for_status()
    user_id = resp.json()["id"]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE users SET role = 'admin', tier = 'enterprise' WHERE id = %s", (user_id,))
    forget_principal(user_id=user_id)
    resp = client.post(f"{API}/auth/login", json={"email": email, "password": password})
    resp.raise_for_status()
    token = resp.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    conversations = []
    for title in ("bench messages", "bench chat"):
        resp = client.post(f"{API}/conversations", json={"title": title}, headers=headers)
        resp.raise_for_status()
        conversations.append(resp.json()["id"])
    return {
        "client": client,
        "user_id": user_id,
        "token": token,
        "headers": headers,
        "messages_conv": conversations[0],
        "chat_conv": conversations[1],
        "authorizer": {
            "user_id": user_id,
            "role": "admin",
            "tier": "enterprise",
            "auth_method": "jwt",
            "api_key_id": "",
            "principalId": user_id,
        },
    }


def _cases(s: dict[str, Any]) -> list[tuple[str, str, str, Any, str]]:
    """(name, method, path, body or body factory, function)."""
    return [
        ("list conversations", "GET", f"{API}/conversations", None, "chat"),
        (
            "add message",
            "POST",
            f"{API}/conversations/{s['messages_conv']}/messages",
            lambda i: {"content": f"benchmark message {i}: 退货政策是什么？"},
            "chat",
        ),
        ("get config", "GET", f"{API}/configs/bench.sample", None, "config"),
        (
            "chat (offline provider)",
            "POST",
            f"{API}/conversations/{s['chat_conv']}/chat",
            # A new question each time: a repeated one would be served by the answer cache.
            lambda i: {"message": f"How do I return an item? 怎么退货？ (#{i} {uuid.uuid4().hex[:6]})"},
            "chat",
        ),
    ]


def run(quick: bool, platform: Any) -> Section:
    section = Section(
        "latency",
        "Warm latency and throughput of the API",
        method=(
            "In-process: `lambda_handler(event, context)` with a REST proxy event carrying the authorizer "
            "context (warm: 3 unmeasured calls first). Authorizer: its handler with "
            "`tests/events/apigw_authorizer_request.json` and the access token of a registered user (user "
            "state cached in Valkey, as on every warm request). Gateway: HTTP/1.1 keep-alive on 127.0.0.1 "
            "to the local gateway (authorizer with API Gateway's verdict cache, then the function). Rate "
            "limits raised so nothing is refused; the limiter still runs on every request. Logs at WARNING."
        ),
    )
    s = _setup(platform)
    n_inproc = 200 if quick else 1000
    n_gateway = 100 if quick else 500
    rows: list[list[Any]] = []
    chart: list[tuple[str, dict[str, float]]] = []

    # ---- the authorizer alone
    from authorizer_app import authorizer

    event = load_event("apigw_authorizer_request.json")
    event["headers"]["Authorization"] = f"Bearer {s['token']}"
    event["multiValueHeaders"]["Authorization"] = [f"Bearer {s['token']}"]
    ctx = Context("claw-ai-bench-authorizer")

    def call_authorizer(i: int) -> None:
        result = authorizer.lambda_handler(copy.deepcopy(event), ctx)
        assert result["principalId"] == s["user_id"]

    auth = summary_ms(time_calls(call_authorizer, iterations=n_inproc * 2, warmup=5, max_seconds=20))
    rows.append(
        ["authorizer (JWT, user state in Valkey)", "in-process", auth["n"], auth["p50"], auth["p95"], auth["p99"]]
    )
    chart.append(("authorizer", auth))

    # The pure-CPU part (no Valkey): what the verdict costs with the state already known.
    from claw_common.auth import tokens

    cfg = authorizer.config()
    ring = authorizer.key_ring()
    verify = summary_ms(
        time_calls(
            lambda i: tokens.verify_access_token(ring, s["token"], issuer=cfg.jwt_issuer, audience=cfg.jwt_audience),
            iterations=n_inproc * 2,
            warmup=5,
            max_seconds=10,
        )
    )
    rows.append(
        ["  of which JWT verification only", "in-process", verify["n"], verify["p50"], verify["p95"], verify["p99"]]
    )

    # ---- routes, in-process
    from chat_app.handler import lambda_handler as chat_handler
    from config_app.handler import lambda_handler as config_handler

    handlers = {"chat": chat_handler, "config": config_handler}
    for name, method, path, body, function in _cases(s):

        def call(i: int, method: str = method, path: str = path, body: Any = body, function: str = function) -> None:
            payload = body(i) if callable(body) else body
            ev = rest_event(method, path, authorizer=s["authorizer"], body=payload)
            reply = handlers[function](ev, Context(f"claw-ai-bench-{function}"))
            if reply["statusCode"] >= 400:
                raise RuntimeError(f"{path}: {reply['statusCode']} {reply.get('body', '')[:300]}")

        st = summary_ms(time_calls(call, iterations=n_inproc, warmup=3, max_seconds=25))
        rows.append([name, "in-process", st["n"], st["p50"], st["p95"], st["p99"]])
        chart.append((f"{name}\n(in-process)", st))

    # ---- the work inside one warm chat request (50 messages of history by now), counted
    from benchmarks.warm_path import count_work

    chat_case = next(c for c in _cases(s) if c[0].startswith("chat"))
    chat_event = rest_event(chat_case[1], chat_case[2], authorizer=s["authorizer"], body=chat_case[3](-99))
    work = count_work(lambda: chat_handler(chat_event, Context("claw-ai-bench-chat")))
    section.table(
        "Work inside one warm chat request (offline provider, no knowledge base, 50 history messages), counted",
        ["what", "count"],
        [
            [k, work.get(k, 0)]
            for k in ("SQL statements", "pool checkouts", "Redis round trips", "tokenizer calls", "deep copies")
        ],
    )
    section.data["chat_work"] = dict(work)
    history_counts = work.get("tokenizer calls", 0)
    met = work.get("pool checkouts", 0) <= 1 and work.get("deep copies", 0) == 0 and history_counts <= 60
    section.targets.append(
        Target(
            "warm chat path",
            "stored token counts reused, one transaction/checkout, no deepcopy on config reads",
            ", ".join(
                f"{work.get(k, 0)} {k}"
                for k in ("SQL statements", "pool checkouts", "Redis round trips", "tokenizer calls", "deep copies")
            ),
            met,
            "Before (same benchmark on the previous main): 12 SQL statements, 3 pool checkouts, 6 Redis round "
            "trips, 106 tokenizer calls, 12 deep copies. The tokenizer calls left are the offline provider "
            "counting its prompt for the usage record (once per message); the Redis trips are the rate limiter, "
            "the principal's state, the answer cache (get + put) and two list invalidations.",
        )
    )

    # ---- routes, through the gateway
    client = s["client"]
    for name, method, path, body, _ in _cases(s):

        def call_http(i: int, method: str = method, path: str = path, body: Any = body) -> None:
            payload = body(i) if callable(body) else body
            resp = client.request(method, path, json=payload, headers=s["headers"])
            if resp.status_code >= 400:
                raise RuntimeError(f"{path} via gateway: {resp.status_code} {resp.text[:300]}")

        st = summary_ms(time_calls(call_http, iterations=n_gateway, warmup=3, max_seconds=25))
        rows.append([name, "gateway (HTTP)", st["n"], st["p50"], st["p95"], st["p99"]])
        chart.append((f"{name}\n(gateway)", st))

    section.table("Warm latency, ms", ["case", "path", "n", "p50", "p95", "p99"], rows)
    section.targets.append(
        Target(
            "authorizer warm p50",
            f"≤ {TARGET_AUTHORIZER_P50_MS:.0f} ms",
            f"{auth['p50']:.3f} ms (p95 {auth['p95']:.3f})",
            auth["p50"] <= TARGET_AUTHORIZER_P50_MS,
        )
    )

    # ---- throughput under a bounded concurrent load
    seconds = 4 if quick else 10
    load_rows = []
    for name, path, concurrency in (
        ("list conversations", f"{API}/conversations", 8),
        ("get config", f"{API}/configs/bench.sample", 8),
        ("health (no authorizer)", f"{API}/health", 8),
    ):
        result = _load(platform.gateway_url, path, s["token"], concurrency=concurrency, seconds=seconds)
        load_rows.append(
            [
                name,
                concurrency,
                seconds,
                result["requests"],
                result["errors"],
                result["rps"],
                result["p50"],
                result["p95"],
                result["p99"],
            ]
        )
    section.table(
        "Throughput through the gateway, bounded load on 127.0.0.1 (separate client process)",
        ["route", "clients", "seconds", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"],
        load_rows,
    )
    section.notes += [
        "The local gateway runs in the benchmark's process (uvicorn, one event loop) and serialises invocations "
        "of each function, as one warm Lambda execution environment would; concurrent clients therefore queue. "
        "On AWS, API Gateway fans out to more environments: the throughput row is a per-environment figure.",
        "Gateway latency includes the HTTP client (httpx) in the same process, and the authorizer when its cached "
        "verdict has expired (TTL from the template).",
    ]
    s["client"].close()
    section.data.update({"rows": rows, "load": load_rows})
    section.chart = _chart(chart, load_rows)
    return section


def _load(base_url: str, path: str, token: str, *, concurrency: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.loadgen",
            "--url",
            base_url + path,
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ],
        env={**os.environ, "BENCH_TOKEN": token, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _chart(cases: list[tuple[str, dict[str, float]]], load_rows: list[list[Any]]) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [3, 1]})
    x = np.arange(len(cases))
    width = 0.27
    for k, (q, color) in enumerate((("p50", "#2e7d32"), ("p95", "#f9a825"), ("p99", "#c62828"))):
        a.bar(x + (k - 1) * width, [c[1][q] for c in cases], width, label=q, color=color)
    a.set_yscale("log")
    a.set_xticks(x, [c[0] for c in cases], fontsize=7, rotation=30, ha="right")
    a.set_ylabel("ms (log)")
    a.axhline(TARGET_AUTHORIZER_P50_MS, color="black", linestyle="--", linewidth=0.8)
    a.legend(fontsize=8)
    a.set_title("Warm latency")
    b.bar([r[0].split(" (")[0] for r in load_rows], [r[5] for r in load_rows], color="#1565c0")
    b.set_ylabel("requests/s")
    b.set_title(f"{load_rows[0][1]} clients, gateway")
    b.tick_params(axis="x", labelsize=7, rotation=30)
    fig.tight_layout()
    path = RESULTS / "latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
