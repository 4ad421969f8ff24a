"""8 routes on Powertools' APIGatewayRestResolver: the cold-start floor for an HTTP function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()


@app.get("/api/v1/items")
def list_items() -> dict[str, Any]:
    return {"items": [], "next_cursor": None}


@app.post("/api/v1/items")
def create_item() -> dict[str, Any]:
    return {"id": "1", **(app.current_event.json_body or {})}


@app.get("/api/v1/items/<item_id>")
def get_item(item_id: str) -> dict[str, Any]:
    return {"id": item_id}


@app.put("/api/v1/items/<item_id>")
def put_item(item_id: str) -> dict[str, Any]:
    return {"id": item_id}


@app.delete("/api/v1/items/<item_id>")
def delete_item(item_id: str) -> dict[str, Any]:
    return {}


@app.get("/api/v1/items/<item_id>/parts")
def list_parts(item_id: str) -> dict[str, Any]:
    return {"items": []}


@app.post("/api/v1/items/<item_id>/parts")
def add_part(item_id: str) -> dict[str, Any]:
    return {"id": "p1"}


@app.get("/api/v1/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
