"""A bounded load generator: ``--concurrency`` clients GET ``--url`` for ``--seconds``, on loopback only.

Prints one JSON line: requests, errors, req/s and latency percentiles (ms). The bearer token
comes from ``BENCH_TOKEN`` (not the command line, which other users of the machine can read).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from urllib.parse import urlparse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    host = urlparse(args.url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the load generator only targets loopback")
    concurrency = max(1, min(args.concurrency, 32))
    seconds = max(0.5, min(args.seconds, 60.0))

    import httpx

    headers = {"Authorization": f"Bearer {os.environ.get('BENCH_TOKEN', '')}"}
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    stop = time.perf_counter() + seconds

    def worker(k: int) -> None:
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    resp = client.get(args.url, headers=headers)
                    ok = resp.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies[k].append(time.perf_counter() - started)
                if not ok:
                    errors[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for lat in latencies for x in lat)

    def q(p: float) -> float:
        return ms[min(len(ms) - 1, round((len(ms) - 1) * p))] if ms else float("nan")

    print(
        json.dumps(
            {
                "requests": len(ms),
                "errors": sum(errors),
                "rps": len(ms) / elapsed,
                "p50": q(0.50),
                "p95": q(0.95),
                "p99": q(0.99),
            }
        )
    )


if __name__ == "__main__":
    main()
