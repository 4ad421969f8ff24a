"""Lambda's Invoke API for the template's functions, on the local gateway's port.

A function that invokes another one (the API functions call the embed function where the
offline model is not installed in them) uses boto3's own Lambda client; ``AWS_ENDPOINT_URL_LAMBDA``
points it here, so the code runs unchanged. Served as Lambda serves a synchronous invocation
(``POST /2015-03-31/functions/{name}/invocations``, ``RequestResponse``):

* the handler's result, as JSON, with 200;
* a handler that raises: 200 with ``X-Amz-Function-Error: Unhandled`` and the runtime's
  ``{"errorMessage", "errorType"}`` (boto3's ``FunctionError``), as is a result over 6 MB;
* an unknown function 404 ``ResourceNotFoundException``, a payload that is not JSON 400
  ``InvalidRequestContentException``, over 6 MB 413 ``RequestTooLargeException``, another
  invocation type 400 (nothing here invokes asynchronously).

The function is found by its name or ARN. Like the gateway, it answers on loopback only and
checks no signature.
"""

from __future__ import annotations

import json
import logging
import re
import time

from claw_local.lambda_runtime import LocalLambda, LocalLambdas

log = logging.getLogger("claw_local")
access_log = logging.getLogger("claw_local.access")
Response = tuple[int, list[tuple[str, str]], bytes]

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")
MAX_PAYLOAD = 6 * 1024 * 1024
"""Lambda's limit for a synchronous invocation's request and its response."""


def _error(status: int, error_type: str, message: str) -> Response:
    headers = [("Content-Type", "application/json"), ("X-Amzn-ErrorType", error_type)]
    return status, headers, json.dumps({"Type": "User", "message": message}).encode()


def _function_error(error_type: str, message: str) -> Response:
    headers = [("Content-Type", "application/json"), ("X-Amz-Function-Error", "Unhandled")]
    return 200, headers, json.dumps({"errorMessage": message, "errorType": error_type}).encode()


class LocalLambdaApi:
    """``Invoke`` of the template's functions, in-process (:class:`LocalLambdas`)."""

    def __init__(self, lambdas: LocalLambdas) -> None:
        self.lambdas = lambdas

    @staticmethod
    def serves(path: str) -> bool:
        return INVOKE_PATH.match(path) is not None

    def _function(self, name_or_arn: str) -> LocalLambda | None:
        # An ARN (arn:aws:lambda:region:account:function:name[:qualifier]) or a bare name.
        name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        return next((fn for fn in self.lambdas.functions.values() if fn.name == name), None)

    def invoke(self, method: str, path: str, headers: dict[str, str], body: bytes, too_large: bool) -> Response:
        """One Invoke call (``headers`` lower-cased): the response, and one access line."""
        started = time.perf_counter()
        match = INVOKE_PATH.match(path)
        name = match.group("function") if match else ""
        status, out, payload = self._invoke(method, name, headers, body, too_large)
        error = dict(out).get("X-Amz-Function-Error") or dict(out).get("X-Amzn-ErrorType") or ""
        access_log.info(
            "%s %s %s %.1fms function=%s %s", method, path, status, (time.perf_counter() - started) * 1000, name, error
        )
        return status, out, payload

    def _invoke(self, method: str, name: str, headers: dict[str, str], body: bytes, too_large: bool) -> Response:
        function = self._function(name)
        if method != "POST":
            return _error(405, "InvalidRequestContentException", "Invoke takes POST")
        if function is None:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
        if invocation_type != "RequestResponse":
            return _error(400, "InvalidParameterValueException", f"{invocation_type} is not served locally")
        if too_large or len(body) > MAX_PAYLOAD:
            return _error(413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes")
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        try:
            result = function.invoke(event)
        except Exception as exc:
            log.exception("function %s failed", function.spec.logical_id)
            return _function_error(type(exc).__name__, str(exc))
        payload = json.dumps(result).encode()
        if len(payload) > MAX_PAYLOAD:
            return _function_error("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed")
        return 200, [("Content-Type", "application/json"), ("X-Amz-Executed-Version", "$LATEST")], payload
