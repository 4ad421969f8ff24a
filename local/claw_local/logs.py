"""Where the functions' output goes under ``make dev``.

On AWS each function writes to its own log group, and CloudWatch turns the EMF lines into
metrics, so nobody reads them. Here every function shares the console, so
:class:`FunctionOutput` sends what a function prints while it runs (Powertools' JSON log
lines and EMF metric lines) to ``<log_dir>/<function>.log``, and only the log lines on to the
console. ``make logs`` follows all the files at once.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

_EMF_MARKER = '"_aws"'


def is_emf(line: str) -> bool:
    """An Embedded Metric Format line (a metric, not a log message)."""
    return _EMF_MARKER in line and '"CloudWatchMetrics"' in line


class FunctionOutput(io.TextIOBase):
    """A ``sys.stdout`` that knows which function the writing thread is running."""

    def __init__(self, console: TextIO, log_dir: Path) -> None:
        super().__init__()
        self.console = console
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._current = threading.local()
        self._files: dict[str, TextIO] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def function(self, name: str) -> Iterator[None]:
        """Route this thread's output to ``name``'s file while the block runs."""
        previous = getattr(self._current, "name", None)
        self._current.name = name
        try:
            yield
        finally:
            self._current.name = previous
            self._current.pending = ""

    def _file(self, name: str) -> TextIO:
        handle = self._files.get(name)
        if handle is None:
            handle = open(self.log_dir / f"{name}.log", "a", encoding="utf-8", buffering=1)
            self._files[name] = handle
        return handle

    def write(self, text: str) -> int:
        name = getattr(self._current, "name", None)
        if name is None:
            return self.console.write(text)
        pending = getattr(self._current, "pending", "") + text
        *lines, rest = pending.split("\n")
        self._current.pending = rest
        with self._lock:
            handle = self._file(name)
            for line in lines:
                handle.write(line + "\n")
                if not is_emf(line):
                    self.console.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(Exception):
            self.console.flush()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.console, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.console.fileno()

    def isatty(self) -> bool:
        return self.console.isatty()

    def close_files(self) -> None:
        with self._lock:
            for handle in self._files.values():
                with contextlib.suppress(Exception):
                    handle.close()
            self._files.clear()


_installed: FunctionOutput | None = None


def install(log_dir: Path) -> FunctionOutput:
    """Make ``sys.stdout`` a :class:`FunctionOutput` (before any function is imported: Powertools'
    logger keeps the stream it found at import)."""
    global _installed
    if _installed is None:
        _installed = FunctionOutput(sys.stdout, log_dir)
        sys.stdout = _installed
    return _installed


def output_of(name: str) -> Any:
    """The context in which a function runs: its output goes to its file when installed."""
    if _installed is None:
        return contextlib.nullcontext()
    return _installed.function(name)
