"""The owner's assistants: create, list, read, update, delete; the embed snippet.

Another user's assistant is answered exactly like a missing one (404), and so is a knowledge
base id that is not the owner's.
"""

from __future__ import annotations

import html
import secrets
from datetime import datetime
from typing import Any

from assistants_app.models import Assistant, AssistantCreate, AssistantPage, AssistantUpdate
from assistants_app.repository import SETTINGS, AssistantRepository
from claw_ai import runtime_config
from claw_common.auth.caller import Caller
from claw_common.auth.tokens import is_user_id
from claw_common.data import db
from claw_common.errors import NotFound
from claw_common.http.pagination import decode_cursor, encode_cursor, invalid_cursor
from claw_common.observability import logger
from claw_common.settings import get_settings

DEFAULTS: dict[str, Any] = {
    "system_prompt": None,
    "welcome_message": "",
    "suggested_questions": [],
    "no_answer_message": "",
    "allowed_origins": [],
    "visitor_rate_limit_per_minute": 10,
    "monthly_token_budget": None,
    "is_active": True,
}


def new_public_id() -> str:
    """``ast_`` + 24 URL-safe random characters (144 bits): unguessable, unrelated to the row id."""
    return "ast_" + secrets.token_urlsafe(18)


def not_found() -> NotFound:
    return NotFound("No such assistant.")


def embed_snippet(public_id: str, api_base: str) -> str:
    """The one tag that puts the widget on a page (console origin from ``CLAW_CONSOLE_URL``, else the API's)."""
    console = (get_settings().console_url or api_base.split("/api/v1")[0]).rstrip("/")
    return (
        f'<script src="{html.escape(console)}/widget.js" data-assistant="{html.escape(public_id)}" '
        f'data-api="{html.escape(api_base)}"></script>'
    )


def to_model(row: dict[str, Any], api_base: str) -> Assistant:
    return Assistant(
        id=row["id"],
        public_id=row["public_id"],
        name=row["name"],
        knowledge_base_ids=list(row["knowledge_base_ids"] or []),
        system_prompt=row["system_prompt"],
        model=row["model"],
        welcome_message=row["welcome_message"],
        suggested_questions=list(row["suggested_questions"] or []),
        no_answer_message=row["no_answer_message"],
        allowed_origins=list(row["allowed_origins"] or []),
        visitor_rate_limit_per_minute=row["visitor_rate_limit_per_minute"],
        monthly_token_budget=row["monthly_token_budget"],
        is_active=row["is_active"],
        embed_snippet=embed_snippet(row["public_id"], api_base),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _check_knowledge_bases(repo: AssistantRepository, caller: Caller, kb_ids: list[str]) -> list[str]:
    unique = list(dict.fromkeys(k.lower() for k in kb_ids))
    if any(not is_user_id(k) for k in unique) or repo.owned_knowledge_bases(caller.user_id, unique) != set(unique):
        raise NotFound("No such knowledge base.")
    return unique


def require_assistant(conn: Any, caller: Caller, assistant_id: str) -> dict[str, Any]:
    """The caller's assistant ``assistant_id`` (404 for a malformed id or someone else's)."""
    if not is_user_id(assistant_id):
        raise not_found()
    row = AssistantRepository(conn).get(caller.user_id, assistant_id)
    if row is None:
        raise not_found()
    return row


def create_assistant(caller: Caller, body: AssistantCreate, api_base: str) -> Assistant:
    """A new assistant of the caller (its knowledge bases must be the caller's)."""
    sent = body.model_dump(exclude_unset=True, exclude={"knowledge_base_ids"})
    # null means "the default" for every field but the two whose default is null anyway
    values = {**DEFAULTS, **{k: v for k, v in sent.items() if v is not None}}
    values["model"] = values.get("model") or runtime_config.default_model()
    with db.connection() as conn:
        repo = AssistantRepository(conn)
        kb_ids = _check_knowledge_bases(repo, caller, body.knowledge_base_ids or [])
        assistant_id = repo.create(caller.user_id, new_public_id(), values)
        repo.set_knowledge_bases(assistant_id, kb_ids)
        row = repo.get(caller.user_id, assistant_id)
    assert row is not None
    logger.info("assistant created", extra={"assistant_id": assistant_id, "knowledge_bases": len(kb_ids)})
    return to_model(row, api_base)


def list_assistants(caller: Caller, *, limit: int, cursor: str | None, api_base: str) -> AssistantPage:
    """The caller's assistants, newest first, one page."""
    after: tuple[datetime, str] | None = None
    if cursor:
        # One typed shape, or a 422 (claw_common.http.pagination).
        after = decode_cursor(cursor, tuple[datetime, str])
        if not is_user_id(after[1]):
            raise invalid_cursor()
    with db.connection() as conn:
        rows = AssistantRepository(conn).page(caller.user_id, limit + 1, after)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor([last["created_at"].isoformat(), last["id"]])
    return AssistantPage(items=[to_model(r, api_base) for r in page], next_cursor=next_cursor)


def get_assistant(caller: Caller, assistant_id: str, api_base: str) -> Assistant:
    with db.connection() as conn:
        return to_model(require_assistant(conn, caller, assistant_id), api_base)


def update_assistant(caller: Caller, assistant_id: str, body: AssistantUpdate, api_base: str) -> Assistant:
    """Change the fields sent (``null`` clears ``system_prompt`` and ``monthly_token_budget``)."""
    sent = body.model_dump(exclude_unset=True)
    with db.connection() as conn:
        repo = AssistantRepository(conn)
        current = require_assistant(conn, caller, assistant_id)
        values = {k: current[k] for k in SETTINGS}
        for key, value in sent.items():
            if key == "knowledge_base_ids":
                continue
            if value is None and key not in ("system_prompt", "monthly_token_budget"):
                continue  # null means "unchanged" for fields that cannot be empty
            values[key] = value
        values["model"] = values["model"] or runtime_config.default_model()
        repo.update(caller.user_id, assistant_id, values)
        if body.knowledge_base_ids is not None:
            repo.set_knowledge_bases(assistant_id, _check_knowledge_bases(repo, caller, body.knowledge_base_ids))
        row = repo.get(caller.user_id, assistant_id)
    assert row is not None
    logger.info("assistant updated", extra={"assistant_id": assistant_id, "fields": sorted(sent)})
    return to_model(row, api_base)


def delete_assistant(caller: Caller, assistant_id: str) -> None:
    """Delete the caller's assistant with its conversations (visitor tokens then get 404)."""
    if not is_user_id(assistant_id):
        raise not_found()
    with db.connection() as conn:
        if not AssistantRepository(conn).delete(caller.user_id, assistant_id):
            raise not_found()
    logger.info("assistant deleted", extra={"assistant_id": assistant_id})
