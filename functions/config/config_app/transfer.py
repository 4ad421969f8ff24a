"""Export and import of the whole configuration (merge or overwrite, dry run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from claw_common.auth.caller import Caller
from claw_common.config.envelope import Sealed
from claw_common.config.schema import value_errors
from claw_common.data import db
from claw_common.errors import Conflict, ValidationFailed
from claw_common.observability import logger
from config_app import repository as repo
from config_app.models import MASK, ExportDocument, ExportRequest, ImportItem, ImportRequest, ImportResult
from config_app.state import (
    Row,
    State,
    after_commit,
    apply_change,
    audit,
    config_out,
    count_change,
    masked_value,
    plain_value,
)


def export_configs(body: ExportRequest, caller: Caller, request_id: str | None) -> ExportDocument:
    """All live keys (or a prefix / a list), masked unless the admin asks to reveal (audited)."""
    items: list[dict[str, Any]] = []
    revealed: list[str] = []
    wanted = set(body.keys) if body.keys is not None else None
    with db.connection() as conn:
        after: str | None = None
        while True:
            rows = repo.list_live(conn, after=after, limit=500, prefix=body.prefix)
            for row in rows:
                if wanted is not None and row["key"] not in wanted:
                    continue
                reveal = body.reveal and row["is_sensitive"]
                if reveal:
                    revealed.append(row["key"])
                out = config_out(row, reveal=reveal)
                fields = {"key", "value", "description", "is_sensitive", "is_public", "version", "masked"}
                items.append(out.model_dump(include=fields))
            if len(rows) < 500:
                break
            after = rows[-1]["key"]
        audit(
            conn,
            caller,
            "export",
            request_id,
            detail={"count": len(items), "revealed": body.reveal, "revealed_keys": revealed, "prefix": body.prefix},
        )
    if revealed:
        logger.info("sensitive configs revealed by export", extra={"count": len(revealed), "actor": caller.user_id})
        count_change("ConfigRevealed")
    return ExportDocument.model_validate({"exported_at": datetime.now(UTC), "revealed": body.reveal, "items": items})


@dataclass
class _Planned:
    key: str
    action: str  # create | update | delete
    current: Row | None
    state: State | None
    old_value: Any
    new_value: Any


def _validate_import(body: ImportRequest) -> None:
    """Every item checked before anything is read or written; all errors reported at once."""
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(body.items):
        loc: tuple[str | int, ...] = ("body", "items", str(i))
        if item.key in seen:
            errors.append({"loc": [*loc, "key"], "msg": "duplicate key in the import", "type": "value_error"})
        seen.add(item.key)
        if item.is_sensitive and item.is_public:
            errors.append(
                {
                    "loc": [*(str(p) for p in loc), "is_public"],
                    "msg": "a sensitive key cannot be public",
                    "type": "value_error",
                }
            )
        if item.masked:
            if item.is_sensitive is False:
                errors.append(
                    {"loc": [*loc, "masked"], "msg": "a masked value needs a sensitive key", "type": "value_error"}
                )
            continue
        if item.value is None:
            errors.append({"loc": [*loc, "value"], "msg": "Field required (not null)", "type": "missing"})
            continue
        errors.extend(value_errors(item.key, item.value, (*loc, "value")))
    if errors:
        raise ValidationFailed(f"The import is not valid ({len(errors)} errors); nothing was written.", errors=errors)


def _same_value(current: Row, item: ImportItem) -> bool:
    if item.masked:
        return True
    return bool(plain_value(current) == item.value)


def _plan(body: ImportRequest, locked: dict[str, Row]) -> tuple[list[_Planned], list[str]]:
    planned: list[_Planned] = []
    unchanged: list[str] = []
    errors: list[dict[str, Any]] = []
    for i, item in enumerate(body.items):
        current = locked.get(item.key)
        live = current if current is not None and current["deleted_at"] is None else None
        description = item.description if item.description is not None else (live["description"] if live else "")
        is_sensitive = item.is_sensitive if item.is_sensitive is not None else bool(live and live["is_sensitive"])
        is_public = item.is_public if item.is_public is not None else bool(live and live["is_public"])
        if is_sensitive and is_public:
            errors.append(
                {
                    "loc": ["body", "items", str(i), "is_public"],
                    "msg": "a sensitive key cannot be public",
                    "type": "value_error",
                }
            )
            continue
        if item.masked and not (live and live["is_sensitive"] and is_sensitive):
            errors.append(
                {
                    "loc": ["body", "items", str(i), "masked"],
                    "msg": "a masked value can only keep the value of an existing sensitive key",
                    "type": "value_error",
                }
            )
            continue
        if item.masked:
            assert live is not None
            sealed = Sealed(bytes(live["value_ciphertext"]), bytes(live["value_data_key"]))
            state = State(None, description, True, is_public, sealed)
        else:
            state = State(item.value, description, is_sensitive, is_public)
        new_value = MASK if is_sensitive else item.value
        if live is None:
            planned.append(_Planned(item.key, "create", current, state, None, new_value))
        elif (
            _same_value(live, item)
            and description == live["description"]
            and is_sensitive == live["is_sensitive"]
            and is_public == live["is_public"]
        ):
            unchanged.append(item.key)
        else:
            planned.append(_Planned(item.key, "update", current, state, masked_value(live), new_value))
    if errors:
        raise ValidationFailed(f"The import is not valid ({len(errors)} errors); nothing was written.", errors=errors)
    if body.mode == "overwrite":
        listed = {item.key for item in body.items}
        for key in sorted(locked):
            row = locked[key]
            in_scope = body.prefix is None or key.startswith(body.prefix)
            if key not in listed and row["deleted_at"] is None and in_scope:
                planned.append(_Planned(key, "delete", row, None, masked_value(row), None))
    return planned, unchanged


def import_configs(body: ImportRequest, caller: Caller, request_id: str | None) -> ImportResult:
    """Import in one transaction: all items validated first, then every change written, or none.

    A dry run plans under the same locks and rolls back, so it reports exactly what an import
    would do right now and writes nothing (not even an audit row).
    """
    import psycopg

    _validate_import(body)
    keys = None if body.mode == "overwrite" else sorted({item.key for item in body.items})
    written: list[Row] = []
    try:
        with db.connection() as conn:
            locked = repo.lock_many(conn, keys)
            planned, unchanged = _plan(body, locked)
            if not body.dry_run:
                for change in planned:
                    row = apply_change(
                        conn, key=change.key, current=change.current, state=change.state, action="import", caller=caller
                    )
                    written.append(row)
                audit(
                    conn,
                    caller,
                    "import",
                    request_id,
                    detail={
                        "mode": body.mode,
                        "created": [c.key for c in planned if c.action == "create"],
                        "updated": [c.key for c in planned if c.action == "update"],
                        "deleted": [c.key for c in planned if c.action == "delete"],
                    },
                )
            else:
                conn.rollback()
    except psycopg.errors.UniqueViolation as exc:  # a key was created concurrently
        raise Conflict("A key of the import was created concurrently; nothing was written. Retry.") from exc
    if written:
        after_commit(written)
    versions = {row["key"]: row["version"] for row in written}
    logger.info(
        "config import",
        extra={"mode": body.mode, "dry_run": body.dry_run, "changes": len(planned), "unchanged": len(unchanged)},
    )
    return ImportResult.model_validate(
        {
            "dry_run": body.dry_run,
            "mode": body.mode,
            "created": [c.key for c in planned if c.action == "create"],
            "updated": [c.key for c in planned if c.action == "update"],
            "deleted": [c.key for c in planned if c.action == "delete"],
            "unchanged": unchanged,
            "changes": [
                {
                    "key": c.key,
                    "action": c.action,
                    "old_value": c.old_value,
                    "new_value": c.new_value,
                    "version": versions.get(c.key),
                }
                for c in planned
            ],
        }
    )
