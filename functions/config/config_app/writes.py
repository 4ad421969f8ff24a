"""Changing configs: every change is one transaction writing the new state, exactly one history
row and one audit row; caches are updated after the commit."""

from __future__ import annotations

from claw_common.auth.caller import Caller
from claw_common.config.envelope import Sealed
from claw_common.config.reader import drop_caches
from claw_common.config.schema import is_valid_key
from claw_common.data import db
from claw_common.errors import Conflict, NotFound, ValidationFailed
from claw_common.observability import logger
from config_app import repository as repo
from config_app.models import ConfigCreate, ConfigOut, ConfigUpdate, ReloadResult
from config_app.state import (
    State,
    after_commit,
    apply_change,
    audit,
    check_flags,
    check_value,
    check_version,
    config_out,
    live_or_404,
    seal_state,
)


def create_config(body: ConfigCreate, caller: Caller, request_id: str | None) -> ConfigOut:
    """Create a key (409 when it exists; a deleted key is re-created with the next version)."""
    check_flags(body.is_sensitive, body.is_public)
    check_value(body.key, body.value)
    state = seal_state(body.key, State(body.value, body.description, body.is_sensitive, body.is_public))
    import psycopg

    try:
        with db.connection() as conn:
            current = repo.lock(conn, body.key)
            if current is not None and current["deleted_at"] is None:
                raise Conflict(f"Config {body.key!r} already exists; update it instead.")
            row = apply_change(conn, key=body.key, current=current, state=state, action="create", caller=caller)
            audit(conn, caller, "create", request_id, key=body.key, version=row["version"])
    except psycopg.errors.UniqueViolation as exc:  # a concurrent create of the same key won
        raise Conflict(f"Config {body.key!r} already exists; update it instead.") from exc
    after_commit([row])
    logger.info("config created", extra={"config_key": body.key, "version": row["version"]})
    return config_out(row)


def update_config(
    key: str, body: ConfigUpdate, expected: int | None, caller: Caller, request_id: str | None
) -> ConfigOut:
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
        check_value(key, body.value)
    with db.connection() as conn:
        current = live_or_404(repo.lock(conn, key), key)
        check_version(current, expected)
        is_sensitive = current["is_sensitive"] if body.is_sensitive is None else body.is_sensitive
        is_public = current["is_public"] if body.is_public is None else body.is_public
        check_flags(is_sensitive, is_public)
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
        row = apply_change(conn, key=key, current=current, state=state, action="update", caller=caller)
        audit(conn, caller, "update", request_id, key=key, version=row["version"], detail={"fields": sorted(given)})
    after_commit([row])
    logger.info("config updated", extra={"config_key": key, "version": row["version"]})
    return config_out(row)


def delete_config(key: str, expected: int | None, caller: Caller, request_id: str | None) -> None:
    """Delete a key (its history stays; it can be rolled back or re-created)."""
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    with db.connection() as conn:
        current = live_or_404(repo.lock(conn, key), key)
        check_version(current, expected)
        row = apply_change(conn, key=key, current=current, state=None, action="delete", caller=caller)
        audit(conn, caller, "delete", request_id, key=key, version=row["version"])
    after_commit([row])
    logger.info("config deleted", extra={"config_key": key, "version": row["version"]})


def rollback_config(key: str, target: int, expected: int | None, caller: Caller, request_id: str | None) -> ConfigOut:
    """Restore the key as it was at version ``target`` (value, description and flags) as a new version."""
    if not is_valid_key(key):
        raise NotFound(f"Config {key!r} was not found.")
    with db.connection() as conn:
        current = repo.lock(conn, key)
        if current is None:
            raise NotFound(f"Config {key!r} was not found.")
        check_version(current, expected)
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
        row = apply_change(
            conn, key=key, current=current, state=state, action="rollback", caller=caller, rolled_back_to=target
        )
        audit(conn, caller, "rollback", request_id, key=key, version=row["version"], detail={"to_version": target})
    after_commit([row])
    logger.info("config rolled back", extra={"config_key": key, "version": row["version"], "to_version": target})
    return config_out(row)


def reload_caches(caller: Caller, request_id: str | None) -> ReloadResult:
    """Drop every cached config (Redis and this process); readers reload from the database."""
    dropped = drop_caches()
    with db.connection() as conn:
        audit(conn, caller, "reload", request_id, detail={"dropped": dropped})
    return ReloadResult(dropped=dropped)
