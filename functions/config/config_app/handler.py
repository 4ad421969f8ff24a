"""Config function: runtime configuration API and the health check, behind API Gateway."""

from __future__ import annotations

from claw_common.http.app import API_PREFIX, create_app, mount
from claw_common.http.entry import api_entry
from claw_common.ratelimit.routes import router as ratelimit_router
from config_app.docs import router as docs_router
from config_app.routes import router

app = create_app("CLAW.AI config", "Runtime configuration with history, rollback and audit.", "/openapi/config.json")
mount(app, router)
app.include_router(ratelimit_router, prefix=API_PREFIX)
mount(app, docs_router)
lambda_handler = api_entry(app)
