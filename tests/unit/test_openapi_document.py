"""The committed OpenAPI document (served at /api/v1/openapi.json) matches the functions' routes."""

from __future__ import annotations

from infra.openapi import OUTPUT, build, render


def test_the_committed_document_is_up_to_date() -> None:
    # Given the routes the functions declare now, when the document is merged again,
    # then it is the committed one (else: `make openapi`, and commit the result)
    assert OUTPUT.read_text(encoding="utf-8") == render(build()), "stale: run `make openapi`"
