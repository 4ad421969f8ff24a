"""Freezing the test platform's own Valkey and PostgreSQL (SIGSTOP / SIGCONT), replacing a local
function's code (a crash, a wrong answer, a hang), and timing requests.

Only the processes of the session's platform are touched: Valkey's server process and the
PostgreSQL postmaster of the platform's data folder with its children (backends, background
workers). A frozen process keeps its sockets: the kernel still accepts connections and bytes,
nothing answers — the way a hung server or a frozen host looks to a client.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def valkey_pids(platform: Any) -> list[int]:
    """The platform's Valkey server process."""
    valkey = platform.services.valkey
    process = getattr(valkey, "_process", None)
    if process is None or process.poll() is not None:
        raise RuntimeError("the platform's Valkey is not a process this test session started")
    return [process.pid]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def postgres_pids(platform: Any) -> list[int]:
    """The postmaster of the platform's data folder and its children."""
    pid_file = Path(platform.data_dir) / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        raise RuntimeError("the platform's PostgreSQL is not one this test session started")
    postmaster = int(pid_file.read_text().splitlines()[0])
    return [postmaster, *_children(postmaster)]


@contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """SIGSTOP ``pids`` for the block, SIGCONT afterwards (always)."""
    stopped = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


@contextmanager
def running(function: Any, handler: Callable[[Any, Any], Any]) -> Iterator[None]:
    """A function of the local runtime (``platform.lambdas[...]``) runs ``handler`` instead of its
    code for the block: what its callers see when it crashes, answers wrongly or hangs."""
    original = function._handler
    function._handler = handler
    try:
        yield
    finally:
        function._handler = original


def timed(call: Any) -> tuple[Any, float]:
    """(result, seconds) of ``call()``."""
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started
