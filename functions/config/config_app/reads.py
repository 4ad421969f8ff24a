"""Reading configs: lists (admin), public values (no auth), one key (reveal audited), history, the audit log."""

from __future__ import annotations

from datetime import datetime

from claw_common.auth.caller import Caller
from claw_common.config.schema import is_valid_key
from claw_common.data import db
from claw_common.errors import NotFound
from claw_common.http.pagination import KeyPosition, SeqPosition, encode_cursor, optional_position
from claw_common.observability import logger
from config_app import repository as repo
from config_app.models import AuditPage, ConfigOut, ConfigPage, HistoryPage, PublicConfigPage
from config_app.state import audit, config_out, count_change


def list_configs(*, limit: int, cursor: str | None, prefix: str | None) -> ConfigPage:
    """Admins' list: every live key in key order, sensitive values masked."""
    after = optional_position(cursor, KeyPosition)
    with db.connection() as conn:
        rows = repo.list_live(conn, after=after, limit=limit + 1, prefix=prefix)
    page = rows[:limit]
    return ConfigPage.model_validate(
        {
            "items": [config_out(row) for row in page],
            "next_cursor": encode_cursor(page[-1]["key"]) if len(rows) > limit else None,
        }
    )


def list_public(*, limit: int, cursor: str | None) -> PublicConfigPage:
    """Public keys, for anyone (never a sensitive one)."""
    after = optional_position(cursor, KeyPosition)
    with db.connection() as conn:
        rows = repo.list_live(conn, after=after, limit=limit + 1, public_only=True)
    page = rows[:limit]
    return PublicConfigPage.model_validate(
        {
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
    )


def get_config(key: str, caller: Caller, *, reveal: bool, request_id: str | None) -> ConfigOut:
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
            audit(conn, caller, "reveal", request_id, key=key, version=row["version"])
        out = config_out(row, reveal=do_reveal)
    if do_reveal:
        logger.info("sensitive config revealed", extra={"config_key": key, "actor": caller.user_id})
        count_change("ConfigRevealed")
    return out


def history(key: str, *, limit: int, cursor: str | None) -> HistoryPage:
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
    return HistoryPage.model_validate(
        {
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
    )


def audit_log(
    *,
    key: str | None,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> AuditPage:
    """The audit trail, newest first, filtered by key, actor, action and time."""
    before_id = optional_position(cursor, SeqPosition)
    with db.connection() as conn:
        rows = repo.audit(
            conn, key=key, actor=actor, action=action, since=since, until=until, before_id=before_id, limit=limit + 1
        )
    page = rows[:limit]
    return AuditPage.model_validate(
        {
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
    )
