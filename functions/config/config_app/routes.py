"""Routes of the config function."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from claw_common.health import check_health

router = APIRouter()


@router.get("/health", tags=["health"], summary="Database and cache status (no auth)")
def health() -> JSONResponse:
    healthy, body = check_health()
    return JSONResponse(body, status_code=200 if healthy else 503)
