"""`/api/v1/docs` in a real browser: authorize with a token, "Try it out" on /auth/me.

Debian's Chromium driven by Playwright, step by step as a person would, with a screenshot of
each step (in the test's temporary folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import new_user

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
def test_try_it_out_with_a_token(platform: Any, api: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    user = new_user(api)
    shots = iter(range(1, 100))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            # Given the docs page
            page.goto(f"{platform.gateway_url}/api/v1/docs", wait_until="networkidle")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("CLAW.AI API", timeout=30_000)
            page.screenshot(path=tmp_path / f"{next(shots):02d}-docs.png")

            # When I authorize with my access token
            page.locator("button.authorize").first.click()
            bearer = page.locator(".auth-container").filter(has_text="bearerAuth")
            bearer.locator("input").first.fill(user.access_token)
            bearer.locator("button.authorize").click()
            page.screenshot(path=tmp_path / f"{next(shots):02d}-authorized.png")
            page.locator("button.btn-done").first.click()

            # And try GET /api/v1/auth/me
            operation = page.locator(".opblock-get").filter(has_text="/api/v1/auth/me").first
            operation.locator(".opblock-summary").first.click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            response = operation.locator(".live-responses-table .response").first
            expect(response.locator(".response-col_status")).to_contain_text("200", timeout=30_000)
            page.screenshot(path=tmp_path / f"{next(shots):02d}-response.png", full_page=True)

            # Then the response is my account, called with my token on this platform
            expect(operation.locator(".live-responses-table .highlight-code").first).to_contain_text(user.email)
            curl = operation.locator(".curl-command").first.inner_text()
            assert f"{platform.gateway_url}/api/v1/auth/me" in curl
            assert f"Bearer {user.access_token}" in curl
        finally:
            browser.close()
