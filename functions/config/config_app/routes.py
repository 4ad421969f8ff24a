"""Routes of the config function.

Fixed paths (``/configs/public``, ``/configs/audit/log``, ``/configs/reload``, ``/configs/export``,
``/configs/import``) are declared before ``/configs/{key}`` so that they are never taken for a
key (valid keys contain a dot, so none of them could be one anyway).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Body, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from claw_common.errors import BadRequest
from claw_common.health import check_health
from claw_common.http.app import api_router
from claw_common.http.pagination import Cursor, Limit
from claw_common.http.security import AdminDep, CallerDep
from config_app import reads, transfer, writes
from config_app.models import (
    AuditPage,
    ConfigCreate,
    ConfigOut,
    ConfigPage,
    ConfigUpdate,
    DeleteRequest,
    ExportDocument,
    ExportRequest,
    HistoryPage,
    ImportRequest,
    ImportResult,
    PublicConfigPage,
    ReloadResult,
    RollbackRequest,
)

router = api_router()

IfMatch = Annotated[str | None, Header(alias="If-Match", description='The expected version, e.g. `"3"`.')]

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


@router.get("/health", tags=["health"], summary="Database and cache status (no auth)")
def health() -> JSONResponse:
    healthy, body = check_health()
    return JSONResponse(body, status_code=200 if healthy else 503)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _expected_version(if_match: str | None, body_version: int | None) -> int | None:
    """The expected version from ``If-Match`` or the body (400 if they disagree or the header is malformed)."""
    header_version: int | None = None
    if if_match is not None:
        match = _ETAG.match(if_match)
        if not match:
            raise BadRequest('If-Match must hold the expected version, e.g. "3".')
        header_version = int(match.group(1))
    if header_version is not None and body_version is not None and header_version != body_version:
        raise BadRequest("If-Match and the body's version disagree.")
    return header_version if header_version is not None else body_version


def _with_etag(response: Response, out: ConfigOut) -> ConfigOut:
    response.headers["ETag"] = f'"{out.version}"'
    return out


@router.get("/configs", tags=["configs"], summary="List configs (admin)", response_model=ConfigPage)
def list_configs(
    _: AdminDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    prefix: Annotated[str | None, Query(max_length=128, description="Only keys starting with this.")] = None,
) -> Any:
    return reads.list_configs(limit=limit, cursor=cursor, prefix=prefix)


@router.post(
    "/configs",
    tags=["configs"],
    summary="Create a config (admin)",
    status_code=status.HTTP_201_CREATED,
    response_model=ConfigOut,
)
def create_config(body: ConfigCreate, caller: AdminDep, request: Request, response: Response) -> Any:
    return _with_etag(response, writes.create_config(body, caller, _request_id(request)))


@router.get("/configs/public", tags=["configs"], summary="Public configs (no auth)", response_model=PublicConfigPage)
def public_configs(limit: Limit = 100, cursor: Cursor = None) -> Any:
    return reads.list_public(limit=limit, cursor=cursor)


@router.get("/configs/audit/log", tags=["configs"], summary="Audit log (admin)", response_model=AuditPage)
def audit_log(
    _: AdminDep,
    key: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=128, description="user_id of the actor.")] = None,
    action: Annotated[str | None, Query(max_length=32, description="create, update, reveal, export, …")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive, ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (ISO 8601).")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Any:
    return reads.audit_log(key=key, actor=actor, action=action, since=since, until=until, limit=limit, cursor=cursor)


@router.post("/configs/reload", tags=["configs"], summary="Drop config caches (admin)", response_model=ReloadResult)
def reload(caller: AdminDep, request: Request) -> Any:
    return writes.reload_caches(caller, _request_id(request))


@router.post("/configs/export", tags=["configs"], summary="Export configs (admin)", response_model=ExportDocument)
def export(caller: AdminDep, request: Request, body: Annotated[ExportRequest | None, Body()] = None) -> Any:
    return transfer.export_configs(body or ExportRequest(), caller, _request_id(request))


@router.post("/configs/import", tags=["configs"], summary="Import configs (admin)", response_model=ImportResult)
def import_(body: ImportRequest, caller: AdminDep, request: Request) -> Any:
    return transfer.import_configs(body, caller, _request_id(request))


@router.get("/configs/{key}", tags=["configs"], summary="Get a config", response_model=ConfigOut)
def get_config(
    key: str,
    caller: CallerDep,
    request: Request,
    response: Response,
    reveal: Annotated[bool, Query(description="Admins: show a sensitive value in clear (audited).")] = False,
) -> Any:
    return _with_etag(response, reads.get_config(key, caller, reveal=reveal, request_id=_request_id(request)))


@router.put("/configs/{key}", tags=["configs"], summary="Update a config (admin)", response_model=ConfigOut)
def update_config(
    key: str, body: ConfigUpdate, caller: AdminDep, request: Request, response: Response, if_match: IfMatch = None
) -> Any:
    expected = _expected_version(if_match, body.version)
    return _with_etag(response, writes.update_config(key, body, expected, caller, _request_id(request)))


@router.delete(
    "/configs/{key}",
    tags=["configs"],
    summary="Delete a config (admin)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def delete_config(
    key: str,
    caller: AdminDep,
    request: Request,
    if_match: IfMatch = None,
    version: Annotated[int | None, Query(ge=1, description="The expected version (or If-Match).")] = None,
    body: Annotated[DeleteRequest | None, Body()] = None,
) -> Response:
    body_version = body.version if body is not None else None
    if version is not None and body_version is not None and version != body_version:
        raise BadRequest("The query's and the body's version disagree.")
    expected = _expected_version(if_match, version if version is not None else body_version)
    writes.delete_config(key, expected, caller, _request_id(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/configs/{key}/history", tags=["configs"], summary="History of a config (admin)", response_model=HistoryPage
)
def config_history(key: str, _: AdminDep, limit: Limit = 50, cursor: Cursor = None) -> Any:
    return reads.history(key, limit=limit, cursor=cursor)


@router.post(
    "/configs/{key}/rollback", tags=["configs"], summary="Roll back to a version (admin)", response_model=ConfigOut
)
def rollback(
    key: str, body: RollbackRequest, caller: AdminDep, request: Request, response: Response, if_match: IfMatch = None
) -> Any:
    expected = _expected_version(if_match, body.expected_version)
    return _with_etag(response, writes.rollback_config(key, body.version, expected, caller, _request_id(request)))
