"""Unzipped size of every function with its layers, from what ``sam build`` produced.

Lambda refuses a function whose code and layers unzip to more than 250 MB; this prints
what each one weighs against the project's own budgets (``make build`` runs it), once per
deployment configuration: which layers a function gets depends on the template's conditions
(the offline embedder's layer goes only where the deployment embeds offline).

    python infra/lambda_sizes.py [.aws-sam/build] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

LAMBDA_LIMIT_MB = 250
BUDGETS_MB = {"AuthorizerFunction": 40, "IngestFunction": 200, "MigrationFunction": 200, "OcrFunction": 200}
"""Budgets by function; any other function (the API's): API_BUDGET_MB."""
API_BUDGET_MB = 120

ZHIPU_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:zhipu"
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "no Zhipu key, OfflineEmbeddings=Auto: embeds offline, with the offline embedder layer": {
        "ZhipuSecretArn": "",
        "OfflineEmbeddings": "Auto",
    },
    "Zhipu key, OfflineEmbeddings=Auto: embedding-3, no offline embedder layer": {
        "ZhipuSecretArn": ZHIPU_SECRET,
        "OfflineEmbeddings": "Auto",
    },
}
"""Deployment parameters whose conditions decide the layers (Always = the first one's layers)."""


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


class Conditions:
    """The template's conditions for some parameter values (the intrinsics conditions use)."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str]) -> None:
        self.values = {name: parameters.get(name, spec.get("Default")) for name, spec in template["Parameters"].items()}
        self.values["AWS::NoValue"] = None
        self.expressions = template.get("Conditions") or {}

    def holds(self, name: str) -> bool:
        return bool(self.resolve(self.expressions[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not None]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((key, arg),) = value.items()
        if key == "Ref":
            return self.values.get(arg, arg)  # a resource's Ref: its logical id
        if key == "Condition":
            return self.holds(arg)
        if key == "Fn::If":
            return self.resolve(arg[1] if self.holds(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return self.resolve(arg[0]) == self.resolve(arg[1])
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Fn::And":
            return all(self.resolve(v) for v in arg)
        if key == "Fn::Or":
            return any(self.resolve(v) for v in arg)
        if key == "Fn::Join":
            return arg[0].join(str(v) for v in self.resolve(arg[1]))
        return value


def sizes(build_dir: Path, parameters: dict[str, str] | None = None) -> list[tuple[str, float, dict[str, float]]]:
    """(function, its own MB, {layer: MB}) for each function of the built template, with the
    layers it gets under ``parameters`` (default: the first of ``CONFIGURATIONS``)."""
    template = cfn_yaml.load(str(build_dir / "template.yaml"))
    conditions = Conditions(template, next(iter(CONFIGURATIONS.values())) if parameters is None else parameters)
    resources = template["Resources"]
    layer_mb = {
        name: folder_mb(build_dir / res["Properties"]["ContentUri"])
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    rows = []
    for name, res in sorted(resources.items()):
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        layers = [lay for lay in conditions.resolve(props.get("Layers", [])) if lay in layer_mb]
        rows.append((name, folder_mb(build_dir / props["CodeUri"]), {lay: layer_mb[lay] for lay in layers}))
    return rows


def report(build_dir: Path, title: str, parameters: dict[str, str]) -> list[str]:
    """Print one configuration's table; the functions over their budget."""
    over = []
    print(f"\n{title}")
    print(f"{'function':<22} {'code MB':>8} {'layers MB':>10} {'total MB':>9} {'budget':>7}  layers")
    for name, code, layers in sizes(build_dir, parameters):
        total = code + sum(layers.values())
        budget = BUDGETS_MB.get(name, API_BUDGET_MB)
        flag = "" if total <= budget else "  OVER"
        if total > budget:
            over.append(name)
        detail = ", ".join(f"{k} {v:.1f}" for k, v in layers.items()) or "-"
        print(f"{name:<22} {code:>8.1f} {sum(layers.values()):>10.1f} {total:>9.1f} {budget:>7}  {detail}{flag}")
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--check", action="store_true", help="exit 1 when a function is over its budget")
    args = parser.parse_args()
    over = [name for title, params in CONFIGURATIONS.items() for name in report(args.build_dir, title, params)]
    print(f"\n(Lambda's limit: {LAMBDA_LIMIT_MB} MB unzipped, code and layers together; budgets: authorizer 40,")
    print(f" API functions {API_BUDGET_MB}, ingest, OCR and migrations 200)")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
