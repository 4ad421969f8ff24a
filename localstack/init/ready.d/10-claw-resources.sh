#!/usr/bin/env bash
# LocalStack init hook: create the template's bucket, queues and bucket -> queue
# notification with the same code `make dev` uses (names and settings from infra/template.yaml,
# the account id from the endpoint's STS). The compose health check waits for READY_MARKER,
# written only when provisioning succeeded: LocalStack's own /_localstack/init/ready answers
# 200 while hooks are still running.
set -euo pipefail
READY_MARKER=/tmp/claw-resources.ready
rm -f "$READY_MARKER"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
python3 /opt/claw/local/claw_local/provision.py --endpoint-url http://localhost:4566 --stage "${CLAW_STAGE:-local}"
touch "$READY_MARKER"
