"""An administrator in the console: users (role, tier, active), runtime configuration with its
history, a diff between two versions and a rollback, and the audit log."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture()
def admin(gateway_url: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """An admin's email and password: made in the test platform's database, or, against a
    platform you started (CLAW_BROWSER_GATEWAY_URL), the one `make dev` seeds from
    CLAW_ADMIN_EMAIL / CLAW_ADMIN_PASSWORD."""
    if os.environ.get("CLAW_BROWSER_GATEWAY_URL"):
        email, password = os.environ.get("CLAW_ADMIN_EMAIL"), os.environ.get("CLAW_ADMIN_PASSWORD")
        if not (email and password):
            pytest.skip("set CLAW_ADMIN_EMAIL and CLAW_ADMIN_PASSWORD to test the admin screens on your platform")
        return email, password
    request.getfixturevalue("platform")
    from claw_common.auth.accounts import ensure_admin

    email = f"root-{uuid.uuid4().hex[:8]}@example.com"
    ensure_admin(email, "Admin-pass-123")
    return email, "Admin-pass-123"


def test_an_admin_manages_users_and_rolls_back_a_config(
    page: Any, gateway_url: str, admin: tuple[str, str], steps: Any
) -> None:
    from playwright.sync_api import expect

    admin_email, admin_password = admin
    user_email = f"lin-{uuid.uuid4().hex[:8]}@example.com"
    httpx.post(
        f"{gateway_url}/api/v1/auth/register", json={"email": user_email, "password": "Correct-horse-9"}
    ).raise_for_status()
    key = f"demo.greeting.{uuid.uuid4().hex[:6]}"

    # Given an admin signed in
    page.goto(gateway_url + "/")
    page.get_by_label("Email").fill(admin_email)
    page.get_by_label("Password").fill(admin_password)
    page.get_by_role("button", name="Sign in", exact=True).click()

    # When they move a user to the pro tier and disable the account
    page.get_by_role("link", name="Users").click()
    page.get_by_label(f"Tier {user_email}").select_option("pro")
    expect(page.get_by_label(f"Tier {user_email}")).to_have_value("pro")
    page.get_by_label(f"Active {user_email}").uncheck()
    expect(page.get_by_label(f"Active {user_email}")).not_to_be_checked()
    expect(page.get_by_role("alert")).to_have_count(0)
    steps.shot(page, "users")
    # Then the API agrees: the account can no longer sign in
    assert httpx.post(
        f"{gateway_url}/api/v1/auth/login", json={"email": user_email, "password": "Correct-horse-9"}
    ).status_code in (401, 403)

    # When they create a config key and change it twice
    page.get_by_role("link", name="Runtime configuration").click()
    page.get_by_role("button", name="New key").click()
    page.get_by_label("Key").fill(key)
    page.get_by_label("Value (JSON)").fill('{"text": "hello", "limit": 5}')
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("heading", name=key)).to_be_visible()
    for value in ('{"text": "你好", "limit": 5}', '{"text": "hi", "limit": 10}'):
        page.get_by_label("Value (JSON)").fill(value)
        page.get_by_role("button", name="Save").click()
        expect(page.locator(".card table tbody tr").first).to_contain_text("update")
    expect(page.locator(".card table tbody tr")).to_have_count(3)

    # Then the history diffs the last two versions
    diff = page.get_by_label("Diff")
    expect(diff.locator(".del")).to_have_text(['-   "limit": 5,', '-   "text": "你好"'])
    expect(diff.locator(".add")).to_have_text(['+   "limit": 10,', '+   "text": "hi"'])
    steps.shot(page, "config-diff", full_page=True)

    # When they roll back to version 1
    page.once("dialog", lambda d: d.accept())
    page.locator(".card table tbody tr", has_text="create").get_by_role("button", name="Roll back to this").click()
    expect(page.locator(".card table tbody tr").first).to_contain_text("rollback")
    expect(page.get_by_label("Value (JSON)")).to_have_value('{\n  "limit": 5,\n  "text": "hello"\n}')

    # And the audit log lists the rollback
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Key").fill(key)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr").first).to_contain_text("rollback")
    steps.shot(page, "audit-log")
    steps.publish({"config-diff": "console-config-diff.png", "audit-log": "console-audit-log.png"})
