"""What an API function imports at cold start: no JWT/crypto stack where no token is verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("joserfc", "cryptography.x509", "cryptography.hazmat.primitives.asymmetric.ec")


@pytest.mark.parametrize(
    ("function", "module"),
    [("chat", "chat_app.handler"), ("knowledge", "knowledge_app.handler"), ("config", "config_app.handler")],
)
def test_api_functions_that_verify_no_token_do_not_import_jwt_or_x509(function: str, module: str) -> None:
    code = (
        f"import importlib, json, sys; importlib.import_module({module!r}); "
        "import claw_common.http.security, claw_common.auth.accounts; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    paths = [ROOT / "layers" / "common", ROOT / "layers" / "ai", ROOT / "functions" / function]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, paths)), "AWS_EC2_METADATA_DISABLED": "true"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_auth_api_imports_the_jwt_stack_and_pydantic_settings_only_when_needed() -> None:
    # The auth API signs tokens on login and refresh only; settings are a plain pydantic model.
    code = (
        "import json, sys, authorizer_app.handler; "
        f"print(json.dumps([m for m in {(*HEAVY, 'pydantic_settings')!r} if m in sys.modules]))"
    )
    paths = [ROOT / "layers" / "common", ROOT / "functions" / "authorizer"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "AWS_EC2_METADATA_DISABLED": "true",
        "DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
