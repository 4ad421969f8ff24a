"""Expand the SAM template into the CloudFormation that gets deployed (as ``sam build``/``deploy`` do).

Runs with the SAM CLI's Python (``.venv/tools/bin/python``): the same YAML loader and the same
``samtranslator`` as ``sam build``. Local code paths are replaced by placeholder S3 URIs, as
``sam validate`` does. Prints the expanded template as JSON.

    .venv/tools/bin/python infra/expand_template.py [TEMPLATE] [--parameter Name=Value ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
# Required parameters get harmless values; everything else keeps its default.
PLACEHOLDERS = {
    "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:claw-ai/dev/database-AbCdEf",
    "RedisUrl": "rediss://cache.example.internal:6379/0",
    "UploadAllowedOrigins": "https://console.example.com",
}
PSEUDO = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class _NoManagedPolicies:
    """The template names no AWS managed policy by bare name, so no IAM lookup is needed."""

    def load(self) -> dict[str, str]:
        return {}


def expand(template_path: Path, parameters: dict[str, str]) -> dict[str, Any]:
    import os

    # The translator fills AWS::Region from the session; nothing is called.
    os.environ.setdefault("AWS_DEFAULT_REGION", PSEUDO["AWS::Region"])
    from samcli.yamlhelper import yaml_parse
    from samtranslator.translator.transform import transform

    template = yaml_parse(template_path.read_text())
    for res in (template.get("Resources") or {}).values():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://placeholder-bucket/code.zip"
        if res.get("Type") == "AWS::Serverless::LayerVersion" and isinstance(props.get("ContentUri"), str):
            props["ContentUri"] = "s3://placeholder-bucket/layer.zip"
    values = {**PSEUDO, **PLACEHOLDERS, **parameters}
    return transform(template, values, _NoManagedPolicies())  # type: ignore[arg-type]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("template", nargs="?", default=str(TEMPLATE))
    parser.add_argument("--parameter", action="append", default=[], help="Name=Value")
    args = parser.parse_args()
    parameters = dict(p.split("=", 1) for p in args.parameter)
    json.dump(expand(Path(args.template), parameters), sys.stdout, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
