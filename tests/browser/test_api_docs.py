"""`/api/v1/docs` in a real browser: authorize with a token, "Try it out" on /auth/me.

Debian's Chromium (the shared ``page`` fixture), step by step as a person would, with a
screenshot of each step under tests/browser/artifacts/.
"""

from __future__ import annotations

from typing import Any

from tests.auth_helpers import new_user


def test_try_it_out_with_a_token(platform: Any, api: Any, page: Any, steps: Any) -> None:
    from playwright.sync_api import expect

    user = new_user(api)

    # Given the docs page
    page.goto(f"{platform.gateway_url}/api/v1/docs", wait_until="networkidle")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CLAW.AI API", timeout=30_000)
    steps.shot(page, "docs")

    # When I authorize with my access token
    page.locator("button.authorize").first.click()
    bearer = page.locator(".auth-container").filter(has_text="bearerAuth")
    bearer.locator("input").first.fill(user.access_token)
    bearer.locator("button.authorize").click()
    steps.shot(page, "authorized")
    page.locator("button.btn-done").first.click()

    # And try GET /api/v1/auth/me
    operation = page.locator(".opblock-get").filter(has_text="/api/v1/auth/me").first
    operation.locator(".opblock-summary").first.click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table .response").first
    expect(response.locator(".response-col_status")).to_contain_text("200", timeout=30_000)
    operation.scroll_into_view_if_needed()
    steps.shot(page, "response")

    # Then the response is my account, called with my token on this platform
    expect(operation.locator(".live-responses-table .highlight-code").first).to_contain_text(user.email)
    curl = operation.locator(".curl-command").first.inner_text()
    assert f"{platform.gateway_url}/api/v1/auth/me" in curl
    assert f"Bearer {user.access_token}" in curl
