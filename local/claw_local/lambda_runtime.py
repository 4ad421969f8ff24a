"""Runs the template's Lambda handlers in-process, one warm "container" per function.

Each function's module is imported once (its cold start) and invoked with the event and
a Lambda context, like the managed runtime does. Invocations of the API functions are
serialised process-wide: on AWS every execution environment runs one invocation at a time,
and the state that makes that matter (Powertools' logger keys and metric sets, which are
process-wide) is shared here by all functions, so two concurrent invocations would mix their
EMF output.

Every other function runs under a lock of its own, as on AWS where they are separate
functions: queue consumers (ingest), because a long ingest (minutes for a large document) must
never hold the API, /health included; functions that other functions invoke (the embed
function, through ``claw_local.lambda_api``), because the invocation that waits for them must
not hold them out. The price, locally only: such an invocation running next to an API request
may share logger keys and metric sets with it for that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from claw_local.logs import output_of
from claw_local.template import LOCAL_ACCOUNT_ID, FunctionSpec, LocalStack


@dataclass
class LambdaContext:
    """The attributes of the managed runtime's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: int
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"
    _deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalLambda:
    """One function of the template, loaded lazily and invoked in-process."""

    def __init__(self, spec: FunctionSpec, region: str, stage: str, lock: threading.Lock | None = None) -> None:
        self.spec = spec
        self.region = region
        self.name = f"claw-ai-{stage}-{spec.logical_id.removesuffix('Function').lower()}"
        # The function's service name as on AWS (POWERTOOLS_SERVICE_NAME from the template).
        self.service = (
            spec.environment.get("POWERTOOLS_SERVICE_NAME") or spec.logical_id.removesuffix("Function").lower()
        )
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None
        self._module: Any = None
        self._lock = lock or threading.Lock()
        self.invocations = 0

    def _load(self) -> Callable[[dict[str, Any], Any], Any]:
        code_dir = str(self.spec.code_uri)
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        module_name, func_name = self.spec.handler.rsplit(".", 1)
        module = importlib.import_module(module_name)
        self._module = module
        return getattr(module, func_name)

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            if self._handler is None:
                self._handler = self._load()
            context = LambdaContext(
                function_name=self.name,
                memory_limit_in_mb=self.spec.memory,
                invoked_function_arn=f"arn:aws:lambda:{self.region}:{LOCAL_ACCOUNT_ID}:function:{self.name}",
                aws_request_id=str(uuid.uuid4()),
                timeout_s=self.spec.timeout,
                log_group_name=f"/aws/lambda/{self.name}",
            )
            self.invocations += 1
            _ensure_event_loop()
            _use_service_name(self.service, self._module)
            with output_of(self.service):
                return self._handler(event, context)


def _use_service_name(service: str, handler_module: Any) -> None:
    """Give Powertools' process-wide logger and metrics this function's service name.

    On AWS each function reads POWERTOOLS_SERVICE_NAME at import in its own process; here all
    functions share one logger and one metrics object, so the name is set per invocation
    (invocations are serialised). A handler module's own logger (the authorizer keeps one, to
    stay light) gets it too. ``_default_log_keys`` is what ``clear_state`` resets to.
    """
    from aws_lambda_powertools import Logger

    from claw_common.observability import logger, metrics

    metrics.service = service
    own = vars(handler_module).values() if handler_module is not None else ()
    # A Powertools Logger, or the authorizer's JsonLogger (same service/append_keys interface).
    loggers = [logger, *(v for v in own if isinstance(v, Logger) or type(v).__name__ == "JsonLogger")]
    for each in loggers:
        each.service = service
        with contextlib.suppress(AttributeError, TypeError):
            each._default_log_keys["service"] = service
        each.append_keys(service=service)


def _ensure_event_loop() -> None:
    """Give the invoking thread an event loop, as Lambda's main thread has one.

    Mangum calls ``asyncio.get_event_loop()``; the gateway invokes from worker threads, which
    have none, so concurrent requests (new worker threads) would fail without this.
    """
    try:
        asyncio.get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def api_functions(stack: LocalStack) -> set[str]:
    """The functions API Gateway invokes: REST and WebSocket routes, the authorizers."""
    found = {route.function for route in stack.routes}
    if stack.authorizer is not None:
        found.add(stack.authorizer.function)
    for route in stack.websocket.routes.values() if stack.websocket else ():
        found.add(route.function)
        if route.authorizer:
            found.add(route.authorizer)
    return found


class LocalLambdas:
    """All functions of the template by logical id."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        api_lock = threading.Lock()
        api = api_functions(stack)
        self.functions = {
            fid: LocalLambda(spec, stack.region, stack.stage, api_lock if fid in api else threading.Lock())
            for fid, spec in stack.functions.items()
        }

    def __getitem__(self, logical_id: str) -> LocalLambda:
        return self.functions[logical_id]

    def preload(self) -> None:
        """Import every handler now (fails fast on a broken function)."""
        for fn in self.functions.values():
            with fn._lock:
                if fn._handler is None:
                    fn._handler = fn._load()
