"""Create the template's bucket, queues and notification on any AWS endpoint.

Used by ``make dev`` (through ``LocalPlatform``) and by LocalStack's init hook, so the names
and settings (visibility timeout, redrive policy, notification filters) come from
``infra/template.yaml`` in both places and cannot drift.

    python local/claw_local/provision.py --endpoint-url http://localhost:4566 --stage local
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script (LocalStack init hook): import the package from its parent folder, and keep
    # this folder off sys.path (its platform.py would shadow the standard library's).
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from claw_local.sqs import create_resources
from claw_local.template import endpoint_account_id, load_local_stack


def provision(endpoint_url: str, stage: str, region: str) -> dict[str, str]:
    """Create the resources; returns the environment a function needs to find them."""
    import boto3
    from botocore.config import Config

    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    session = boto3.session.Session(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        region_name=region,
    )
    s3 = session.client("s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"}))
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    # moto answers 123456789012, LocalStack 000000000000: names that embed the account follow it.
    stack = load_local_stack({"Stage": stage}, region=region, account_id=endpoint_account_id(endpoint_url, region))
    queues = create_resources(stack, s3, sqs)
    env = {"DOCUMENTS_BUCKET": stack.bucket_name}
    for spec in stack.queues.values():
        if spec.dlq:
            env["INGEST_QUEUE_URL"] = queues[spec.logical_id].url
            env["INGEST_DLQ_URL"] = queues[spec.dlq].url
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566"))
    parser.add_argument("--stage", default=os.environ.get("CLAW_STAGE", "local"))
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    args = parser.parse_args()
    print(json.dumps(provision(args.endpoint_url, args.stage, args.region), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
