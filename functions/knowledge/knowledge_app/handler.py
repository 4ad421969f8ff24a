"""Knowledge function: knowledge bases, documents (text, multipart, upload URLs), chunks, search, reindex."""

from __future__ import annotations

from claw_common.http.app import create_app, mount
from claw_common.http.entry import api_entry
from knowledge_app.routes import router

app = create_app(
    "CLAW.AI knowledge",
    "Knowledge bases and their documents, chunks, vector and hybrid search, hit testing and reindexing.",
    "/openapi/knowledge.json",
)
mount(app, router)
lambda_handler = api_entry(app)
