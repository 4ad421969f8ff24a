"""The SAM template is the deployable truth: check the settings the platform relies on."""

from __future__ import annotations

from claw_local.template import load_local_stack, load_template


def test_every_function_runs_python312_with_tracing_and_a_log_group_with_retention() -> None:
    template = load_template()
    resources = template["Resources"]
    globals_fn = template["Globals"]["Function"]
    assert globals_fn["Runtime"] == "python3.12"
    assert globals_fn["Tracing"] == "Active"
    functions = [k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"]
    assert {"AuthorizerFunction", "AuthFunction", "ChatFunction", "ConfigFunction", "IngestFunction"} <= set(functions)
    log_groups = {k: v for k, v in resources.items() if v["Type"] == "AWS::Logs::LogGroup"}
    for name in functions:
        props = resources[name]["Properties"]
        # Each function logs to its own group, named after the function (created before it).
        group = log_groups[props["LoggingConfig"]["LogGroup"]["Ref"]]
        function_name = props["FunctionName"]["Fn::Sub"]
        assert group["Properties"]["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/{function_name}"
    assert all("RetentionInDays" in lg["Properties"] for lg in log_groups.values())


def test_queue_visibility_is_at_least_six_times_the_ingest_timeout_and_has_a_dlq() -> None:
    stack = load_local_stack()
    ingest = stack.functions["IngestFunction"]
    source = next(e for e in stack.sqs_events if e.function == "IngestFunction")
    queue = stack.queues[source.queue]
    assert queue.visibility_timeout >= 6 * ingest.timeout
    assert queue.dlq in stack.queues and queue.max_receive_count and queue.max_receive_count >= 2
    assert source.report_batch_item_failures


def test_bucket_notifies_the_ingest_queue_for_created_and_removed_objects_under_kb() -> None:
    stack = load_local_stack()
    events = {e for n in stack.notifications for e in n.events}
    assert events == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert all(n.prefix == "kb/" for n in stack.notifications)
    assert stack.bucket_name.startswith("claw-ai-local-documents-")


def test_public_routes_opt_out_of_the_authorizer_and_the_rest_is_protected() -> None:
    stack = load_local_stack()
    public = {(r.method, r.path) for r in stack.routes if not r.authorized}
    assert ("GET", "/api/v1/health") in public
    assert ("POST", "/api/v1/auth/login") in public
    assert ("POST", "/api/v1/auth/register") in public
    assert ("GET", "/api/v1/configs/public") in public
    protected = {r.path for r in stack.routes if r.authorized}
    assert "/api/v1/conversations" in protected and "/api/v1/configs/{proxy+}" in protected
    assert stack.authorizer is not None and stack.authorizer.ttl_seconds > 0


def test_the_streaming_function_gets_its_own_longer_timeout_locally_too() -> None:
    stack = load_local_stack()
    assert stack.functions["ChatFunction"].timeout == 29
    assert stack.functions["ChatStreamFunction"].timeout >= 60
    assert stack.websocket is not None
    routes = {key: r.function for key, r in stack.websocket.routes.items()}
    # Account holders' streaming is the chat stream function; visitors' visitor_chat is the assistants'.
    assert routes.pop("visitor_chat") == "AssistantsFunction"
    assert set(routes.values()) == {"ChatStreamFunction"}
