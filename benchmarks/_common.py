"""Shared pieces of the benchmark suite: results, statistics, tables, the machine, events."""

from __future__ import annotations

import copy
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EVENTS = ROOT / "tests" / "events"
LAYER = ROOT / "layers" / "common"
FUNCTIONS = {
    "authorizer": ROOT / "functions" / "authorizer",
    "chat": ROOT / "functions" / "chat",
    "config": ROOT / "functions" / "config",
    "ingest": ROOT / "functions" / "ingest",
    "ocr": ROOT / "functions" / "ocr",
}


def add_code_paths() -> None:
    """Make the layer and every function's code importable in this process (as pyproject's pytest paths)."""
    for path in [LAYER, *FUNCTIONS.values(), ROOT / "local"]:
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


# --------------------------------------------------------------------------- results


@dataclass
class Target:
    """One target of the issue, measured and judged."""

    name: str
    goal: str
    measured: str
    met: bool | None  # None: could not be measured
    note: str = ""


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]


@dataclass
class Section:
    """What one benchmark area produced."""

    key: str
    title: str
    method: str = ""
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chart: str | None = None
    seconds: float = 0.0
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def table(self, title: str, headers: list[str], rows: list[list[Any]]) -> Table:
        table = Table(title, headers, rows)
        self.tables.append(table)
        print_table(table)
        return table


def print_table(table: Table) -> None:
    """A plain-text table on stdout."""
    cells = [[str(h) for h in table.headers]] + [[fmt(v) for v in row] for row in table.rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(table.headers))]
    # The real stdout: handlers print their metrics (EMF) to sys.stdout, which areas may silence.
    out = sys.__stdout__
    print(f"\n{table.title}", file=out)
    for n, row in enumerate(cells):
        print(
            "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))),
            file=out,
        )
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths), file=out)
    out.flush()


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean in milliseconds of samples in seconds."""
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "mean": statistics.fmean(ms) if ms else float("nan"),
    }


def time_calls(
    call: Callable[[int], Any], *, iterations: int, warmup: int = 3, max_seconds: float = 30.0
) -> list[float]:
    """Per-call wall times (seconds) of ``call(i)``, after ``warmup`` unmeasured calls.

    Stops early after ``max_seconds`` so a slow path cannot blow the suite's time budget.
    """
    for i in range(warmup):
        call(-1 - i)
    samples: list[float] = []
    deadline = time.perf_counter() + max_seconds
    for i in range(iterations):
        started = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    return samples


# --------------------------------------------------------------------------- the machine


def machine_info(services: dict[str, str] | None = None) -> dict[str, str]:
    """CPU, cores, RAM, OS, Python and (when given) service versions, with the date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1048576:.1f} GiB"
                break
    except OSError:
        pass
    info = {
        "Date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
    info.update(services or {})
    return info


def service_versions(database_url: str, redis_url: str) -> dict[str, str]:
    """PostgreSQL, pgvector and Valkey/Redis versions of the running services."""
    import psycopg
    import redis

    out: dict[str, str] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        out["PostgreSQL"] = str(conn.execute("SHOW server_version").fetchone()[0])
        out["PostgreSQL shared_buffers"] = str(conn.execute("SHOW shared_buffers").fetchone()[0])
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        out["pgvector"] = str(row[0]) if row else "not installed"
    client = redis.Redis.from_url(redis_url)
    try:
        server = client.info("server")
        name = "Valkey" if "valkey_version" in server else "Redis"
        out[name] = str(server.get("valkey_version") or server.get("redis_version"))
    finally:
        client.close()
    return out


# --------------------------------------------------------------------------- events


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


_REST_TEMPLATE: dict[str, Any] | None = None


def rest_event(
    method: str, path: str, *, authorizer: dict[str, Any] | None, body: Any = None, resource: str | None = None
) -> dict[str, Any]:
    """A REST proxy event as API Gateway sends it after the authorizer (from the canonical chat event)."""
    global _REST_TEMPLATE
    if _REST_TEMPLATE is None:
        _REST_TEMPLATE = load_event("apigw_rest_post_chat.json")
    event = copy.deepcopy(_REST_TEMPLATE)
    path_params = None
    if resource is None:
        resource = path
        for base in ("/api/v1/conversations", "/api/v1/knowledge", "/api/v1/configs"):
            if path.startswith(base + "/"):
                resource, path_params = base + "/{proxy+}", {"proxy": path[len(base) + 1 :]}
    event.update(
        {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "pathParameters": path_params,
            "queryStringParameters": None,
            "multiValueQueryStringParameters": None,
            "body": None if body is None else json.dumps(body),
            "isBase64Encoded": False,
        }
    )
    context = event["requestContext"]
    context.update({"resourcePath": resource, "httpMethod": method, "path": f"/{context['stage']}{path}"})
    context["requestId"] = str(uuid.uuid4())
    if authorizer is None:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = authorizer
    return event


class Context:
    """The Lambda context attributes the handlers read."""

    def __init__(self, name: str, timeout_s: int = 29) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 1024
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self.function_version = "$LATEST"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
