"""Keeps the AWS emulator's state (S3, KMS, SQS, Secrets Manager) across restarts of ``make dev``.

moto keeps everything in memory and has no persistence of its own; its request recorder
replays requests, which gives new S3 version ids, new KMS key material and re-delivers every
processed SQS message, so a replay cannot stand in for the state. LocalStack's persistence
needs its container. What is saved here is moto's own backend objects, pickled whole: every
object with all its versions, bucket settings, the KMS key material and aliases, queues with
their queued and in-flight messages. The moto server runs in the platform's process, so the
backends are at hand. A few members of those objects do not pickle (locks, the RSA key moto
makes for every KMS key); they are rebuilt on load.

Saved when the platform stops and every ``interval`` seconds while it runs, to one file
written atomically; ``make clean`` removes it. A snapshot from another moto version that no
longer loads is set aside (``*.unreadable``) with a warning, never fatal.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("claw_local")

SERVICES = ("s3", "kms", "sqs", "secretsmanager")
# What unpickling objects of a changed class can raise.
_UNREADABLE = (
    pickle.UnpicklingError,
    EOFError,
    AttributeError,
    ImportError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
)
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _new_lock() -> Any:
    return threading.Lock()


def _new_rlock() -> Any:
    return threading.RLock()


def _rebuild_multivalue_dict(cls: type, items: list[tuple[Any, list[Any]]], attrs: dict[str, Any]) -> Any:
    store = cls()
    for key, values in items:
        dict.__setitem__(store, key, values)
    store.__dict__.update(attrs)
    return store


def _load_private_key(pem: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem, password=None)


class _StatePickler(pickle.Pickler):
    """Pickles moto's backends, rebuilding locks and turning private keys into PEM."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return (_new_rlock if "RLock" in type(obj).__name__ else _new_lock), ()
        if isinstance(obj, dict) and hasattr(obj, "getlist") and hasattr(obj, "setlist"):
            # S3's versioned key store: its items() yields only each key's latest version.
            items = [(key, list(dict.__getitem__(obj, key))) for key in dict.keys(obj)]
            return _rebuild_multivalue_dict, (type(obj), items, dict(vars(obj)))
        if type(obj).__module__.startswith("cryptography") and hasattr(obj, "private_bytes"):
            from cryptography.hazmat.primitives import serialization

            pem = obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            return _load_private_key, (pem,)
        return NotImplemented


def _backends(service: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)  # type: ignore[call-overload]


def snapshot() -> bytes:
    """The state of every service in :data:`SERVICES`, as bytes."""
    state: dict[str, dict[str, dict[str, Any]]] = {}
    for service in SERVICES:
        state[service] = {
            account: dict(dict.items(regions)) for account, regions in dict.items(_backends(service)) if len(regions)
        }
    buffer = io.BytesIO()
    _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
    return buffer.getvalue()


def restore(data: bytes) -> int:
    """Put a :func:`snapshot` back into the running emulator; returns the backends restored."""
    state = pickle.loads(data)  # noqa: S301 - our own file in the local data folder
    restored = 0
    for service, accounts in state.items():
        backends = _backends(service)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                backends[account][region] = backend
                restored += 1
    return restored


class AwsStateFile:
    """The emulator's state in ``path``: loaded at start, saved at stop and periodically."""

    def __init__(self, path: Path, interval: float = 10.0) -> None:
        self.path = Path(path)
        self.interval = interval
        self._last: bytes | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._save_lock = threading.Lock()

    def load(self) -> bool:
        if not self.path.exists():
            return False
        data = self.path.read_bytes()
        try:
            count = restore(data)
        except _UNREADABLE as exc:  # e.g. another moto version's objects: keep the file for a look, start empty
            aside = self.path.with_suffix(self.path.suffix + ".unreadable")
            os.replace(self.path, aside)
            log.warning("the saved S3/KMS/SQS state could not be loaded (%s); it was moved to %s", exc, aside)
            return False
        self._last = data
        log.info("S3/KMS/SQS state restored from %s (%d backends)", self.path, count)
        return True

    def save(self) -> None:
        with self._save_lock:
            for _ in range(3):  # a request may change a backend while it is being pickled
                try:
                    data = snapshot()
                    break
                except RuntimeError:
                    continue
            else:
                log.warning("the S3/KMS/SQS state changed during every save attempt; saved at the next one")
                return
            if data == self._last:
                return
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.chmod(0o600)
            os.replace(tmp, self.path)
            self._last = data

    def start_autosave(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aws-state", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save()
            except Exception:
                log.exception("saving the S3/KMS/SQS state failed")

    def stop(self) -> None:
        """Stop autosaving and save once more (call after the emulator stopped serving)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self.save()
