"""The authorizer's stdlib JSON logger writes the lines Powertools' Logger writes (same keys, order, values)."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from authorizer_app import log
from tests.support.lambda_context import lambda_context

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
EVENT = {"type": "REQUEST", "requestContext": {"requestId": "e5d2ed0f-5f7b-4b1c-9f4e-0c2d7a8b9c10"}}


def _lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def _invoke(logger: Any, decorate: Any, context: Any) -> None:
    @decorate
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("allowed", extra={"user_id": "u-1", "visitor_id": None, "duration_ms": 1.25})
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            logger.exception("boom", extra={"reason": "test"})

    handler(EVENT, context)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("POWERTOOLS_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL", "POWERTOOLS_DEV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE)
    return monkeypatch


def test_a_line_has_the_keys_order_and_values_of_powertools(env: pytest.MonkeyPatch) -> None:
    # Given Powertools' Logger as the authorizer configured it, and ours
    theirs_buf, ours_buf = io.StringIO(), io.StringIO()
    theirs = Logger(service="authorizer", utc=True, logger_handler=logging.StreamHandler(theirs_buf))
    ours = log.JsonLogger("authorizer", stream=ours_buf)
    # When the same handler logs through each
    context = lambda_context("authorizer", timeout_s=5, memory_mb=512)
    decorate = theirs.inject_lambda_context(clear_state=True, correlation_id_path=correlation_paths.API_GATEWAY_REST)
    _invoke(theirs, decorate, context)
    _invoke(ours, ours.inject_lambda_context, context)
    # Then the lines agree key for key, in order (timestamps and the process-wide cold-start
    # flag aside; Powertools' structured stack_trace is not written)
    for theirs_line, ours_line in zip(_lines(theirs_buf), _lines(ours_buf), strict=True):
        theirs_line.pop("stack_trace", None)
        for line in (theirs_line, ours_line):
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000", line.pop("timestamp"))
            assert isinstance(line.pop("cold_start"), bool)
        assert list(ours_line) == list(theirs_line)
        assert ours_line == theirs_line
    info, error = _lines(ours_buf)
    assert info["correlation_id"] == EVENT["requestContext"]["requestId"]
    assert info["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"
    assert "visitor_id" not in info and info["duration_ms"] == 1.25
    assert error["exception_name"] == "ZeroDivisionError" and "division by zero" in error["exception"]
    assert info["location"].startswith("handler:")


def test_cold_start_is_true_once_and_keys_do_not_outlive_an_invocation(
    env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "_cold_start", True)
    buf = io.StringIO()
    logger = log.JsonLogger("authorizer", stream=buf)

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("seen")
        logger.append_keys(user_id=event.get("user"))

    context = lambda_context("authorizer", timeout_s=5, memory_mb=512)
    handler({"user": "u-1"}, context)
    handler({}, context)
    first, second = _lines(buf)
    assert (first["cold_start"], second["cold_start"]) == (True, False)
    # A key appended in the first invocation is gone in the second, and an event without a
    # request id has no correlation id
    assert "user_id" not in second and "correlation_id" not in second
    assert first["function_request_id"] == context.aws_request_id and first["service"] == "authorizer"


def test_provisioned_concurrency_is_never_a_cold_start(
    env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "_cold_start", True)
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    buf = io.StringIO()
    logger = log.JsonLogger("authorizer", stream=buf)
    logger.inject_lambda_context(lambda event, context: logger.info("x"))({}, object())
    assert _lines(buf)[0]["cold_start"] is False


@pytest.mark.parametrize(
    ("powertools_level", "lambda_level", "written"),
    [
        (None, None, ["info", "warning"]),
        ("WARNING", None, ["warning"]),
        ("WARNING", "DEBUG", ["debug", "info", "warning"]),
    ],
)
def test_the_level_comes_from_lambda_then_powertools_settings(
    env: pytest.MonkeyPatch, powertools_level: str | None, lambda_level: str | None, written: list[str]
) -> None:
    if powertools_level:
        env.setenv("POWERTOOLS_LOG_LEVEL", powertools_level)
    if lambda_level:
        env.setenv("AWS_LAMBDA_LOG_LEVEL", lambda_level)
    buf = io.StringIO()
    logger = log.JsonLogger("authorizer", stream=buf)
    logger.debug("debug")
    logger.info("info")
    logger.warning("warning")
    assert [line["message"] for line in _lines(buf)] == written


def test_values_json_cannot_encode_are_written_as_text(env: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    logger = log.JsonLogger("authorizer", stream=buf)
    logger.warning("odd", extra={"value": {1, 2} - {2}, "text": "你好"})
    line = _lines(buf)[0]
    assert line["value"] == "{1}" and line["text"] == "你好"


def test_the_local_runtime_gives_the_authorizer_logger_its_service_name(env: pytest.MonkeyPatch) -> None:
    import types

    from claw_common.observability import logger as shared_logger
    from claw_local.lambda_runtime import _use_service_name

    # Given the authorizer's module with its logger, in the local platform's one process
    buf = io.StringIO()
    own = log.JsonLogger("claw-local", stream=buf)
    before = shared_logger.service
    try:
        # When the local runtime invokes the authorizer
        _use_service_name("authorizer", types.SimpleNamespace(logger=own))
        own.inject_lambda_context(lambda event, context: own.info("x"))({}, object())
    finally:
        _use_service_name(before, None)
    # Then its lines carry the function's service name, as on AWS
    assert _lines(buf)[0]["service"] == "authorizer"
