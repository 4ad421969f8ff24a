"""The LocalStack assets agree with the template and the settings the functions need."""

from __future__ import annotations

import json

import yaml

from claw_common.settings import Settings
from claw_local.template import ROOT, load_local_stack

LOCALSTACK = ROOT / "localstack"


def test_compose_runs_localstack_postgres_with_pgvector_and_valkey_on_loopback() -> None:
    compose = yaml.safe_load((LOCALSTACK / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"localstack", "postgres", "valkey"} <= set(services)
    assert "pgvector" in services["postgres"]["image"]
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    mounts = " ".join(services["localstack"]["volumes"])
    assert "/etc/localstack/init/ready.d" in mounts and "../infra" in mounts


def test_init_hook_provisions_from_the_template_with_the_shared_code() -> None:
    hooks = list((LOCALSTACK / "init" / "ready.d").glob("*.sh"))
    assert hooks and all(h.stat().st_mode & 0o111 for h in hooks)
    assert any("claw_local/provision.py" in h.read_text() for h in hooks)
    assert (ROOT / "local" / "claw_local" / "provision.py").exists()


def test_env_json_satisfies_settings_and_names_the_localstack_bucket() -> None:
    params = json.loads((LOCALSTACK / "env.json").read_text())["Parameters"]
    settings = Settings(**{k: v for k, v in params.items()})  # type: ignore[arg-type]
    assert settings.database_url.get_secret_value().startswith("postgresql://")
    stack = load_local_stack(account_id="000000000000")
    assert params["DOCUMENTS_BUCKET"] == stack.bucket_name


def test_localstack_is_healthy_only_after_the_init_hook_wrote_its_marker() -> None:
    compose = yaml.safe_load((LOCALSTACK / "docker-compose.yml").read_text())
    check = " ".join(compose["services"]["localstack"]["healthcheck"]["test"])
    [hook] = (LOCALSTACK / "init" / "ready.d").glob("*.sh")
    text = hook.read_text()
    marker = next(line.split("=", 1)[1] for line in text.splitlines() if line.startswith("READY_MARKER="))
    assert f"test -f {marker}" in check
    # Written last (after provisioning, under `set -e`), removed first (a restart starts unhealthy).
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[-1] == 'touch "$READY_MARKER"' and "set -euo pipefail" in lines
    assert text.index('rm -f "$READY_MARKER"') < text.index("provision.py")
