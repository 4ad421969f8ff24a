"""The embeddable widget on a third-party page.

First against a stand-in of the public assistant routes (fake_public_api.py), so the widget's
own behaviour is tested whatever the back end: shadow DOM isolation, streaming with
citations, feedback, the no-answer message, the session across page loads, renewal after a
401, reconnecting after a dropped socket, and the HTTPS fallback. Then the whole story
against the real platform: an owner creates an assistant in the console, a visitor asks on
another origin, thumbs down, and the owner sees it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.fake_public_api import FakePublicApi

pytestmark = [pytest.mark.browser]


@pytest.fixture()
def fake_api(web_dist: Path) -> Iterator[FakePublicApi]:
    fake = FakePublicApi(web_dist / "widget.js").start()
    yield fake
    fake.stop()


def _widget(page: Any) -> Any:
    # Playwright's CSS locators pierce open shadow roots.
    return page.locator("claw-widget")


def test_a_visitor_chats_with_the_widget_on_a_third_party_page(page: Any, fake_api: FakePublicApi, steps: Any) -> None:
    from playwright.sync_api import expect

    # Given a shop's page (another origin than the API) with the script tag
    page.goto(fake_api.host_page())
    w = _widget(page)
    launcher = w.locator("button.launcher")
    expect(launcher).to_be_visible()
    # The host's CSS does not reach into the widget
    assert (
        page.evaluate(
            "() => getComputedStyle("
            "document.querySelector('claw-widget').shadowRoot.querySelector('.launcher')).backgroundColor"
        )
        == "rgb(79, 70, 229)"
    )
    steps.shot(page, "launcher")

    # When the visitor opens it: the welcome message and suggested questions
    launcher.click()
    expect(w.get_by_text("Hi! Ask me about shipping and returns.")).to_be_visible()
    expect(w.locator("header h2")).to_have_text("Shop helper")
    # and the page's `* { color: #b00 !important }` does not colour it either
    assert w.locator(".welcome").evaluate("e => getComputedStyle(e).color") == "rgb(31, 35, 48)"
    steps.shot(page, "welcome")

    # When they pick a suggested question, the answer streams in
    w.get_by_role("button", name="How long does shipping take?").click()
    streaming = w.locator(".msg.assistant .text.typing")
    expect(streaming).to_be_visible()
    expect(streaming).not_to_have_text("")
    steps.shot(page, "streaming")
    answer = w.locator(".msg.assistant[data-index]").last
    expect(answer).to_contain_text("International orders take 7 to 14 days")
    assert fake_api.chats[-1] == ("ws", "How long does shipping take?")

    # with numbered citations that open the source's snippet
    expect(answer.locator("button.cite")).to_have_count(2)
    answer.locator("button.cite").first.click()
    expect(answer.locator(".snippet")).to_have_text("International orders take 7 to 14 days.")
    steps.shot(page, "citation")

    # When they give a thumbs down, the API records it for that message
    answer.get_by_role("button", name="Not helpful").click()
    expect(answer.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    assert [f["rating"] for f in fake_api.feedback] == ["down"]
    assert fake_api.feedback[0]["message_id"].startswith("m-")

    # A question the knowledge base cannot answer gets the no-answer message, marked as such
    w.get_by_role("textbox").fill("What's the weather tomorrow?")
    w.get_by_role("textbox").press("Enter")
    expect(w.locator(".msg.noanswer")).to_contain_text("Sorry, I can only answer questions about our shop.")
    steps.shot(page, "no-answer")

    # After a reload the conversation is still there, on the same session
    page.reload()
    _widget(page).locator("button.launcher").click()
    expect(_widget(page).locator(".msg.user")).to_have_count(2)
    expect(_widget(page).locator(".msg.noanswer")).to_be_visible()
    assert len(fake_api.sessions) == 1

    # When the session is revoked, the next question renews it (one 401, then answered)
    fake_api.revoked.add(fake_api.sessions[0])
    _widget(page).get_by_role("textbox").fill("Can I return an item?")
    _widget(page).get_by_role("button", name="Send").click()
    expect(_widget(page).locator(".msg.assistant[data-index]").last).to_contain_text("Returns are free within 30 days")
    assert len(fake_api.sessions) == 2

    # When the connection drops mid-answer, the widget says so and reconnects for the next one
    fake_api.drop_next = True
    _widget(page).get_by_role("textbox").fill("How long does shipping take?")
    _widget(page).get_by_role("button", name="Send").click()
    expect(_widget(page).locator(".msg.error")).to_contain_text("Connection lost")
    _widget(page).get_by_role("textbox").fill("How long does shipping take?")
    _widget(page).get_by_role("button", name="Send").click()
    expect(_widget(page).locator(".msg.assistant[data-index]").last).to_contain_text(
        "International orders take 7 to 14 days"
    )
    steps.shot(page, "after-reconnect")

    # The keyboard closes it (Escape) and reopens it from the launcher
    _widget(page).get_by_role("textbox").press("Escape")
    expect(_widget(page).get_by_role("dialog")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(_widget(page).get_by_role("dialog")).to_be_visible()
    steps.publish({"citation": "widget-citation.png", "no-answer": "widget-no-answer.png"})


def test_without_a_websocket_the_widget_answers_over_https(page: Any, fake_api: FakePublicApi) -> None:
    from playwright.sync_api import expect

    page.goto(fake_api.host_page(ws="off"))
    _widget(page).locator("button.launcher").click()
    _widget(page).get_by_role("textbox").fill("How long does shipping take?")
    _widget(page).get_by_role("button", name="Send").click()
    answer = _widget(page).locator(".msg.assistant[data-index]").last
    expect(answer).to_contain_text("International orders take 7 to 14 days")
    expect(answer.locator("button.cite")).to_have_count(2)
    assert fake_api.chats == [("http", "How long does shipping take?")]


# ------------------------------------------------------------------ the real platform


def _assistants_api_present(gateway_url: str) -> bool:
    import httpx

    r = httpx.post(f"{gateway_url}/api/v1/assistants", json={}, timeout=10)
    # Without the routes the gateway answers 403 "Missing Authentication Token" itself.
    return not (r.status_code == 403 and "Missing Authentication Token" in r.text)


@pytest.fixture()
def host_page_server(gateway_url: str) -> Iterator[Any]:
    """A third-party site on its own loopback origin; its page embeds the given snippet."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from claw_local.services import free_port

    state: dict[str, str] = {"snippet": ""}

    class Host(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            page = f"<!doctype html><meta charset=utf-8><title>Shop</title><h1>Example shop</h1>{state['snippet']}"
            data = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["origin"] = f"http://127.0.0.1:{port}"
    yield state
    server.shutdown()
    server.server_close()


def test_owner_sees_a_visitor_conversation_and_its_feedback(
    browser: Any, gateway_url: str, host_page_server: dict[str, str], steps: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    if not _assistants_api_present(gateway_url):
        pytest.skip("needs the assistants API (POST /api/v1/assistants is not routed on this platform)")

    owner_ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    visitor_ctx = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 800})
    try:
        owner = owner_ctx.new_page()
        # Given an owner with a ready knowledge base
        owner.goto(gateway_url + "/")
        owner.get_by_role("tab", name="Create account").click()
        owner.get_by_label("Email").fill(f"owner-{uuid.uuid4().hex[:8]}@example.com")
        owner.get_by_label("Password").fill("Correct-horse-9")
        owner.get_by_role("button", name="Create account", exact=True).last.click()
        expect(owner.get_by_text("No knowledge bases yet.")).to_be_visible()
        owner.get_by_label("Name").fill("Shop FAQ")
        owner.get_by_role("button", name="Create knowledge base").click()
        doc = tmp_path / "shipping-policy.md"
        doc.write_text("# Shipping\n\nInternational orders take 7 to 14 days and may be subject to customs duties.\n")
        with owner.expect_file_chooser() as chooser:
            owner.get_by_role("button", name="Choose files").click()
        chooser.value.set_files(str(doc))
        expect(owner.locator("tr[data-doc]").first).to_have_attribute("data-status", "ready", timeout=90_000)

        # When they create an assistant on it, allowing the shop's origin
        owner.get_by_role("link", name="Assistants").click()
        owner.get_by_role("button", name="New assistant").click()
        owner.get_by_label("Name", exact=True).fill("Shop helper")
        owner.get_by_label("Shop FAQ").check()
        owner.get_by_label("Welcome message").fill("Hi! Ask me about shipping.")
        owner.get_by_label("Suggested questions (one per line)").fill("How long does international shipping take?")
        owner.get_by_label(re.compile("Allowed origins")).fill(host_page_server["origin"])
        owner.get_by_role("button", name="Create assistant").click()
        owner.get_by_role("tab", name="Embed & preview").click()
        snippet = owner.get_by_test_id("embed-snippet").inner_text()
        assert "data-assistant=" in snippet
        steps.shot(owner, "owner-embed-snippet")

        # And the shop embeds the snippet; a visitor asks there
        host_page_server["snippet"] = snippet
        visitor = visitor_ctx.new_page()
        visitor.goto(host_page_server["origin"] + "/")
        w = visitor.locator("claw-widget")
        w.locator("button.launcher").click()
        expect(w.get_by_text("Hi! Ask me about shipping.")).to_be_visible()
        w.get_by_role("button", name="How long does international shipping take?").click()
        answer = w.locator(".msg.assistant[data-index]").last
        expect(answer).to_contain_text("7 to 14 days", timeout=60_000)
        expect(answer.locator("button.cite").first).to_be_visible()
        steps.shot(visitor, "visitor-answer")
        answer.get_by_role("button", name="Not helpful").click()
        expect(answer.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
        steps.shot(visitor, "visitor-thumbs-down")

        # Then the owner's console shows that conversation with the feedback
        owner.get_by_role("tab", name="Visitor conversations").click()
        owner.get_by_label("Show").select_option("down")
        owner.locator(".conv-list button.link").first.click()
        expect(owner.locator(".messages.visitor")).to_contain_text("7 to 14 days")
        expect(owner.locator('[data-feedback="down"]')).to_be_visible()
        steps.shot(owner, "owner-visitor-conversation")
        owner.get_by_role("tab", name="Stats").click()
        expect(owner.locator("figure.chart").first).to_be_visible()
        steps.shot(owner, "owner-stats")
        steps.publish(
            {
                "visitor-answer": "widget-on-a-shop.png",
                "owner-visitor-conversation": "console-visitor-conversation.png",
                "owner-stats": "console-assistant-stats.png",
            }
        )
    finally:
        owner_ctx.close()
        visitor_ctx.close()
