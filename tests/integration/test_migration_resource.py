"""The migrations custom resource answers CloudFormation on its presigned response URL."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from claw_local.lambda_runtime import LambdaContext


def _cfn_event(request_type: str, response_url: str) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:claw-ai-dev-migrations",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/claw-ai-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "DatabaseMigrations",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "x", "LayerVersion": "arn:aws:lambda:...:layer:claw-ai-dev-common:7"},
    }


def test_create_applies_migrations_sweeps_orphan_vector_indexes_and_reports_success(platform: Any, db: Any) -> None:
    # Given the vector index of a knowledge base that no longer exists (its drop had timed out)
    orphan = "chunks_hnsw_" + uuid.uuid4().hex
    db.execute(f"CREATE INDEX {orphan} ON chunks (chunk_index) WHERE kb_id = '{uuid.uuid4()}'::uuid")
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from config_app.migrate_handler import lambda_handler

        ctx = LambdaContext("claw-ai-dev-migrations", 1024, "arn", "id", timeout_s=60)
        url = f"http://127.0.0.1:{server.server_address[1]}/response"
        result = lambda_handler(_cfn_event("Create", url), ctx)
        lambda_handler(_cfn_event("Delete", url), ctx)
    finally:
        server.shutdown()

    assert result["Status"] == "SUCCESS"
    assert [r["Status"] for r in received] == ["SUCCESS", "SUCCESS"]
    assert db.execute("SELECT to_regclass(%s) AS idx", (orphan,)).fetchone()["idx"] is None
    assert received[0]["LogicalResourceId"] == "DatabaseMigrations" and received[0]["RequestId"] == "req-1"
