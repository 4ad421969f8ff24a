"""The post-deploy smoke test, run against the local platform as a user would run it."""

from __future__ import annotations

from typing import Any

from scripts.smoke_test import run


def test_smoke_test_passes_against_the_local_platform(platform: Any) -> None:
    lines: list[str] = []
    seen = run(platform.gateway_url, timeout_s=60, log=lines.append)
    assert seen["document"]["status"] == "ready"
    assert seen["answer"]["sources"][0]["document_id"] == seen["document"]["id"]
    assert [line.split()[1] for line in lines] == ["health:", "sign-up", "document", "query:", "chat:"]
