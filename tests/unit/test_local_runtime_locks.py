"""The local runtime: a long ingest never holds the API (issue: ingest must not hold the API's lock)."""

from __future__ import annotations

import threading
from typing import Any

from claw_local.lambda_runtime import LocalLambdas, api_functions
from claw_local.template import load_local_stack


def test_an_ingest_in_progress_does_not_block_api_invocations() -> None:
    # Given the template's functions, with ingest (the queue consumer) stuck in a long invocation
    lambdas = LocalLambdas(load_local_stack())
    consumers = {event.function for event in lambdas.stack.sqs_events}
    assert consumers, "the template has a queue consumer"
    ingest = lambdas[next(iter(consumers))]
    api_functions = [fn for fid, fn in lambdas.functions.items() if fid not in consumers]
    release = threading.Event()
    started = threading.Event()

    def long_ingest(event: dict[str, Any], context: Any) -> str:
        started.set()
        release.wait(30)
        return "ingested"

    ingest._handler = long_ingest
    for fn in api_functions:
        fn._handler = lambda event, context: {"statusCode": 200}
    worker = threading.Thread(target=ingest.invoke, args=({},))
    worker.start()
    try:
        assert started.wait(10)
        # When every API function is invoked meanwhile, each answers (in a thread, so a block would show)
        answered = []
        for fn in api_functions:
            t = threading.Thread(target=lambda fn=fn: answered.append(fn.invoke({})))
            t.start()
            t.join(5)
        # Then all of them answered while ingest was still running
        assert not release.is_set() and len(answered) == len(api_functions)
    finally:
        release.set()
        worker.join(10)


def test_api_functions_still_take_turns() -> None:
    # Powertools state is process-wide: API invocations stay serialised among themselves.
    lambdas = LocalLambdas(load_local_stack())
    api = api_functions(lambdas.stack)
    assert {"ChatFunction", "ChatStreamFunction", "AuthorizerFunction", "ConfigFunction"} <= api
    api_locks = {id(fn._lock) for fid, fn in lambdas.functions.items() if fid in api}
    assert len(api_locks) == 1


def test_a_function_an_api_function_invokes_does_not_wait_for_the_api() -> None:
    # Given an API invocation in progress that invokes the embed function and waits for it
    lambdas = LocalLambdas(load_local_stack())
    embed, chat = lambdas["EmbedFunction"], lambdas["ChatFunction"]
    embed._handler = lambda event, context: {"vectors": []}
    answered: list[Any] = []

    def chat_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        worker = threading.Thread(target=lambda: answered.append(embed.invoke({})))
        worker.start()
        worker.join(5)
        return {"statusCode": 200}

    chat._handler = chat_handler
    # When it runs, Then the embed function answered within it (it does not take the API's turn)
    assert chat.invoke({}) == {"statusCode": 200}
    assert answered == [{"vectors": []}]
