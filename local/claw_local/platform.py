"""The whole platform on one machine: services, resources, migrations, gateway, pollers."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from claw_local.lambda_runtime import LocalLambdas
from claw_local.services import Services, apply_dummy_aws_env, require_free_port, start_services
from claw_local.sqs import QueueInfo, SqsEventSource, create_resources, queue_env
from claw_local.template import ROOT, LocalStack, endpoint_account_id, load_local_stack

log = logging.getLogger("claw_local")

DEFAULT_DATA_DIR = ROOT / ".claw"
# Written while the platform runs: how other commands (make admin) reach its services.
STATE_FILE = "platform.json"


def running_platform(data_dir: Path = DEFAULT_DATA_DIR) -> dict[str, Any] | None:
    """The URLs of the platform running on ``data_dir`` (None when none runs there)."""
    path = Path(data_dir) / STATE_FILE
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(state)


def _local_signing_keys(data_dir: Path) -> str:
    """A signing key made once per data folder, so tokens survive restarts."""
    path = data_dir / "jwt-signing-keys.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"kid": "local-1", "secret": secrets.token_urlsafe(48)}))
        path.chmod(0o600)
    return path.read_text()


class LocalPlatform:
    """Starts everything ``make dev`` runs; tests use it too."""

    def __init__(
        self,
        data_dir: Path = DEFAULT_DATA_DIR,
        *,
        gateway_port: int = 3000,
        aws_port: int = 4566,
        redis_port: int | None = None,
        database_url: str | None = None,
        redis_url: str | None = None,
        aws_endpoint_url: str | None = None,
        visibility_timeout_override: int | None = None,
        extra_env: dict[str, str] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.gateway_port = gateway_port
        self.aws_port = aws_port
        self.redis_port = redis_port
        self.urls = {"database_url": database_url, "redis_url": redis_url, "aws_endpoint_url": aws_endpoint_url}
        self.visibility_timeout_override = visibility_timeout_override
        self.extra_env = extra_env or {}
        # Per-function log files (``make dev``: .claw/logs); None leaves output on stdout (tests).
        self.log_dir = log_dir
        self.services: Services | None = None
        self.stack: LocalStack | None = None
        self.lambdas: LocalLambdas | None = None
        self.queues: dict[str, QueueInfo] = {}
        self.pollers: list[SqsEventSource] = []
        self.gateway: Any = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self, *, serve: bool = True, poll: bool = True) -> LocalPlatform:
        apply_dummy_aws_env()
        if serve:
            require_free_port(self.gateway_port, "API")  # before anything starts: one clear line
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.log_dir is not None:
            from claw_local.logs import install

            install(self.log_dir)
        self.services = start_services(self.data_dir, aws_port=self.aws_port, redis_port=self.redis_port, **self.urls)
        try:
            self._configure_environment()
            self._migrate()
            self._create_resources()
            self.lambdas = LocalLambdas(self.stack)  # type: ignore[arg-type]
            if self.log_dir is not None:
                for function in self.lambdas.functions.values():
                    (self.log_dir / f"{function.service}.log").touch()  # so `make logs` follows them all
            self._seed_admin()
            if serve:
                self._serve()
            if poll:
                self._start_pollers()
            self._write_state_file()
        except BaseException:
            self.stop()
            raise
        return self

    def _configure_environment(self) -> None:
        assert self.services is not None
        # The account of the endpoint in use (embedded moto or LocalStack), as its init hook sees it.
        self.stack = load_local_stack(account_id=endpoint_account_id(self.services.aws_endpoint_url))
        stack = self.stack
        env = {
            k: v
            for k, v in next(iter(stack.functions.values())).environment.items()
            if (k.startswith("POWERTOOLS_") and k != "POWERTOOLS_SERVICE_NAME") or k == "CLAW_STAGE"
        }
        env.update(
            {
                "CLAW_STAGE": "local",
                # The platform's own lines; each function logs under its template service name
                # (claw_local.lambda_runtime sets it per invocation).
                "POWERTOOLS_SERVICE_NAME": "claw-local",
                "DATABASE_URL": self.services.database_url,
                "REDIS_URL": self.services.redis_url,
                "AWS_ENDPOINT_URL": self.services.aws_endpoint_url,
                "DOCUMENTS_BUCKET": stack.bucket_name,
                "DB_POOL_MAX": "8",
                "JWT_SIGNING_KEYS": os.environ.get("JWT_SIGNING_KEYS") or _local_signing_keys(self.data_dir),
                # No X-Ray daemon here: traces are not sent anywhere locally.
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            }
        )
        env.update(self.extra_env)
        os.environ.update(env)
        from claw_common.settings import get_settings

        get_settings.cache_clear()

    def _migrate(self) -> None:
        from claw_ai.schema import migrate

        applied = migrate()
        if applied:
            log.info("migrations applied: %s", ", ".join(applied))

    def _create_resources(self) -> None:
        from claw_common.aws import aws_client

        aws_client.cache_clear()
        assert self.stack is not None
        self.queues = create_resources(
            self.stack, aws_client("s3"), aws_client("sqs"), self.visibility_timeout_override
        )
        os.environ.update(queue_env(self.stack, self.queues))
        from claw_local.kms import ensure_config_key

        # Sensitive config values are sealed under this key (ConfigKey in the template).
        os.environ["CONFIG_KMS_KEY_ID"] = self.extra_env.get("CONFIG_KMS_KEY_ID") or ensure_config_key(
            aws_client("kms")
        )
        from claw_common.settings import get_settings

        get_settings.cache_clear()

    def _seed_admin(self) -> None:
        email, password = os.environ.get("CLAW_ADMIN_EMAIL"), os.environ.get("CLAW_ADMIN_PASSWORD")
        if not (email and password):
            return
        try:
            from claw_common.auth.accounts import ensure_admin
        except ImportError:  # the accounts module arrives with the auth API
            log.warning("CLAW_ADMIN_EMAIL is set but this build has no account module")
            return
        ensure_admin(email, password)
        log.info("admin %s is ready", email)

    def _serve(self) -> None:
        import uvicorn

        from claw_local.gateway import LocalGateway

        assert self.stack is not None and self.lambdas is not None
        websocket = None
        with contextlib.suppress(ImportError):
            from claw_local.websocket import LocalWebSocketApi

            if self.stack.websocket:
                websocket = LocalWebSocketApi(self.stack, self.lambdas, self)
                # Functions push frames through this endpoint (apigatewaymanagementapi).
                os.environ["WEBSOCKET_MANAGEMENT_URL"] = f"{self.gateway_url}/{self.stack.stage}"
                from claw_common.settings import get_settings

                get_settings.cache_clear()
        self.gateway = LocalGateway(self.stack, self.lambdas, websocket)
        # Functions invoke functions (the embed function) with boto3's Lambda client, served by the gateway.
        os.environ["AWS_ENDPOINT_URL_LAMBDA"] = self.gateway_url
        config = uvicorn.Config(
            self.gateway,
            host="127.0.0.1",
            port=self.gateway_port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio" if websocket else "none",
            timeout_keep_alive=30,
            backlog=512,
            # The client address is the socket's, as API Gateway's sourceIp is: never X-Forwarded-For
            # (uvicorn would otherwise trust it from loopback, letting any local client pick its IP).
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(target=self._server.run, name="gateway", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the gateway could not listen on 127.0.0.1:{self.gateway_port}")
            time.sleep(0.02)

    def _start_pollers(self) -> None:
        from claw_common.aws import aws_client

        assert self.stack is not None and self.lambdas is not None
        for spec in self.stack.sqs_events:
            poller = SqsEventSource(
                aws_client("sqs"), self.queues[spec.queue], spec, self.lambdas[spec.function], self.stack.region
            )
            poller.start()
            self.pollers.append(poller)

    def _write_state_file(self) -> None:
        assert self.services is not None
        path = self.data_dir / STATE_FILE
        state = {
            "pid": os.getpid(),
            "gateway_url": self.gateway_url,
            "aws_endpoint_url": self.services.aws_endpoint_url,
            "redis_url": self.services.redis_url,
            "database_url": self.services.database_url,
        }
        path.write_text(json.dumps(state, indent=2))
        path.chmod(0o600)

    def _remove_state_file(self) -> None:
        path = self.data_dir / STATE_FILE
        with contextlib.suppress(OSError, ValueError, KeyError):
            if int(json.loads(path.read_text())["pid"]) == os.getpid():
                path.unlink()

    def stop(self) -> None:
        self._remove_state_file()
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=5)
        self.pollers.clear()
        if self._server is not None:
            self._server.should_exit = True
            if self._server_thread is not None:
                self._server_thread.join(timeout=5)
            self._server = None
        with contextlib.suppress(Exception):
            from claw_common.data.db import close_pool

            close_pool()
        if self.services is not None:
            self.services.stop()
            self.services = None

    def __enter__(self) -> LocalPlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
