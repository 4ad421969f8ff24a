"""The console, step by step as a person uses it: sign up, a knowledge base, a document that
becomes ready, hit testing, and a question answered while you watch, with a citation."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

POLICY = """# Shipping policy

## Delivery times
Orders placed before 3 pm ship the same day. Domestic delivery takes 2 to 4 working days.
International orders take 7 to 14 days and may be subject to customs duties.

## Returns
You can return any unused item within 30 days for a full refund. Refunds reach your card
within 5 working days after we receive the parcel.
"""


def test_a_new_user_gets_a_streamed_answer_with_a_citation(
    page: Any, gateway_url: str, steps: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    frames: list[dict[str, Any]] = []

    def on_socket(ws: Any) -> None:
        ws.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", on_socket)

    # Given the console on first load: a sign-in form
    page.goto(gateway_url + "/")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    steps.shot(page, "sign-in")

    # When a person creates an account
    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("Correct-horse-9")
    page.get_by_label("Name").fill("Ada")
    steps.shot(page, "sign-up")
    page.get_by_role("button", name="Create account", exact=True).last.click()

    # Then they are signed in, on the knowledge bases
    expect(page.get_by_role("heading", name="Knowledge bases")).to_be_visible()
    expect(page.get_by_text("No knowledge bases yet.")).to_be_visible()

    # When they create a knowledge base
    page.get_by_label("Name").fill("Customer service")
    page.get_by_label("Description").fill("Shipping and returns")
    page.get_by_role("button", name="Create knowledge base").click()
    expect(page.get_by_role("heading", name="Customer service")).to_be_visible()
    assert re.search(r"/knowledge/[^/]+$", page.url)
    steps.shot(page, "knowledge-base")

    # And upload a file (the file chooser behind "Choose files"; drag-and-drop uses the same path)
    doc = tmp_path / "shipping-policy.md"
    doc.write_text(POLICY)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").click()
    chooser.value.set_files(str(doc))

    # Then the document appears, and its status goes live to ready without reloading
    row = page.locator("tr[data-doc]", has_text="shipping-policy")
    expect(row).to_be_visible()
    steps.shot(page, "uploading")
    expect(row).to_have_attribute("data-status", "ready", timeout=90_000)
    expect(row.locator(".badge")).to_have_text("ready")
    steps.shot(page, "document-ready")

    # And its chunks can be previewed
    row.get_by_role("button", name="Chunks").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("International orders take 7 to 14 days")
    steps.shot(page, "chunks")
    dialog.get_by_role("button", name="Close").click()

    # When they test a question against the knowledge base
    page.get_by_role("tab", name="Hit testing").click()
    page.get_by_label("Question").fill("How long does international shipping take?")
    page.get_by_role("button", name="Search").click()
    passages = page.locator(".passages > li")
    expect(passages.first).to_contain_text("shipping-policy")
    expect(passages.first.locator(".score")).to_have_text(re.compile(r"^\d+\.\d{4}$"))
    steps.shot(page, "hit-testing")

    # When they start a conversation on that knowledge base and ask
    page.get_by_role("link", name="Conversations").click()
    page.get_by_label("Title").fill("Shipping questions")
    expect(page.get_by_label("Knowledge base")).to_have_value(re.compile(".+"))
    page.get_by_role("button", name="New conversation").click()
    expect(page.get_by_role("heading", name="Shipping questions")).to_be_visible()
    # Watch the answer stream: remember whether the streaming bubble ever showed partial text.
    page.evaluate(
        """() => {
          window.__partials = [];
          new MutationObserver(() => {
            const el = document.querySelector('[data-testid="streaming-answer"]');
            if (el && el.textContent) window.__partials.push(el.textContent.length);
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.get_by_label("Your message").fill("How long does international shipping take?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("streaming-answer")).to_be_visible()
    steps.shot(page, "streaming")

    # Then the answer arrives in pieces over the WebSocket, then its sources, then done
    answer = page.locator(".bubble.assistant[data-message]").last
    expect(answer).to_contain_text("7 to 14 days", timeout=60_000)
    kinds = [f.get("type") for f in frames]
    assert kinds.count("delta") >= 2, kinds
    assert kinds.index("sources") > kinds.index("delta") and kinds[-1] == "done", kinds
    assert len(set(page.evaluate("window.__partials"))) >= 2, "the answer did not appear progressively"
    # with a numbered citation, its source listed, and the message's usage and cost
    cite = answer.locator("button.cite").first
    expect(cite).to_be_visible()
    expect(answer.locator(".sources")).to_contain_text("shipping-policy")
    expect(answer.locator(".meta")).to_contain_text(re.compile(r"\d+ tokens · ¥\d+\.\d{4}"))
    steps.shot(page, "answer-with-citation")

    # When they open the citation, the cited passage is shown, with a way to its document
    cite.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("International orders take 7 to 14 days")
    steps.shot(page, "citation")
    dialog.get_by_role("link", name="Open the passage in its document").click()
    expect(page.locator(".chunks li.focus")).to_contain_text("International orders")
    page.keyboard.press("Escape")

    # And at phone width the console still works (menu behind a button)
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Usage").click()
    expect(page.get_by_role("heading", name="Usage")).to_be_visible()
    expect(page.locator("figure.chart").first).to_be_visible()
    steps.shot(page, "usage-phone", full_page=True)

    steps.publish(
        {
            "sign-in": "console-sign-in.png",
            "document-ready": "console-documents.png",
            "hit-testing": "console-hit-testing.png",
            "answer-with-citation": "console-chat.png",
            "citation": "console-citation.png",
            "usage-phone": "console-usage-phone.png",
        }
    )


def test_the_console_speaks_chinese_when_the_browser_does(browser: Any, gateway_url: str, steps: Any) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(locale="zh-CN")
    try:
        page = ctx.new_page()
        page.goto(gateway_url + "/")
        expect(page.get_by_role("button", name="登录", exact=True)).to_be_visible()
        steps.shot(page, "sign-in-zh")
        # and the switch turns it to English
        page.get_by_role("button", name="切换语言").click()
        expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    finally:
        ctx.close()


def test_problem_details_are_shown_as_readable_messages(page: Any, gateway_url: str) -> None:
    from playwright.sync_api import expect

    page.goto(gateway_url + "/")
    page.get_by_label("Email").fill(f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("Wrong-password-1")
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    # the problem's detail, not a status code or JSON
    expect(alert).not_to_contain_text("{")
    expect(alert).not_to_have_text(re.compile(r"^HTTP \d+$"))


def test_a_large_file_goes_straight_to_storage_and_a_failure_shows_its_reason(
    page: Any, gateway_url: str, steps: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    # Given a signed-in user with a knowledge base
    page.goto(gateway_url + "/")
    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("Email").fill(f"grace-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("Correct-horse-9")
    page.get_by_role("button", name="Create account", exact=True).last.click()
    expect(page.get_by_text("No knowledge bases yet.")).to_be_visible()
    page.get_by_label("Name").fill("Manuals")
    page.get_by_role("button", name="Create knowledge base").click()
    expect(page.get_by_role("heading", name="Manuals")).to_be_visible()

    # When they upload a file above the 4 MB multipart limit (not really a PDF: ingestion
    # rejects it at once, which keeps this test light and shows a failure's reason)
    big = tmp_path / "scanned-manual.pdf"
    big.write_bytes(b"not a pdf\n" * 480_000)
    assert big.stat().st_size > 4 * 1024 * 1024
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").click()
    chooser.value.set_files(str(big))

    # Then it is uploaded with a presigned POST straight to the bucket, not through the API,
    expect(page.locator(".uploads progress")).to_be_visible()
    row = page.locator("tr[data-doc]", has_text="scanned-manual.pdf")
    expect(row).to_be_visible(timeout=60_000)
    expect(row).to_contain_text("4.6 MB")
    assert any(u.endswith("/documents/upload-url") for u in posts), posts
    assert not any(u.endswith("/documents/upload") for u in posts), posts
    assert any("/api/" not in u for u in posts), posts  # the storage endpoint
    # and its status goes live to failed, with the reason
    expect(row).to_have_attribute("data-status", "failed", timeout=60_000)
    expect(row.locator(".error-text")).to_contain_text("not a PDF")
    steps.shot(page, "failed-with-reason")

    # When they reindex it, it is ingested again (and fails again, for the same reason)
    row.get_by_role("button", name="Reindex").click()
    expect(row).to_have_attribute("data-status", re.compile("pending|processing|failed"))
    expect(row).to_have_attribute("data-status", "failed", timeout=60_000)

    # When they delete it (and confirm), it is gone
    page.once("dialog", lambda d: d.accept())
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0, timeout=30_000)
    page.reload()
    expect(page.get_by_text("No documents yet.")).to_be_visible()
    steps.shot(page, "large-upload")


def test_an_expired_access_token_is_refreshed_once_and_the_request_retried(page: Any, gateway_url: str) -> None:
    from playwright.sync_api import expect

    # Given a signed-in user
    page.goto(gateway_url + "/")
    page.get_by_role("tab", name="Create account").click()
    page.get_by_label("Email").fill(f"rot-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password").fill("Correct-horse-9")
    page.get_by_role("button", name="Create account", exact=True).last.click()
    expect(page.get_by_text("No knowledge bases yet.")).to_be_visible()
    before = page.evaluate("JSON.parse(localStorage.getItem('claw-console-tokens'))")

    # When the access token no longer works (the console still believes it valid)
    page.evaluate(
        """() => {
          const t = JSON.parse(localStorage.getItem('claw-console-tokens'));
          t.access_token = 'expired.' + t.access_token.split('.').slice(1).join('.') + 'x';
          localStorage.setItem('claw-console-tokens', JSON.stringify(t));
        }"""
    )
    statuses: list[tuple[str, int]] = []
    page.on(
        "response", lambda r: statuses.append((r.url.split("/api/v1")[-1], r.status)) if "/api/v1" in r.url else None
    )
    page.reload()

    # Then the console answers the 401 with one refresh, retries, and shows the page
    expect(page.get_by_text("No knowledge bases yet.")).to_be_visible()
    assert ("/auth/me", 401) in statuses and ("/auth/refresh", 200) in statuses, statuses
    assert [s for s in statuses if s[0] == "/auth/refresh"] == [("/auth/refresh", 200)]
    after = page.evaluate("JSON.parse(localStorage.getItem('claw-console-tokens'))")
    # and the refresh token was rotated
    assert after["refresh_token"] != before["refresh_token"]

    # When they sign out, the session is gone: the sign-in form, and the old refresh token is dead
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert page.evaluate("localStorage.getItem('claw-console-tokens')") is None
    import httpx

    dead = httpx.post(f"{gateway_url}/api/v1/auth/refresh", json={"refresh_token": after["refresh_token"]})
    assert dead.status_code == 401
