"""The console's assistant screens against the SPEC §6 contract.

The owner routes (`/assistants…`) and the public routes the preview widget calls are answered
inside the browser by a stub that follows SPEC §6 (Playwright request routing), so the screens
are tested whether or not the platform serves assistants yet; everything else (accounts,
knowledge bases) is the real platform. test_widget.py holds the end-to-end story that needs
the real assistants API.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = [pytest.mark.browser]


class AssistantsStub:
    """In-memory owner + public assistant routes, shaped as SPEC §6 says."""

    def __init__(self) -> None:
        self.assistants: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, Any]] = []
        now = datetime.now(UTC)
        self.conversations = [
            {
                "id": "c-1",
                "created_at": now.isoformat(),
                "updated_at": now.isoformat(),
                "message_count": 2,
                "first_question": "How long does shipping take?",
                "feedback_down": 1,
                "origin": "https://shop.example.com",
            },
            {
                "id": "c-2",
                "created_at": now.isoformat(),
                "updated_at": now.isoformat(),
                "message_count": 2,
                "first_question": "Do you sell gift cards?",
                "no_answer_count": 1,
            },
        ]
        self.messages = {
            "c-1": [
                {"id": "m-1", "role": "user", "content": "How long does shipping take?", "created_at": now.isoformat()},
                {
                    "id": "m-2",
                    "role": "assistant",
                    "content": "International orders take 7 to 14 days [1].",
                    "created_at": now.isoformat(),
                    "tokens": 120,
                    "cost": 0.0012,
                    "sources": [
                        {
                            "document_id": "d",
                            "title": "shipping-policy.md",
                            "chunk_index": 0,
                            "score": 0.81,
                            "snippet": "International orders take 7 to 14 days.",
                        }
                    ],
                    "feedback": {"rating": "down", "comment": "Too slow!"},
                },
            ],
        }

    def handle(self, route: Any) -> None:
        req = route.request
        url = urlparse(req.url)
        path = url.path.removeprefix("/api/v1")
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = json.loads(req.post_data) if req.post_data else None
        self.requests.append((req.method, path, body))
        status, payload = self.answer(req.method, path, query, body)
        route.fulfill(status=status, content_type="application/json", body=json.dumps(payload))

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts[0] == "public":
            if parts[-1] == "sessions":
                a = next(a for a in self.assistants.values() if a["public_id"] == parts[2])
                return 201, {
                    "session_token": "sess-1",
                    "expires_in": 900,
                    "assistant": {k: a[k] for k in ("name", "welcome_message", "suggested_questions")},
                }
            if parts[-1] == "chat":
                return 200, {
                    "message_id": "pm-1",
                    "content": "International orders take 7 to 14 days [1].",
                    "no_answer": False,
                    "sources": self.messages["c-1"][1]["sources"],
                }
            return 204, None
        if parts == ["assistants"] and method == "GET":
            return 200, {"items": list(self.assistants.values()), "next_cursor": None}
        if parts == ["assistants"] and method == "POST":
            a = {
                **body,
                "id": f"a-{len(self.assistants) + 1}",
                "public_id": f"pub_{uuid.uuid4().hex[:10]}",
                "created_at": datetime.now(UTC).isoformat(),
            }
            self.assistants[a["id"]] = a
            return 201, a
        a = self.assistants.get(parts[1])
        if a is None:
            return 404, {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "Assistant not found."}
        if len(parts) == 2 and method == "GET":
            return 200, a
        if len(parts) == 2 and method in ("PATCH", "PUT"):
            a.update(body)
            return 200, a
        if parts[2] == "conversations" and len(parts) == 3:
            items = self.conversations
            if query.get("feedback") == "down":
                items = [c for c in items if c.get("feedback_down")]
            if query.get("no_answer") == "true":
                items = [c for c in items if c.get("no_answer_count")]
            return 200, {"items": items, "next_cursor": None}
        if parts[2] == "conversations":
            return 200, {"items": self.messages.get(parts[3], []), "next_cursor": None}
        if parts[2] == "stats":
            days = int(query.get("days", "30"))
            today = date.today()
            rows = []
            for i in range(days):
                day = today - timedelta(days=days - 1 - i)
                q = (i * 7) % 23 + 3
                rows.append(
                    {
                        "day": day.isoformat(),
                        "conversations": q // 2 + 1,
                        "questions": q,
                        "no_answer": i % 3,
                        "no_answer_rate": (i % 3) / q,
                        "feedback_up": i % 4,
                        "feedback_down": i % 2,
                        "tokens": q * 400,
                        "cost": q * 0.004,
                    }
                )
            return 200, {"items": rows}
        return 404, {"title": "Not Found", "status": 404}


def test_an_owner_creates_an_assistant_embeds_it_and_reads_its_visitors(
    page: Any, gateway_url: str, steps: Any
) -> None:
    from playwright.sync_api import expect

    stub = AssistantsStub()
    page.route(re.compile(r".*/api/v1/(assistants|public/assistants)(/.*)?(\?.*)?$"), stub.handle)

    # Given an owner with a knowledge base (the real platform)
    page.goto(gateway_url + "/")
    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("Email").fill(f"owner-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("Correct-horse-9")
    page.get_by_role("button", name="Create account", exact=True).last.click()
    expect(page.get_by_text("No knowledge bases yet.")).to_be_visible()
    page.get_by_label("Name").fill("Shop FAQ")
    page.get_by_role("button", name="Create knowledge base").click()
    expect(page.get_by_role("heading", name="Shop FAQ")).to_be_visible()
    kb_id = page.url.rsplit("/", 1)[1]

    # When they create an assistant with every setting
    page.get_by_role("link", name="Assistants").click()
    page.get_by_role("button", name="New assistant").click()
    page.get_by_label("Name", exact=True).fill("Shop helper")
    page.get_by_label("Shop FAQ").check()
    page.get_by_label("System prompt").fill("Answer politely, in the customer's language.")
    page.get_by_label("Welcome message").fill("Hi! Ask me about shipping.")
    page.get_by_label("Suggested questions (one per line)").fill("How long does shipping take?\nCan I return an item?")
    page.get_by_label("No-answer message").fill("Sorry, please email support@example.com.")
    page.get_by_label(re.compile("Allowed origins")).fill("https://shop.example.com")
    page.get_by_label("Visitor rate limit (per minute)").fill("12")
    page.get_by_label("Monthly token budget").fill("500000")
    steps.shot(page, "assistant-form", full_page=True)
    page.get_by_role("button", name="Create assistant").click()

    # Then the console opens the assistant, and the API got the SPEC's fields
    expect(page.get_by_role("heading", name="Shop helper")).to_be_visible()
    body = next(r[2] for r in stub.requests if r[0] == "POST" and r[1] == "/assistants")
    assert body["knowledge_base_ids"] == [kb_id]
    assert body["suggested_questions"] == ["How long does shipping take?", "Can I return an item?"]
    assert body["allowed_origins"] == ["https://shop.example.com"]
    assert body["visitor_rate_limit_per_minute"] == 12 and body["monthly_token_budget"] == 500000
    assert body["is_active"] is True

    # When they edit it, the change is saved
    page.get_by_label("Welcome message").fill("Hello! Ask me about shipping and returns.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    assert any(r[0] in ("PATCH", "PUT") and r[2]["welcome_message"].startswith("Hello!") for r in stub.requests)

    # The embed snippet names the widget, the assistant and the API
    page.get_by_role("tab", name="Embed & preview").click()
    public_id = next(iter(stub.assistants.values()))["public_id"]
    snippet = page.get_by_test_id("embed-snippet").inner_text()
    assert f'data-assistant="{public_id}"' in snippet and "/widget.js" in snippet and "/api/v1" in snippet

    # and the live preview mounts the real widget, which answers with a citation
    page.get_by_role("button", name="Open preview").click()
    widget = page.locator(".preview-host claw-widget")
    expect(widget.get_by_text("Hello! Ask me about shipping and returns.")).to_be_visible()
    widget.get_by_role("button", name="How long does shipping take?").click()
    expect(widget.locator(".msg.assistant[data-index]").last).to_contain_text("7 to 14 days")
    expect(widget.locator("button.cite")).to_have_count(1)
    steps.shot(page, "embed-and-preview", full_page=True)

    # When they read the visitor conversations with a thumbs down
    page.get_by_role("tab", name="Visitor conversations").click()
    expect(page.locator(".conv-list li")).to_have_count(2)
    page.get_by_label("Show").select_option("down")
    expect(page.locator(".conv-list li")).to_have_count(1)
    page.get_by_role("button", name="How long does shipping take?").click()
    conversation = page.locator(".messages.visitor")
    expect(conversation).to_contain_text("International orders take 7 to 14 days")
    expect(conversation.locator('[data-feedback="down"]')).to_have_text("not helpful")
    expect(conversation).to_contain_text("Too slow!")
    conversation.get_by_text("[1] shipping-policy.md").click()
    expect(conversation.locator(".snippet")).to_have_text("International orders take 7 to 14 days.")
    steps.shot(page, "visitor-conversation")

    # And the stats per day, as charts
    page.get_by_role("tab", name="Stats").click()
    for title in ("Questions per day", "No-answer rate", "Feedback", "Tokens per day", "Cost per day (CNY)"):
        expect(page.locator("figure.chart", has_text=title).locator("rect").first).to_be_attached()
    steps.shot(page, "stats", full_page=True)
    steps.publish(
        {
            "embed-and-preview": "console-assistant-embed.png",
            "visitor-conversation": "console-visitor-conversation.png",
            "stats": "console-assistant-stats.png",
        }
    )
