"""Schemathesis over the platform's OpenAPI documents, through the real local gateway.

``fuzz_document`` generates requests for every operation of one document (schema-conforming
and deliberately broken ones, with a fixed seed), sends them as one caller and checks each
response with schemathesis' own checks: no server error, a status code the document
declares, a declared content type. It never stops at the first failure: the report lists
every distinct one, so a run shows all that is left to fix.

The client sends from its own loopback address (``FUZZ_IP``, allow-listed for the run by the
caller) so that failed logins and IP buckets of the fuzz do not lock out the rest of the suite.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

FUZZ_IP = "127.0.0.3"


class _SourceAddressAdapter(HTTPAdapter):
    def __init__(self, source_ip: str) -> None:
        self.source_ip = source_ip
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


def fuzz_session(source_ip: str = FUZZ_IP) -> requests.Session:
    """A requests session whose connections come from ``source_ip``."""
    session = requests.Session()
    adapter = _SourceAddressAdapter(source_ip)
    session.mount("http://", adapter)
    return session


@dataclass
class FuzzReport:
    """What one run sent and found."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # "METHOD /path: check" -> an example
    seconds: float = 0.0

    def add(self, other: FuzzReport) -> None:
        self.requests += other.requests
        self.statuses.update(other.statuses)
        for key, example in other.failures.items():
            self.failures.setdefault(key, example)
        self.seconds += other.seconds

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        return f"{self.requests} requests in {self.seconds:.0f} s ({codes}); {len(self.failures)} distinct failures"


def fuzz_document(
    base_url: str,
    openapi_path: str,
    *,
    headers: dict[str, str],
    examples: int,
    seed: int,
    session: requests.Session,
    exclude: frozenset[str] = frozenset(),
) -> FuzzReport:
    """Fuzz every operation of one OpenAPI document (``examples`` cases per operation and mode)."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

    checks = [not_a_server_error, status_code_conformance, content_type_conformance]
    schema = schemathesis.openapi.from_url(base_url + openapi_path)
    report = FuzzReport()
    started = time.monotonic()

    def record(label: str, case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        report.requests += 1
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks, headers=headers)
        # A failed check is a FailureGroup (a BaseExceptionGroup); record it and go on.
        except (Exception, BaseExceptionGroup) as exc:
            first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            report.failures.setdefault(f"{label}: {first[:120]}", f"{response.status_code} {response.text[:300]}")

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in exclude:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @fixed_seed(seed)
            @settings(
                max_examples=examples,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def one(case: Any) -> None:
                record(label, case)  # noqa: B023 - called before the loop moves on

            try:
                one()
            except Unsatisfiable:
                pass  # nothing to break (an operation without parameters or body, in negative mode)
    report.seconds = time.monotonic() - started
    return report
