"""Check that the functions' reserved concurrency fits the database's connections.

Every warm container holds one PostgreSQL connection (``DB_POOL_MAX`` is 1 in Lambda), so the
most connections the stack can open is the sum of every ``*Concurrency`` parameter of the
template (reserved concurrency per function, the ingest trigger's maximum) but those of
functions that open none (the embed function), plus one for the migration function. That sum
must leave PostgreSQL room for its own reserved slots, operators and migrations run by hand:
``DatabaseMaxConnections`` minus a headroom of 10% (at least 5).
CloudFormation's Rules cannot add numbers, so ``make deploy`` runs this before ``sam deploy``
(docs/deploy.md#connections).

    python infra/connection_budget.py [--config-env dev|prod] [--parameter Name=Value ...]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
FIXED_CONNECTIONS = {"MigrationFunction": 1}
"""Functions with a fixed reserved concurrency of their own (the rotation function opens none)."""
WITHOUT_CONNECTIONS = ("EmbedConcurrency",)
"""Concurrency parameters of functions that never connect to the database (the embed function)."""


@dataclass(frozen=True)
class Budget:
    max_connections: int
    headroom: int
    per_function: dict[str, int]

    @property
    def used(self) -> int:
        return sum(self.per_function.values())

    @property
    def available(self) -> int:
        return self.max_connections - self.headroom

    @property
    def fits(self) -> bool:
        return self.used <= self.available

    def table(self) -> str:
        rows = [f"  {name:<28} {count:>5}" for name, count in sorted(self.per_function.items())]
        rows.append(f"  {'total':<28} {self.used:>5}")
        rows.append(f"  {'DatabaseMaxConnections':<28} {self.max_connections:>5}  (headroom {self.headroom})")
        return "\n".join(rows)


def headroom(max_connections: int) -> int:
    return max(5, max_connections // 10)


def template_defaults(path: Path = TEMPLATE) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "local"))
    from claw_local.template import load_template

    return {name: spec.get("Default") for name, spec in (load_template(path).get("Parameters") or {}).items()}


def samconfig_overrides(config_env: str, path: Path = SAMCONFIG) -> dict[str, str]:
    """``parameter_overrides`` of ``[<env>.deploy.parameters]`` as a dict."""
    config = tomllib.loads(path.read_text())
    raw = ((config.get(config_env) or {}).get("deploy") or {}).get("parameters", {}).get("parameter_overrides", "")
    return dict(item.split("=", 1) for item in shlex.split(raw))


def budget(parameters: dict[str, Any]) -> Budget:
    """The connection budget for these parameter values (template defaults filled in)."""
    values = {**template_defaults(), **{k: v for k, v in parameters.items() if v is not None}}
    per_function = {
        name: int(value)
        for name, value in values.items()
        if name.endswith("Concurrency") and name not in WITHOUT_CONNECTIONS
    }
    per_function.update(FIXED_CONNECTIONS)
    max_connections = int(values["DatabaseMaxConnections"])
    return Budget(max_connections, headroom(max_connections), per_function)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-env", help="samconfig.toml environment whose parameter_overrides apply")
    parser.add_argument("--parameter", action="append", default=[], help="Name=Value (wins over samconfig)")
    args = parser.parse_args()
    parameters: dict[str, Any] = samconfig_overrides(args.config_env) if args.config_env else {}
    parameters.update(dict(p.split("=", 1) for p in args.parameter))
    result = budget(parameters)
    print(result.table())
    if not result.fits:
        print(
            f"reserved concurrency needs {result.used} connections; DatabaseMaxConnections "
            f"{result.max_connections} leaves {result.available}. Lower a *Concurrency parameter, "
            "raise max_connections, or put RDS Proxy in front (DatabaseProxyTargetInstance).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
