"""Unzipped size of every function with its layers, from what ``sam build`` produced.

Lambda refuses a function whose code and layers unzip to more than 250 MB; this prints
what each one weighs against the project's own budgets (``make build`` runs it).

    python infra/lambda_sizes.py [.aws-sam/build] [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cfnlint.decode import cfn_yaml

LAMBDA_LIMIT_MB = 250
BUDGETS_MB = {"AuthorizerFunction": 40, "IngestFunction": 200, "MigrationFunction": 200, "OcrFunction": 200}
"""Budgets by function; any other function: API_BUDGET_MB."""
API_BUDGET_MB = 200


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def sizes(build_dir: Path) -> list[tuple[str, float, dict[str, float]]]:
    """(function, its own MB, {layer: MB}) for each function of the built template."""
    resources = cfn_yaml.load(str(build_dir / "template.yaml"))["Resources"]
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
        layers = [ref["Ref"] for ref in props.get("Layers", []) if isinstance(ref, dict) and "Ref" in ref]
        rows.append((name, folder_mb(build_dir / props["CodeUri"]), {lay: layer_mb[lay] for lay in layers}))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir", nargs="?", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--check", action="store_true", help="exit 1 when a function is over its budget")
    args = parser.parse_args()
    over = []
    print(f"{'function':<20} {'code MB':>8} {'layers MB':>10} {'total MB':>9} {'budget':>7}  layers")
    for name, code, layers in sizes(args.build_dir):
        total = code + sum(layers.values())
        budget = BUDGETS_MB.get(name, API_BUDGET_MB)
        flag = "" if total <= budget else "  OVER"
        if total > budget:
            over.append(name)
        detail = ", ".join(f"{k} {v:.1f}" for k, v in layers.items()) or "-"
        print(f"{name:<20} {code:>8.1f} {sum(layers.values()):>10.1f} {total:>9.1f} {budget:>7}  {detail}{flag}")
    print(f"(Lambda's limit: {LAMBDA_LIMIT_MB} MB unzipped, code and layers together)")
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
