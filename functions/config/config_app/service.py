"""The config service's logic: every change is one transaction writing the new state, exactly
one history row per key changed and one audit row; caches are updated after the commit.

Sensitive values are sealed with KMS envelope encryption before they reach the database and
are only decrypted for an admin who asks to reveal them (which is audited).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from claw_common.auth.caller import Caller
from claw_common.config.envelope import Sealed, seal, unseal
from claw_common.config.reader import drop_caches, entry_from_row, forget_local, publish_entry
from claw_common.config.schema import is_valid_key, value_errors
from claw_common.data import db
from claw_common.errors import Conflict, NotFound, ValidationFailed
from claw_common.http.pagination import KeyPosition, SeqPosition, encode_cursor, optional_position
from claw_common.observability import MetricUnit, logger, metrics
from config_app import repository as repo
from config_app.models import MASK, ConfigCreate, ConfigUpdate, ExportRequest, ImportItem, ImportRequest

Row = dict[str, Any]


@dataclass(frozen=True)
class State:
    """What a key holds after a change. ``sealed`` is set (and ``value`` unused) when sensitive."""

    value: Any
    description: str
    is_sensitive: bool
    is_public: bool
    sealed: Sealed | None = None


# ----------------------------------------------------------------------------- helpers


def masked_value(row: Row) -> Any:
    """The value as anyone may see it: the mask for a sensitive key."""
    return MASK if row["is_sensitive"] else row["value"]


def _plain_value(row: Row) -> Any:
    """The real value of a live row (decrypts a sensitive one)."""
    if not row["is_sensitive"]:
        return row["value"]
    sealed = Sealed(bytes(row["value_ciphertext"]), bytes(row["value_data_key"]))
    return json.loads(unseal(sealed, name=row["key"]))


def config_out(row: Row, *, reveal: bool = False) -> dict[str, Any]:
    """The API form of a live row."""
    hide = bool(row["is_sensitive"]) and not reveal
    return {
        "key": row["key"],
        "value": MASK if hide else _plain_value(row),
        "description": row["description"],
        "is_sensitive": row["is_sensitive"],
        "is_public": row["is_public"],
        "version": row["version"],
        "updated_by": row["updated_by"],
        "updated_at": row["updated_at"],
        "created_at": row["created_at"],
        "masked": hide,
    }


def _seal_state(key: str, state: State) -> State:
    if state.is_sensitive and state.sealed is None:
        sealed = seal(json.dumps(state.value, separators=(",", ":"), ensure_ascii=False).encode(), name=key)
        return State(None, state.description, True, state.is_public, sealed)
    return state


def _check_value(key: str, value: Any, loc: tuple[str | int, ...] = ("body", "value")) -> None:
    errors = value_errors(key, value, loc)
    if errors:
        raise ValidationFailed(f"Invalid value for config key {key!r}.", errors=errors)


def _check_flags(is_sensitive: bool, is_public: bool, loc: tuple[str | int, ...] = ("body",)) -> None:
    if is_sensitive and is_public:
        raise ValidationFailed(
            "A sensitive key cannot be public.",
            errors=[
                {
                    "loc": [*(str(p) for p in loc), "is_public"],
                    "msg": "a sensitive key cannot be public",
                    "type": "value_error",
                }
            ],
        )


def _apply(
    conn: Any,
    *,
    key: str,
    current: Row | None,
    state: State | None,
    action: str,
    caller: Caller,
    rolled_back_to: int | None = None,
) -> Row:
    """Write ``state`` (None = delete) over the locked ``current`` row, plus its one history row."""
    old_live = current is not None and current["deleted_at"] is None
    old_value = masked_value(current) if old_live and current is not None else None
    if state is None:
        assert current is not None
        row = repo.tombstone(conn, key=key, current=current, actor=caller.user_id)
        new_value = None
    else:
        state = _seal_state(key, state)
        row = repo.write_state(
            conn,
            key=key,
            current=current,
            actor=caller.user_id,
            value=state.value,
            ciphertext=state.sealed.ciphertext if state.sealed else None,
            data_key=state.sealed.encrypted_key if state.sealed else None,
            description=state.description,
            is_sensitive=state.is_sensitive,
            is_public=state.is_public,
        )
        new_value = masked_value(row)
    if row is None:  # the locked row's version moved: cannot happen under FOR UPDATE, kept as a guard
        raise Conflict("The config changed while it was being written; read it again and retry.")
    repo.add_history(
        conn,
        row=row,
        action=action,
        actor=caller.user_id,
        old_value=old_value,
        new_value=new_value,
        rolled_back_to=rolled_back_to,
    )
    return row


def _after_commit(rows: list[Row]) -> None:
    """Publish the new state of changed keys to the shared cache (newer versions only)."""
    for row in rows:
        publish_entry(row["key"], entry_from_row(row))
        forget_local(row["key"])


def _check_version(current: Row, expected: int | None) -> None:
    if expected is not None and current["version"] != expected:
        raise Conflict(
            f"Version {expected} is stale; the config is at version {current['version']}.",
            extra={"current_version": current["version"]},
        )


def _live_or_404(current: Row | None, key: str) -> Row:
    if current is None or current["deleted_at"] is not None:
        raise NotFound(f"Config {key!r} was not found.")
    return current


def _audit(conn: Any, caller: Caller, action: str, request_id: str | None, **kw: Any) -> None:
    repo.add_audit(conn, actor=caller.user_id, action=action, request_id=request_id, **kw)


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


# ----------------------------------------------------------------------------- reads


def list_configs(*, limit: int, cursor: str | None, prefix: str | None) -> dict[str, Any]:
    """Admins' list: every live key in key order, sensitive values masked."""
    after = optional_position(cursor, KeyPosition)
    with db.connection() as conn:
        rows = repo.list_live(conn, after=after, limit=limit + 1, prefix=prefix)
    page = rows[:limit]
    return {
        "items": [config_out(row) for row in page],
        "next_cursor": encode_cursor(page[-1]["key"]) if len(rows) > limit else None,
    }


def list_public(*, limit: int, cursor: str | None) -> dict[str, Any]:
    """Public keys, for anyone (never a sensitive one)."""
    after = optional_position(cursor, KeyPosition)
    with db.connection() as conn:
        rows = repo.list_live(conn, after=after, limit=limit + 1, public_only=True)
    page = rows[:limit]
    return {
        "items": [
            {
                "key": r["key"],
                "value": r["value"],
                "description": r["description"],
                "version": r["version"],
                "updated_at": r["updated_at"],
            }
            for r in page
        ],
        "next_cursor": encode_cursor(page[-1]["key"]) if len(rows) > limit else None,
    }


def get_config(key: str, caller: Caller, *, reveal: bool, request_id: str | None) -> dict[str, Any]:
    """One key. Non-admins see public keys only (others are 404, like a missing key); an admin
    may reveal a sensitive value, which is audited in the same transaction."""
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    with db.connection() as conn:
        row = repo.get(conn, key)
        if row is None or not (caller.is_admin or (row["is_public"] and not row["is_sensitive"])):
            raise NotFound(f"Config {key!r} was not found.")
        do_reveal = reveal and caller.is_admin and row["is_sensitive"]
        if do_reveal:
            _audit(conn, caller, "reveal", request_id, key=key, version=row["version"])
        out = config_out(row, reveal=do_reveal)
    if do_reveal:
        logger.info("sensitive config revealed", extra={"config_key": key, "actor": caller.user_id})
        _count("ConfigRevealed")
    return out


def history(key: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """History of a key, newest first (also after it was deleted)."""
    before = optional_position(cursor, SeqPosition)
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    with db.connection() as conn:
        rows = repo.history(conn, key, before=before, limit=limit + 1)
        # A key written outside this API (seeded by SQL) has no history yet but exists.
        if not rows and before is None and repo.get(conn, key) is None:
            raise NotFound(f"Config {key!r} was not found.")
    page = rows[:limit]
    return {
        "items": [
            {
                "version": r["version"],
                "action": r["action"],
                "actor": r["actor"],
                "old_value": r["old_value"],
                "new_value": r["new_value"],
                "at": r["at"],
                "rolled_back_to": r["rolled_back_to"],
                "is_sensitive": r["state_sensitive"],
            }
            for r in page
        ],
        "next_cursor": encode_cursor(page[-1]["version"]) if len(rows) > limit else None,
    }


def audit_log(
    *,
    key: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """The audit trail, newest first, filtered by key, actor, action and time."""
    before_id = optional_position(cursor, SeqPosition)
    with db.connection() as conn:
        rows = repo.audit(
            conn, key=key, actor=actor, action=action, since=since, until=until, before_id=before_id, limit=limit + 1
        )
    page = rows[:limit]
    return {
        "items": [
            {
                "id": r["id"],
                "at": r["at"],
                "actor": r["actor"],
                "action": r["action"],
                "key": r["key"],
                "version": r["version"],
                "detail": r["detail"],
                "request_id": r["request_id"],
            }
            for r in page
        ],
        "next_cursor": encode_cursor(page[-1]["id"]) if len(rows) > limit else None,
    }


# ----------------------------------------------------------------------------- writes


def create_config(body: ConfigCreate, caller: Caller, request_id: str | None) -> dict[str, Any]:
    """Create a key (409 when it exists; a deleted key is re-created with the next version)."""
    _check_flags(body.is_sensitive, body.is_public)
    _check_value(body.key, body.value)
    state = _seal_state(body.key, State(body.value, body.description, body.is_sensitive, body.is_public))
    import psycopg

    try:
        with db.connection() as conn:
            current = repo.lock(conn, body.key)
            if current is not None and current["deleted_at"] is None:
                raise Conflict(f"Config {body.key!r} already exists; update it instead.")
            row = _apply(conn, key=body.key, current=current, state=state, action="create", caller=caller)
            _audit(conn, caller, "create", request_id, key=body.key, version=row["version"])
    except psycopg.errors.UniqueViolation as exc:  # a concurrent create of the same key won
        raise Conflict(f"Config {body.key!r} already exists; update it instead.") from exc
    _after_commit([row])
    logger.info("config created", extra={"config_key": body.key, "version": row["version"]})
    return config_out(row)


def update_config(
    key: str, body: ConfigUpdate, expected: int | None, caller: Caller, request_id: str | None
) -> dict[str, Any]:
    """Change a key; ``expected`` is the version the caller read (409 when stale)."""
    given = body.model_fields_set
    if "value" in given and body.value is None:
        raise ValidationFailed(
            "value must not be null; delete the key instead.",
            errors=[{"loc": ["body", "value"], "msg": "value must not be null", "type": "value_error"}],
        )
    if not given - {"version"}:
        raise ValidationFailed(
            "Nothing to change: send value, description, is_sensitive or is_public.",
            errors=[{"loc": ["body"], "msg": "nothing to change", "type": "value_error"}],
        )
    if expected is None:
        raise ValidationFailed(
            "The expected version is required (body `version` or the If-Match header).",
            errors=[{"loc": ["body", "version"], "msg": "Field required", "type": "missing"}],
        )
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    if "value" in given:
        _check_value(key, body.value)
    with db.connection() as conn:
        current = _live_or_404(repo.lock(conn, key), key)
        _check_version(current, expected)
        is_sensitive = current["is_sensitive"] if body.is_sensitive is None else body.is_sensitive
        is_public = current["is_public"] if body.is_public is None else body.is_public
        _check_flags(is_sensitive, is_public)
        if "value" in given:
            state = State(body.value, current["description"], is_sensitive, is_public)
        elif current["is_sensitive"] and not is_sensitive:
            # Un-marking a secret without a new value would publish it: ask for the value.
            raise ValidationFailed(
                "Send a new value when a key stops being sensitive.",
                errors=[
                    {"loc": ["body", "value"], "msg": "required when is_sensitive becomes false", "type": "missing"}
                ],
            )
        elif current["is_sensitive"]:
            sealed = Sealed(bytes(current["value_ciphertext"]), bytes(current["value_data_key"]))
            state = State(None, current["description"], True, is_public, sealed)
        else:
            state = State(current["value"], current["description"], is_sensitive, is_public)
        if body.description is not None:
            state = State(state.value, body.description, state.is_sensitive, state.is_public, state.sealed)
        row = _apply(conn, key=key, current=current, state=state, action="update", caller=caller)
        _audit(conn, caller, "update", request_id, key=key, version=row["version"], detail={"fields": sorted(given)})
    _after_commit([row])
    logger.info("config updated", extra={"config_key": key, "version": row["version"]})
    return config_out(row)


def delete_config(key: str, expected: int | None, caller: Caller, request_id: str | None) -> None:
    """Delete a key (its history stays; it can be rolled back or re-created)."""
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    with db.connection() as conn:
        current = _live_or_404(repo.lock(conn, key), key)
        _check_version(current, expected)
        row = _apply(conn, key=key, current=current, state=None, action="delete", caller=caller)
        _audit(conn, caller, "delete", request_id, key=key, version=row["version"])
    _after_commit([row])
    logger.info("config deleted", extra={"config_key": key, "version": row["version"]})


def rollback_config(
    key: str, target: int, expected: int | None, caller: Caller, request_id: str | None
) -> dict[str, Any]:
    """Restore the key as it was at version ``target`` (value, description and flags) as a new version."""
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    with db.connection() as conn:
        current = repo.lock(conn, key)
        if current is None:
            raise NotFound(f"Config {key!r} was not found.")
        _check_version(current, expected)
        past = repo.history_version(conn, key, target)
        if past is None:
            raise NotFound(f"Config {key!r} has no version {target}.")
        # A deletion (by DELETE or by an overwrite import) left no value to restore.
        if past["action"] == "delete" or past["new_value"] is None:
            raise ValidationFailed(
                f"Version {target} is a deletion; there is no value to restore.",
                errors=[{"loc": ["body", "version"], "msg": "that version is a deletion", "type": "value_error"}],
            )
        if past["state_sensitive"]:
            sealed = Sealed(bytes(past["state_ciphertext"]), bytes(past["state_data_key"]))
            state = State(None, past["state_description"] or "", True, False, sealed)
        else:
            state = State(past["state_value"], past["state_description"] or "", False, bool(past["state_public"]))
        row = _apply(
            conn, key=key, current=current, state=state, action="rollback", caller=caller, rolled_back_to=target
        )
        _audit(conn, caller, "rollback", request_id, key=key, version=row["version"], detail={"to_version": target})
    _after_commit([row])
    logger.info("config rolled back", extra={"config_key": key, "version": row["version"], "to_version": target})
    return config_out(row)


def reload_caches(caller: Caller, request_id: str | None) -> dict[str, Any]:
    """Drop every cached config (Redis and this process); readers reload from the database."""
    dropped = drop_caches()
    with db.connection() as conn:
        _audit(conn, caller, "reload", request_id, detail={"dropped": dropped})
    return {"dropped": dropped}


def export_configs(body: ExportRequest, caller: Caller, request_id: str | None) -> dict[str, Any]:
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
                items.append(
                    {
                        k: out[k]
                        for k in ("key", "value", "description", "is_sensitive", "is_public", "version", "masked")
                    }
                )
            if len(rows) < 500:
                break
            after = rows[-1]["key"]
        _audit(
            conn,
            caller,
            "export",
            request_id,
            detail={"count": len(items), "revealed": body.reveal, "revealed_keys": revealed, "prefix": body.prefix},
        )
    if revealed:
        logger.info("sensitive configs revealed by export", extra={"count": len(revealed), "actor": caller.user_id})
        _count("ConfigRevealed")
    return {"exported_at": datetime.now(UTC), "revealed": body.reveal, "items": items}


# ----------------------------------------------------------------------------- import


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
    return bool(_plain_value(current) == item.value)


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


def import_configs(body: ImportRequest, caller: Caller, request_id: str | None) -> dict[str, Any]:
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
                    row = _apply(
                        conn, key=change.key, current=change.current, state=change.state, action="import", caller=caller
                    )
                    written.append(row)
                _audit(
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
        _after_commit(written)
    versions = {row["key"]: row["version"] for row in written}
    logger.info(
        "config import",
        extra={"mode": body.mode, "dry_run": body.dry_run, "changes": len(planned), "unchanged": len(unchanged)},
    )
    return {
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
