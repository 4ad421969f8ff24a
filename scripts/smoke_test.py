"""Post-deploy smoke test: health, sign-up, a document round trip and a cited chat answer.

    python scripts/smoke_test.py --stack-name claw-ai-dev          # reads the stack's Outputs
    python scripts/smoke_test.py --base-url http://127.0.0.1:3000  # against `make dev`

Exits non-zero, naming the failed step, when anything is wrong. It creates a throwaway user
and knowledge base and deletes the knowledge base at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

import httpx

DOC_TITLE = "Returns policy"
DOC_TEXT = (
    "# Returns policy\n\n"
    "Customers may return any unused product within 30 days of delivery for a full refund. "
    "Refunds are paid to the original payment method within 5 business days.\n\n"
    "# 退货政策\n\n收到商品后 30 天内，未使用的商品可以全额退款。退款会在 5 个工作日内退回原支付方式。\n"
)


class SmokeFailure(Exception):
    pass


def stack_api_url(stack_name: str, region: str | None) -> str:
    """The ``ApiUrl`` output of a deployed stack."""
    import boto3

    stacks = boto3.client("cloudformation", region_name=region).describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if "ApiUrl" not in outputs:
        raise SmokeFailure(f"stack {stack_name} has no ApiUrl output")
    return outputs["ApiUrl"].rstrip("/")


def expect(resp: httpx.Response, status: int, step: str) -> Any:
    if resp.status_code != status:
        raise SmokeFailure(f"{step}: expected {status}, got {resp.status_code}: {resp.text[:500]}")
    return resp.json() if resp.content else None


def run(base_url: str, timeout_s: float = 120.0, log: Any = print) -> dict[str, Any]:
    """Run every step; returns what was seen (for tests). Raises SmokeFailure."""
    api = base_url.rstrip("/") + "/api/v1"
    seen: dict[str, Any] = {}
    with httpx.Client(timeout=60) as http:
        health = expect(http.get(f"{api}/health"), 200, "health")
        checks = health["checks"]
        log(f"ok   health: database {checks['database']['status']}, cache {checks['cache']['status']}")

        email = f"smoke-{uuid.uuid4().hex[:10]}@example.com"
        password = f"Smoke-{uuid.uuid4().hex}"
        user = expect(http.post(f"{api}/auth/register", json={"email": email, "password": password}), 201, "sign-up")
        tokens = expect(http.post(f"{api}/auth/login", json={"email": email, "password": password}), 200, "login")
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = expect(http.get(f"{api}/auth/me", headers=auth), 200, "me")
        if me["id"] != user["id"]:
            raise SmokeFailure("me: the token's user is not the registered user")
        log(f"ok   sign-up and login as {email}")

        kb = expect(http.post(f"{api}/knowledge", json={"name": "smoke test"}, headers=auth), 201, "create kb")
        try:
            doc = expect(
                http.post(
                    f"{api}/knowledge/{kb['id']}/documents",
                    json={"title": DOC_TITLE, "content": DOC_TEXT},
                    headers=auth,
                ),
                202,
                "add document",
            )
            deadline = time.monotonic() + timeout_s
            while True:
                state = expect(
                    http.get(f"{api}/knowledge/{kb['id']}/documents/{doc['id']}", headers=auth), 200, "document status"
                )
                if state["status"] in ("ready", "failed"):
                    break
                if time.monotonic() > deadline:
                    raise SmokeFailure(f"document still {state['status']} after {timeout_s}s")
                time.sleep(0.5)
            if state["status"] != "ready":
                raise SmokeFailure(f"document failed: {state.get('error')}")
            log(f"ok   document ingested: {state['chunk_count']} chunks")

            query = expect(
                http.post(
                    f"{api}/knowledge/{kb['id']}/query", json={"question": "How long do refunds take?"}, headers=auth
                ),
                200,
                "query",
            )
            if not query["sources"] or query["sources"][0]["document_id"] != doc["id"]:
                raise SmokeFailure("query: the document was not the top source")
            log(f"ok   query: top source score {query['sources'][0]['score']:.3f}")

            conv = expect(
                http.post(f"{api}/conversations", json={"title": "smoke", "knowledge_base_id": kb["id"]}, headers=auth),
                201,
                "create conversation",
            )
            answer = expect(
                http.post(f"{api}/conversations/{conv['id']}/chat", json={"message": "退款多久到账？"}, headers=auth),
                200,
                "chat",
            )
            if not answer["content"] or not answer["sources"]:
                raise SmokeFailure("chat: no answer or no sources")
            if answer["sources"][0]["document_id"] != doc["id"]:
                raise SmokeFailure("chat: the answer does not cite the document")
            log(
                f"ok   chat: {answer['model']} answered with {len(answer['sources'])} source(s), "
                f"{answer['usage']['total_tokens']} tokens"
            )
            seen.update(user=user, kb=kb, document=state, query=query, answer=answer)
        finally:
            http.delete(f"{api}/knowledge/{kb['id']}", headers=auth)
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack-name", help="a deployed stack (reads its ApiUrl output)")
    target.add_argument("--base-url", help="e.g. http://127.0.0.1:3000 for make dev")
    parser.add_argument("--region")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for ingest")
    args = parser.parse_args()
    try:
        base = args.base_url or stack_api_url(args.stack_name, args.region)
        run(base, args.timeout)
    except SmokeFailure as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
