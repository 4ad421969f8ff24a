"""CLAW.AI benchmarks: cold start, API latency, ingest throughput, retrieval, rate limiter.

Run with ``make bench`` (``QUICK=1`` for the quick suite). Benchmarks are not tests: they
print tables and write ``benchmarks/results/latest.md`` and one PNG chart per area; no
timing is asserted anywhere. See ``docs/benchmarks.md``.
"""
