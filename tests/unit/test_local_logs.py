"""`make dev`'s console keeps log lines; metric (EMF) lines go to the function's file only."""

from __future__ import annotations

import io
import json
from pathlib import Path

from claw_local.logs import FunctionOutput

EMF = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "ClawAI"}]}, "Requests": 1})
LOG = json.dumps({"level": "INFO", "message": "answered", "service": "chat"})


def test_metrics_stay_out_of_the_console_and_each_function_has_its_file(tmp_path: Path) -> None:
    console = io.StringIO()
    out = FunctionOutput(console, tmp_path)
    # Given lines printed while two functions run, and one by the platform itself
    with out.function("chat"):
        out.write(LOG + "\n" + EMF)
        out.write("\n")
    with out.function("ingest"):
        print(EMF, file=out)
    print("ready: CLAW.AI is up", file=out)
    out.close_files()
    # Then the console has the log line and the platform's line, no metric
    assert console.getvalue().splitlines() == [LOG, "ready: CLAW.AI is up"]
    # And every line of a function, metrics included, is in its own file
    assert (tmp_path / "chat.log").read_text().splitlines() == [LOG, EMF]
    assert (tmp_path / "ingest.log").read_text().splitlines() == [EMF]


def test_each_function_logs_under_its_template_service_name() -> None:
    import logging
    import types

    from aws_lambda_powertools import Logger

    from claw_common.observability import logger, metrics
    from claw_local.lambda_runtime import _use_service_name

    # Given a handler module with a logger of its own (as the authorizer has)
    own = Logger(service="whatever", utc=True)
    module = types.SimpleNamespace(logger=own)
    before = (logger.service, metrics.service)
    try:
        # When the local runtime invokes the knowledge function
        _use_service_name("knowledge", module)
        record = logging.LogRecord("claw", logging.INFO, __file__, 1, "hello", None, None)
        # Then both loggers and the metrics say so
        assert json.loads(logger.registered_formatter.format(record))["service"] == "knowledge"
        assert json.loads(own.registered_formatter.format(record))["service"] == "knowledge"
        assert metrics.service == "knowledge"
    finally:
        _use_service_name(before[0], None)
        metrics.service = before[1]
