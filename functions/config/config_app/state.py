"""What a config key holds and how one change is applied: sealing sensitive values (KMS envelope
encryption), masking, version checks, history and audit rows, cache updates after the commit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from claw_common.auth.caller import Caller
from claw_common.config.envelope import Sealed, seal, unseal
from claw_common.config.reader import entry_from_row, forget_local, publish_entry
from claw_common.config.schema import value_errors
from claw_common.errors import Conflict, NotFound, ValidationFailed
from claw_common.observability import MetricUnit, metrics
from config_app import repository as repo
from config_app.models import MASK, ConfigOut

Row = dict[str, Any]


@dataclass(frozen=True)
class State:
    """What a key holds after a change. ``sealed`` is set (and ``value`` unused) when sensitive."""

    value: Any
    description: str
    is_sensitive: bool
    is_public: bool
    sealed: Sealed | None = None


def masked_value(row: Row) -> Any:
    """The value as anyone may see it: the mask for a sensitive key."""
    return MASK if row["is_sensitive"] else row["value"]


def plain_value(row: Row) -> Any:
    """The real value of a live row (decrypts a sensitive one)."""
    if not row["is_sensitive"]:
        return row["value"]
    sealed = Sealed(bytes(row["value_ciphertext"]), bytes(row["value_data_key"]))
    return json.loads(unseal(sealed, name=row["key"]))


def config_out(row: Row, *, reveal: bool = False) -> ConfigOut:
    """The API form of a live row."""
    hide = bool(row["is_sensitive"]) and not reveal
    return ConfigOut.model_validate(
        {
            "key": row["key"],
            "value": MASK if hide else plain_value(row),
            "description": row["description"],
            "is_sensitive": row["is_sensitive"],
            "is_public": row["is_public"],
            "version": row["version"],
            "updated_by": row["updated_by"],
            "updated_at": row["updated_at"],
            "created_at": row["created_at"],
            "masked": hide,
        }
    )


def seal_state(key: str, state: State) -> State:
    if state.is_sensitive and state.sealed is None:
        sealed = seal(json.dumps(state.value, separators=(",", ":"), ensure_ascii=False).encode(), name=key)
        return State(None, state.description, True, state.is_public, sealed)
    return state


def check_value(key: str, value: Any, loc: tuple[str | int, ...] = ("body", "value")) -> None:
    errors = value_errors(key, value, loc)
    if errors:
        raise ValidationFailed(f"Invalid value for config key {key!r}.", errors=errors)


def check_flags(is_sensitive: bool, is_public: bool, loc: tuple[str | int, ...] = ("body",)) -> None:
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


def apply_change(
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
        state = seal_state(key, state)
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


def after_commit(rows: list[Row]) -> None:
    """Publish the new state of changed keys to the shared cache (newer versions only)."""
    for row in rows:
        publish_entry(row["key"], entry_from_row(row))
        forget_local(row["key"])


def check_version(current: Row, expected: int | None) -> None:
    if expected is not None and current["version"] != expected:
        raise Conflict(
            f"Version {expected} is stale; the config is at version {current['version']}.",
            extra={"current_version": current["version"]},
        )


def live_or_404(current: Row | None, key: str) -> Row:
    if current is None or current["deleted_at"] is not None:
        raise NotFound(f"Config {key!r} was not found.")
    return current


def audit(conn: Any, caller: Caller, action: str, request_id: str | None, **kw: Any) -> None:
    repo.add_audit(conn, actor=caller.user_id, action=action, request_id=request_id, **kw)


def count_change(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
