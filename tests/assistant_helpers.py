"""Shortcuts for the assistants tests: publish an assistant over a knowledge base, open visitor
sessions, ask as a visitor (all through the gateway, as the widget would)."""

from __future__ import annotations

from typing import Any

from tests.knowledge_helpers import add_text, create_kb, wait_settled

API = "/api/v1"
SHOP = "https://shop.example.com"
RETURNS_POLICY = (
    "Returns policy. Items can be returned within 30 days of delivery for a full refund. "
    "Refunds are paid to the original payment method within 5 business days. "
    "Shipping costs for returns are paid by the customer unless the item arrived damaged."
)


def knowledge_base_with(api: Any, db: Any, user: Any, title: str = "Returns", content: str = RETURNS_POLICY) -> str:
    """A knowledge base of ``user`` holding one ingested text document."""
    kb_id = create_kb(api, user, name=title)
    document_id = add_text(api, user, kb_id, title, content)
    assert wait_settled(db, document_id=document_id)["status"] == "ready"
    return kb_id


def create_assistant(api: Any, user: Any, **fields: Any) -> dict[str, Any]:
    body = {"name": "Shop helper", **fields}
    resp = api.post(f"{API}/assistants", json=body, headers=user.headers)
    assert resp.status_code == 201, resp.text
    return resp.json()


def start_session(api: Any, public_id: str, *, origin: str | None = SHOP, token: str | None = None) -> Any:
    headers = {}
    if origin is not None:
        headers["Origin"] = origin
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.post(f"{API}/public/assistants/{public_id}/sessions", headers=headers)


def session_token(api: Any, public_id: str, *, origin: str | None = SHOP) -> str:
    resp = start_session(api, public_id, origin=origin)
    assert resp.status_code == 201, resp.text
    return resp.json()["session_token"]


def visitor_headers(token: str, origin: str | None = SHOP) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["Origin"] = origin
    return headers


def ask(api: Any, public_id: str, token: str, message: str, *, origin: str | None = SHOP) -> Any:
    return api.post(
        f"{API}/public/assistants/{public_id}/chat",
        json={"message": message},
        headers=visitor_headers(token, origin),
    )
