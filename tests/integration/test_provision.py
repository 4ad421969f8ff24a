"""The LocalStack init hook's provisioner creates the template's resources on an endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from claw_local.template import ROOT


def test_provision_script_creates_bucket_queues_and_notification(platform: Any, sqs: Any, s3: Any) -> None:
    # When the init hook's script runs against the emulated endpoint (twice: it is idempotent)
    for _ in range(2):
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "local" / "claw_local" / "provision.py"),
                "--endpoint-url",
                os.environ["AWS_ENDPOINT_URL"],
                "--stage",
                "ci",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    env = json.loads(out.stdout)
    # Then the template's names and settings exist there
    assert env["DOCUMENTS_BUCKET"] == "claw-ai-ci-documents-123456789012-us-east-1"
    attrs = sqs.get_queue_attributes(QueueUrl=env["INGEST_QUEUE_URL"], AttributeNames=["All"])["Attributes"]
    assert int(attrs["VisibilityTimeout"]) == platform.stack.queues["IngestQueue"].visibility_timeout
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 3
    notification = s3.get_bucket_notification_configuration(Bucket=env["DOCUMENTS_BUCKET"])
    assert {e for q in notification["QueueConfigurations"] for e in q["Events"]} == {
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
    }


def test_the_platform_names_resources_with_the_endpoints_own_account(platform: Any) -> None:
    import boto3

    sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
    account = sts.get_caller_identity()["Account"]
    # One account id everywhere: what the init hook (provision.py) and `make dev` both ask STS.
    assert platform.stack.account_id == account
    assert platform.stack.bucket_name == f"claw-ai-local-documents-{account}-us-east-1"
