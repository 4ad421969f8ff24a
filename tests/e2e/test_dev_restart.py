"""`make dev`, use it, Ctrl-C, `make dev` at once: nothing is lost.

The platform runs as ``python -m claw_local`` (what ``make dev`` runs) in its own process with
its own data folder and ports, so its emulator state is its own. A file goes in with the AWS
CLI command of the README; a sensitive config value is sealed with the KMS key; after the
restart the file is listed (API and S3), reindex works and the value can be revealed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from claw_local.services import free_port

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "claw-ai-local-documents-123456789012-us-east-1"
ADMIN = ("restart-admin@example.com", "Restart-admin-pass-9")


class DevProcess:
    """``python -m claw_local`` as ``make dev`` starts it; ``stop`` is Ctrl-C."""

    def __init__(self, data_dir: Path, port: int, aws_port: int) -> None:
        self.port, self.aws_port = port, aws_port
        self.args = [sys.executable, "-m", "claw_local", "--data-dir", str(data_dir)]
        self.args += ["--port", str(port), "--aws-port", str(aws_port)]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("layers/common", "layers/ai", "local")),
            "CLAW_ADMIN_EMAIL": ADMIN[0],
            "CLAW_ADMIN_PASSWORD": ADMIN[1],
        }
        for inherited in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "JWT_SIGNING_KEYS"):
            self.env.pop(inherited, None)
        self.proc: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 180) -> None:
        self.output = []
        self.proc = subprocess.Popen(
            self.args, env=self.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        ready = threading.Event()

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line)
                if line.startswith("ready:"):
                    ready.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("the platform did not start:\n" + "".join(self.output[-40:]))

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    process = DevProcess(tmp_path / "claw", free_port(), free_port())
    yield process
    if process.proc is not None:
        process.stop()


def _aws_cli() -> str:
    found = shutil.which("aws", path=f"{ROOT / '.venv/tools/bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    assert found, "the AWS CLI is missing: `make tools` installs it under .venv/tools/bin"
    return found


def _wait_for(check: object, what: str, timeout: float = 60) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()  # type: ignore[operator]
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def _login(api: httpx.Client, email: str, password: str) -> dict[str, str]:
    resp = api.post("/auth/login", json={"email": email, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_files_keys_and_messages_survive_a_restart(dev: DevProcess, tmp_path: Path) -> None:
    port, aws_port = dev.port, dev.aws_port
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=30)
    endpoint = f"http://127.0.0.1:{aws_port}"
    # The README's command, with the credentials inline as the README writes them.
    aws_env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    # Given a running platform, a user with a knowledge base and a file dropped into S3
    dev.start()
    resp = api.post("/auth/register", json={"email": "ada@example.com", "password": "Correct-horse-9", "name": "Ada"})
    assert resp.status_code == 201, resp.text
    user = _login(api, "ada@example.com", "Correct-horse-9")
    kb = api.post("/knowledge", headers=user, json={"name": "Support"}).json()["id"]
    policy = tmp_path / "policy.txt"
    policy.write_text("退货政策：30 天内可退货。Returns are accepted within 30 days.\n", encoding="utf-8")
    subprocess.run(
        [_aws_cli(), "--endpoint-url", endpoint, "s3", "cp", str(policy), f"s3://{BUCKET}/kb/{kb}/policy.txt"],
        env=aws_env,
        check=True,
        capture_output=True,
    )

    def documents() -> list[dict[str, object]]:
        return list(api.get(f"/knowledge/{kb}/documents", headers=user).json()["items"])

    _wait_for(lambda: [d for d in documents() if d["status"] == "ready"], "the dropped file to be ingested")
    document = documents()[0]
    # And a sensitive config value, sealed under the KMS key
    admin = _login(api, *ADMIN)
    resp = api.post(
        "/configs",
        headers=admin,
        json={"key": "integrations.crm_token", "value": "sk-live-restart", "is_sensitive": True},
    )
    assert resp.status_code == 201, resp.text

    # And a message waiting in a queue nothing polls (the dead-letter queue)
    dlq = f"{endpoint}/123456789012/claw-ai-local-ingest-dlq"
    aws = [_aws_cli(), "--endpoint-url", endpoint]
    subprocess.run([*aws, "sqs", "send-message", "--queue-url", dlq, "--message-body", "kept"], env=aws_env, check=True)
    versions_before = subprocess.run(
        [*aws, "s3api", "list-object-versions", "--bucket", BUCKET, "--prefix", f"kb/{kb}/"],
        env=aws_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    # When the platform is stopped with Ctrl-C and started again at once, on the same ports
    assert dev.stop() == 0
    dev.start()

    # Then the file is still in S3 and listed by the API
    listing = subprocess.run(
        [_aws_cli(), "--endpoint-url", endpoint, "s3", "ls", f"s3://{BUCKET}/kb/{kb}/"],
        env=aws_env,
        check=True,
        capture_output=True,
        text=True,
    )
    assert "policy.txt" in listing.stdout
    versions_after = subprocess.run(
        [*aws, "s3api", "list-object-versions", "--bucket", BUCKET, "--prefix", f"kb/{kb}/"],
        env=aws_env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(versions_after)["Versions"] == json.loads(versions_before)["Versions"]
    received = subprocess.run(
        [*aws, "sqs", "receive-message", "--queue-url", dlq], env=aws_env, check=True, capture_output=True, text=True
    ).stdout
    assert [m["Body"] for m in json.loads(received)["Messages"]] == ["kept"]
    user = _login(api, "ada@example.com", "Correct-horse-9")
    assert [d["id"] for d in documents()] == [document["id"]]
    # And reindexing reads the file again
    resp = api.post(f"/knowledge/{kb}/documents/{document['id']}/reindex", headers=user)
    assert resp.status_code == 202, resp.text
    _wait_for(
        lambda: api.get(f"/knowledge/{kb}/documents/{document['id']}", headers=user).json()["status"] == "ready",
        "the reindexed document to be ready",
    )
    # And the sensitive value can still be decrypted: revealed alone and in an export
    admin = _login(api, *ADMIN)
    resp = api.get("/configs/integrations.crm_token", headers=admin, params={"reveal": "true"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["value"] == "sk-live-restart"
    resp = api.post("/configs/export", headers=admin, json={"reveal": True})
    assert resp.status_code == 200, resp.text
    exported = {item["key"]: item["value"] for item in resp.json()["items"]}
    assert exported["integrations.crm_token"] == "sk-live-restart"


def test_a_busy_port_is_one_line_naming_the_setting(dev: DevProcess) -> None:
    # Given something already listening on the API port
    import socket

    port = dev.port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        # When the platform starts
        result = subprocess.run(dev.args, env=dev.env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    # Then it says so in one line that names the way to pick another port, no traceback
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert f"port {port}" in error_lines[0] and "PORT=" in error_lines[0] and "CLAW_GATEWAY_PORT" in error_lines[0]
