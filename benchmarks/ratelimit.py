"""Rate limiter: checks per second and latency per check against Valkey (``claw_common.ratelimit.limiter``).

One check is what a request to a conversations route costs: the global, user, IP and route
buckets consumed atomically in one EVALSHA. Sequential checks give the per-check latency;
a few threads (each with the same shared client, as one warm Lambda process would have)
give the throughput a single Valkey answers on this machine.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from benchmarks._common import RESULTS, Section, Target, summary_ms, time_calls

TARGET_P50_MS = 0.5


def run(quick: bool, platform: Any) -> Section:
    from claw_common.auth.caller import Caller
    from claw_common.data.cache import get_redis
    from claw_common.ratelimit.limiter import RateLimiter, RouteGroup, policy_from_values

    section = Section(
        "ratelimit",
        "Rate limiter (claw_common.ratelimit.limiter against Valkey)",
        method=(
            "`RateLimiter.check` on the 4 buckets of a conversations request (global, user, IP, route), one "
            "Lua EVALSHA each, limits raised so every check is allowed (the same work as an allowed request). "
            "Sequential checks for latency; 1, 2 and 4 threads sharing the process's client for throughput."
        ),
    )
    huge = {"per_minute": 10_000_000, "burst": 10_000_000}
    policy = policy_from_values(
        {
            "rate_limit.tiers": {"free": huge},
            "rate_limit.ip": huge,
            "rate_limit.routes": {"conversations": huge},
            "rate_limit.global": huge,
        }
    )
    limiter = RateLimiter(get_redis())
    caller = Caller(user_id="00000000-0000-0000-0000-0000000000be", role="user", tier="free", auth_method="jwt")
    buckets = policy.buckets_for(caller, "203.0.113.7", RouteGroup("conversations", "caller"))

    n = 2000 if quick else 10000
    samples = time_calls(lambda i: limiter.check(buckets), iterations=n, warmup=50, max_seconds=20)
    stats = summary_ms(samples)
    section.table(
        f"One check (4 buckets), sequential, {stats['n']} checks, ms",
        ["p50", "p95", "p99", "mean", "checks/s (1 client)"],
        [[stats["p50"], stats["p95"], stats["p99"], stats["mean"], 1000 / stats["mean"]]],
    )
    peek = time_calls(lambda i: limiter.check(buckets, consume=False), iterations=n // 2, warmup=20, max_seconds=10)
    peek_stats = summary_ms(peek)

    duration = 1.5 if quick else 4.0
    rows = []
    for threads in (1, 2, 4):
        rows.append([threads, _throughput(limiter, buckets, threads, duration)])
    section.table(f"Throughput, checks/s ({duration:.1f}s per row)", ["threads", "checks/s"], rows)
    section.notes.append(f"A peek (`consume=False`, the status route) costs p50 {peek_stats['p50']:.3f} ms.")
    section.notes.append(
        "Valkey runs on the same 2 cores as the client: threads beyond 2 compete with the server for CPU, "
        "so the numbers are a floor for a Lambda fleet against ElastiCache."
    )
    section.targets.append(
        Target(
            "rate-limit check p50",
            f"≤ {TARGET_P50_MS} ms",
            f"{stats['p50']:.3f} ms",
            stats["p50"] <= TARGET_P50_MS,
        )
    )
    section.data = {"samples": samples, "throughput": rows}
    section.chart = _chart(samples, rows)
    return section


def _throughput(limiter: Any, buckets: Any, threads: int, duration: float) -> float:
    counts = [0] * threads
    stop = time.perf_counter() + duration

    def worker(k: int) -> None:
        while time.perf_counter() < stop:
            limiter.check(buckets)
            counts[k] += 1

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def _chart(samples: list[float], rows: list[list[Any]]) -> str:
    import matplotlib.pyplot as plt

    ms = sorted(s * 1000 for s in samples)
    cut = ms[int(len(ms) * 0.995)]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.hist([m for m in ms if m <= cut], bins=60, color="#1565c0")
    a.axvline(TARGET_P50_MS, color="black", linestyle="--", linewidth=1, label=f"target p50 {TARGET_P50_MS} ms")
    a.axvline(ms[len(ms) // 2], color="#c62828", linewidth=1, label=f"p50 {ms[len(ms) // 2]:.3f} ms")
    a.set_xlabel("ms per check (to p99.5)")
    a.set_ylabel("checks")
    a.legend(fontsize=8)
    a.set_title("Latency per check")
    b.bar([str(r[0]) for r in rows], [r[1] for r in rows], color="#2e7d32")
    b.set_xlabel("threads")
    b.set_ylabel("checks/s")
    b.set_title("Throughput")
    fig.suptitle("Rate limiter: 4 buckets in one Lua call, Valkey on loopback", fontsize=10)
    fig.tight_layout()
    path = RESULTS / "ratelimit.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name
