"""Upload the built console and widget to a deployed stack (``make deploy-web STACK=...``).

Reads the stack's outputs, uploads ``web/dist`` to the web bucket with the cache headers the
distribution relies on (hashed assets immutable, ``index.html`` and ``config.json`` revalidated,
``widget.js`` five minutes), writes ``config.json`` (the API and WebSocket URLs: nothing is baked
into the build) and invalidates what changed in place.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import time
from pathlib import Path
from typing import Any

DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"


def outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def upload(s3: Any, bucket: str, key: str, body: bytes, cache_control: str, content_type: str | None = None) -> None:
    kind = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
    s3.put_object(Bucket=bucket, Key=key, Body=body, CacheControl=cache_control, ContentType=kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack-name", required=True)
    args = parser.parse_args()
    import boto3

    out = outputs(boto3.client("cloudformation"), args.stack_name)
    bucket, web_url, distribution = out["WebBucketName"], out["WebUrl"], out["WebDistributionId"]
    s3 = boto3.client("s3")
    console = DIST / "console"
    if not (console / "index.html").exists():
        raise SystemExit("web/dist is not built: run `make web` first")
    for path in sorted((console / "assets").rglob("*")):
        if path.is_file():
            upload(
                s3, bucket, f"assets/{path.relative_to(console / 'assets').as_posix()}", path.read_bytes(), IMMUTABLE
            )
    upload(s3, bucket, "widget.js", (DIST / "widget.js").read_bytes(), "public, max-age=300")
    config = {"apiBase": "/api/v1", "wsUrl": out["WebSocketUrl"], "widgetUrl": f"{web_url}/widget.js"}
    upload(s3, bucket, "config.json", json.dumps(config).encode(), "no-cache", "application/json")
    # index.html last: it names the new assets, which must be there before anyone loads it.
    upload(s3, bucket, "index.html", (console / "index.html").read_bytes(), "no-cache")
    boto3.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": 3, "Items": ["/index.html", "/config.json", "/widget.js"]},
            "CallerReference": str(time.time()),
        },
    )
    print(f"console: {web_url}/   widget: {web_url}/widget.js")


if __name__ == "__main__":
    main()
