"""Auth function: register, login, refresh, logout, me, API keys and admin user management."""

from __future__ import annotations

from authorizer_app.routes import router
from claw_common.http.app import create_app, mount
from claw_common.http.entry import api_entry

app = create_app(
    "CLAW.AI auth",
    "Accounts, sessions (access + refresh tokens), API keys and admin user management.",
    "/openapi/auth.json",
)
mount(app, router)
lambda_handler = api_entry(app)
