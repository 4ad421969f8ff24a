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
    for fn in ("AuthorizerFunction", "AuthFunction", "ChatFunction", "ConfigFunction", "IngestFunction"):
        assert (build_dir / fn).is_dir(), fn
    layer = build_dir / "CommonLayer" / "python"
    assert (layer / "claw_common" / "migrations" / "0001_extensions.sql").exists()
    assert (layer / "psycopg").is_dir() and (layer / "pydantic").is_dir()
    assert (build_dir / "IngestFunction" / "pypdf").is_dir()
