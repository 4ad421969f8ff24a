"""Shared fixtures: the real local platform, started once per test session.

PostgreSQL + pgvector (embedded), Valkey (embedded), S3 + SQS (moto server), the gateway
on a free loopback port and the SQS event source, exactly as ``make dev`` runs them, in a
temporary data folder. Set DATABASE_URL / REDIS_URL / AWS_ENDPOINT_URL to use external ones.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from claw_local.services import apply_dummy_aws_env, free_port

apply_dummy_aws_env(override=True)
# Powertools reads these when the first handler module is imported, which may happen in a
# test module before the platform fixture runs: set them now, as the template does.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "claw-local")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ClawAI")
warnings.filterwarnings("ignore", message="No application metrics to publish")

# Short enough that a failing message reaches the DLQ in seconds; the template's value
# (6 x the ingest timeout) is checked separately in the template tests.
TEST_VISIBILITY_TIMEOUT = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``run_last`` (faults, fuzzing) go after all others, in their own order."""
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from claw_local.platform import LocalPlatform

    data_dir = tmp_path_factory.mktemp("claw-data")
    p = LocalPlatform(
        data_dir,
        gateway_port=free_port(),
        aws_port=free_port(),
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        aws_endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        visibility_timeout_override=TEST_VISIBILITY_TIMEOUT,
        # 3 pages per OCR message: a 5-page scan already goes through more than one OCR invocation.
        extra_env={"CLAW_STAGE": "test", "POWERTOOLS_DEV": "false", "OCR_PAGES_PER_MESSAGE": "3"},
    )
    p.start()
    yield p
    p.stop()


@pytest.fixture(scope="session")
def api(platform: Any) -> Iterator[Any]:
    """An HTTP client for the local gateway."""
    import httpx

    with httpx.Client(base_url=platform.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture()
def db(platform: Any) -> Iterator[Any]:
    """A connection to the platform's database (autocommit)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture()
def s3(platform: Any) -> Any:
    from claw_common.aws import aws_client

    return aws_client("s3")


@pytest.fixture()
def sqs(platform: Any) -> Any:
    from claw_common.aws import aws_client

    return aws_client("sqs")


@pytest.fixture()
def unique() -> str:
    return uuid.uuid4().hex[:10]


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate`` returns something truthy; fail with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
