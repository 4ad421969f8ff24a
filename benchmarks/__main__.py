"""``python -m benchmarks [--quick] [--only AREA ...]``: run the suite, print tables, write results.

The local platform (PostgreSQL 18 + pgvector, Valkey, moto, the gateway) is started once in
a temporary data folder on free loopback ports, exactly as the tests start it, and stopped
at the end. Results go to ``benchmarks/results/latest.md`` with one PNG chart per area.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

AREAS = ("coldstart", "latency", "ingest", "retrieval", "ratelimit", "ocr")
POSTGRES_SETTINGS = {"shared_buffers": os.environ.get("BENCH_PG_SHARED_BUFFERS", "1GB")}
"""Server settings of the benchmark's own PostgreSQL (not of one given by ``BENCH_DATABASE_URL``)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the quick suite (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=AREAS, help="run only these areas")
    parser.add_argument("--output", default=None, help="report path (default benchmarks/results/latest.md)")
    args = parser.parse_args(argv)

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    # As the template sets for ingest (and claw_local does): one BLAS/OpenMP thread, before numpy loads.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # The peer's LangChain must never phone home (LangSmith tracing) from a benchmark.
    for key in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
        os.environ[key] = "false"
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ClawAI")
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    warnings.filterwarnings("ignore", category=DeprecationWarning)

    from benchmarks._common import RESULTS, add_code_paths, machine_info, service_versions

    add_code_paths()
    import matplotlib

    matplotlib.use("Agg")
    RESULTS.mkdir(parents=True, exist_ok=True)

    from claw_local.services import apply_dummy_aws_env, free_port, start_moto_process

    apply_dummy_aws_env(override=True)
    # Handlers log one JSON line per request; at thousands of requests that is noise (and cost)
    # the benchmark does not want to measure. Lambda would ship them to CloudWatch asynchronously.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    areas = list(args.only or AREAS)
    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="claw-bench-"))
    from claw_local.platform import LocalPlatform

    print(f"starting the local platform in {data_dir} ...", flush=True)
    database_url = os.environ.get("BENCH_DATABASE_URL") or None
    stop_postgres = None
    if database_url is None:
        from claw_local.services import start_postgres

        # PostgreSQL sized as a production server is: RDS gives shared_buffers 25% of the
        # instance's memory (1 GB on a 4 GB instance); the development default is 128 MB, less
        # than the 100k-chunk table and its indexes, which would put every search on the OS cache.
        database_url, stop_postgres = start_postgres(data_dir / "postgres", settings=POSTGRES_SETTINGS)
    aws_endpoint_url = os.environ.get("BENCH_AWS_ENDPOINT_URL") or None
    stop_aws = None
    if aws_endpoint_url is None:
        # S3 and SQS in a process of their own, as on AWS they are outside the function: the
        # emulator's request handling must not share the measured process's GIL.
        aws_endpoint_url, stop_aws = start_moto_process(free_port())
    platform = LocalPlatform(
        data_dir,
        gateway_port=free_port(),
        aws_port=free_port(),
        database_url=database_url,
        aws_endpoint_url=aws_endpoint_url,
        redis_url=os.environ.get("BENCH_REDIS_URL") or None,
        extra_env={"POWERTOOLS_DEV": "false", "POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    sections = []
    machine = machine_info()
    try:
        # No SQS pollers: the ingest benchmark calls the pipeline itself, and objects it writes
        # to the bucket must not be ingested a second time by the event source in the background.
        platform.start(serve=True, poll=False)
        print(f"platform up in {time.perf_counter() - started:.1f}s", flush=True)
        machine = machine_info(service_versions(os.environ["DATABASE_URL"], os.environ["REDIS_URL"]))
        for area in areas:
            module = __import__(f"benchmarks.{area}", fromlist=["run"])
            print(f"\n=== {area} ===", flush=True)
            t0 = time.perf_counter()
            try:
                # Handlers print their metrics (EMF) and logs to stdout, a line per request: keep the
                # cost (a write), drop the noise. Tables go to the real stdout.
                with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                    section = module.run(args.quick, platform)
            except Exception as exc:
                traceback.print_exc()
                from benchmarks._common import Section

                section = Section(area, area, error=f"{type(exc).__name__}: {exc}")
            section.seconds = time.perf_counter() - t0
            print(f"[{area}: {section.seconds:.1f}s]", flush=True)
            sections.append(section)
    finally:
        platform.stop()
        if stop_postgres is not None:
            stop_postgres()
        if stop_aws is not None:
            stop_aws()
        shutil.rmtree(data_dir, ignore_errors=True)

    from benchmarks.report import write_report

    total = time.perf_counter() - started
    path = write_report(sections, machine, quick=args.quick, total_s=total, output=args.output)
    print(f"\nwrote {path} ({total:.0f}s in all)")
    return 1 if any(s.error for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
