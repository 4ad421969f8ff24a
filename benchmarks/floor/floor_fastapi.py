"""The same 8 routes on FastAPI + Mangum, with pydantic bodies, nothing of CLAW.AI's own."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from mangum import Mangum
from pydantic import BaseModel

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


class Item(BaseModel):
    name: str = ""


@app.get("/api/v1/items")
def list_items() -> dict[str, Any]:
    return {"items": [], "next_cursor": None}


@app.post("/api/v1/items")
def create_item(item: Item) -> dict[str, Any]:
    return {"id": "1", **item.model_dump()}


@app.get("/api/v1/items/{item_id}")
def get_item(item_id: str) -> dict[str, Any]:
    return {"id": item_id}


@app.put("/api/v1/items/{item_id}")
def put_item(item_id: str, item: Item) -> dict[str, Any]:
    return {"id": item_id}


@app.delete("/api/v1/items/{item_id}")
def delete_item(item_id: str) -> dict[str, Any]:
    return {}


@app.get("/api/v1/items/{item_id}/parts")
def list_parts(item_id: str) -> dict[str, Any]:
    return {"items": []}


@app.post("/api/v1/items/{item_id}/parts")
def add_part(item_id: str) -> dict[str, Any]:
    return {"id": "p1"}


@app.get("/api/v1/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


lambda_handler = Mangum(app, lifespan="off")
