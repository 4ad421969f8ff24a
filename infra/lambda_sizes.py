"""Unzipped size of every function with its layers, from what ``sam build`` produced.

Lambda refuses a function whose code and layers unzip to more than 250 MB; this prints
what each one weighs against the project's own budgets (``make build`` runs it), once per
deployment configuration: which functions exist and which layers they get depend on the
template's conditions (the embed function and the offline embedder's layer exist only where the
deployment embeds offline).

    python infra/lambda_sizes.py [.aws-sam/build] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LAMBDA_LIMIT_MB = 250
BUDGETS_MB = {
    "AuthorizerFunction": 40,
    "EmbedFunction": 200,
    "IngestFunction": 200,
    "MigrationFunction": 200,
    "OcrFunction": 200,
}
"""Budgets by function; any other function (the API's): API_BUDGET_MB."""
API_BUDGET_MB = 120

REGION = "us-east-1"
ZHIPU_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:zhipu"
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "no Zhipu key, OfflineEmbeddings=Auto: embeds offline (the embed function, the offline embedder layer)": {
        "ZhipuSecretArn": "",
        "OfflineEmbeddings": "Auto",
    },
    "Zhipu key, OfflineEmbeddings=Auto: embedding-3 (no embed function, no offline embedder layer)": {
        "ZhipuSecretArn": ZHIPU_SECRET,
        "OfflineEmbeddings": "Auto",
    },
}
"""Deployment parameters whose conditions decide the layers (Always = the first one's layers)."""


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def sizes(build_dir: Path, parameters: dict[str, str] | None = None) -> list[tuple[str, float, dict[str, float]]]:
    """(function, its own MB, {layer: MB}) for each function of the built template that exists
    under ``parameters`` (default: the first of ``CONFIGURATIONS``), with the layers it gets."""
    from claw_local.template import Resolver, load_template

    template = load_template(build_dir / "template.yaml")
    # The local runtime's resolver: the template's conditions for these parameter values.
    resolver = Resolver(template, next(iter(CONFIGURATIONS.values())) if parameters is None else parameters, REGION)
    resources = template["Resources"]
    layer_mb = {
        name: folder_mb(build_dir / res["Properties"]["ContentUri"])
        for name, res in resources.items()
        if res["Type"] == "AWS::Serverless::LayerVersion"
    }
    rows = []
    for name, res in sorted(resources.items()):
        condition = res.get("Condition")
        if res["Type"] != "AWS::Serverless::Function" or (condition and not resolver.conditions[condition]):
            continue
        props = res["Properties"]
        layers = [lay for lay in resolver.resolve(props.get("Layers", [])) or [] if lay in layer_mb]
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
    print(f" API functions {API_BUDGET_MB}, embed, ingest, OCR and migrations 200)")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
