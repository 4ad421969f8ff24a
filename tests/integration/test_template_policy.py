"""The template as a production reviewer reads it: policy scanners and the expanded stack.

* checkov finds nothing that is not suppressed in place with a reason, in the template and
  in the CloudFormation that SAM expands it into; cfn-lint with informational rules is clean.
* The expanded template (samtranslator, as ``sam build``/``sam deploy`` do) has one API stage,
  every function waits for its log group, no function environment holds a secret value or a
  dynamic reference, the S3 notification waits for the ingest trigger, and what holds or
  unlocks data is retained.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import lru_cache
from typing import Any

import pytest

from claw_local.template import ROOT, TEMPLATE_PATH, load_template
from tests.integration.test_template_build import _env, _tool

CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"
TOOLS_PYTHON = ROOT / ".venv" / "tools" / "bin" / "python"
# SAM puts the API's Metadata on no generated resource; the stage it generates carries the
# same decision as ClawApi's suppression (per-caller responses must not be cached).
EXPANDED_ONLY_SKIPS = {"CKV_AWS_120": "ClawApi: responses belong to one caller; see its Metadata"}


def _checkov(path: str, skips: dict[str, str] | None = None) -> dict[str, Any]:
    if not CHECKOV.exists():
        _tool("checkov")  # skips (or fails on CI) with the install hint
    cmd = [str(CHECKOV), "-f", path, "--framework", "cloudformation", "--output", "json"]
    cmd += ["--skip-download", "--compact"]
    if skips:
        cmd += ["--skip-check", ",".join(skips)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=_env())
    assert result.stdout.strip(), result.stderr[-3000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


@lru_cache(maxsize=4)
def _expanded(parameters: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    if not TOOLS_PYTHON.exists():
        _tool("sam")
    args = [arg for name, value in parameters for arg in ("--parameter", f"{name}={value}")]
    result = subprocess.run(
        [str(TOOLS_PYTHON), str(ROOT / "infra" / "expand_template.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def _of_type(template: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def _failed(report: dict[str, Any]) -> list[str]:
    return [f"{c['check_id']} {c['resource']}" for c in report.get("results", {}).get("failed_checks", [])]


def test_checkov_passes_the_template_with_every_suppression_explained(tmp_path: Any) -> None:
    report = _checkov(str(TEMPLATE_PATH))
    assert _failed(report) == []
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the template's suppressions are read"
    assert all(len((c.get("check_result") or {}).get("suppress_comment") or "") > 20 for c in skipped), skipped


def test_checkov_passes_the_expanded_template(tmp_path: Any) -> None:
    # The generated stage, roles, permissions and event source mappings are checked too.
    path = tmp_path / "expanded.template.json"
    path.write_text(json.dumps(_expanded()))
    assert _failed(_checkov(str(path), EXPANDED_ONLY_SKIPS)) == []


def test_checkov_would_report_an_unsuppressed_finding(tmp_path: Any) -> None:
    # A bucket without public-access block or TLS policy: the scan is live, not a no-op.
    bad = {"Resources": {"Open": {"Type": "AWS::S3::Bucket", "Properties": {}}}}
    path = tmp_path / "bad.template.json"
    path.write_text(json.dumps(bad))
    assert _failed(_checkov(str(path)))


def test_cfn_lint_with_informational_rules_is_clean() -> None:
    result = subprocess.run(
        [_tool("cfn-lint"), "-c", "I", "--", str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rest_api_has_one_stage_and_it_logs_every_request() -> None:
    template = _expanded()
    stages = _of_type(template, "AWS::ApiGateway::Stage")
    assert list(stages) == ["ClawApiStage"]
    # Without OpenApiVersion SAM's deployment creates a second stage named "Stage": another way
    # in, outside the stage's throttling and the alarms filtered on the real stage.
    [deployment] = _of_type(template, "AWS::ApiGateway::Deployment").values()
    assert "StageName" not in deployment["Properties"], deployment["Properties"].get("StageName")
    access = stages["ClawApiStage"]["Properties"]["AccessLogSetting"]
    fields = json.loads(access["Format"])
    assert {"requestId", "sourceIp", "route", "status", "latencyMs", "callerId", "authorizerError"} <= set(fields)
    ws = template["Resources"]["WebSocketStage"]["Properties"]["AccessLogSettings"]
    assert {"requestId", "sourceIp", "route", "status", "callerId", "authorizerError"} <= set(json.loads(ws["Format"]))


def test_every_function_waits_for_its_own_log_group() -> None:
    template = _expanded()
    resources = template["Resources"]
    functions = _of_type(template, "AWS::Lambda::Function")
    assert len(functions) >= 9
    for name, fn in functions.items():
        props = fn["Properties"]
        group_ref = ((props.get("LoggingConfig") or {}).get("LogGroup") or {}).get("Ref")
        depends = fn.get("DependsOn") or []
        group_id = group_ref or next((d for d in depends if resources[d]["Type"] == "AWS::Logs::LogGroup"), None)
        assert group_id, f"{name} can start before its log group exists"
        group = resources[group_id]
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert group["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{props['FunctionName']['Fn::Sub']}"}


def _secret_parameters(template: dict[str, Any]) -> set[str]:
    return {k for k, v in (template.get("Parameters") or {}).items() if str(v.get("NoEcho")).lower() == "true"}


def _leaks(value: Any, secret_params: set[str]) -> list[str]:
    """Dynamic references and NoEcho parameters anywhere inside ``value``."""
    found: list[str] = []
    if isinstance(value, str):
        if "{{resolve:" in value:
            found.append(value)
        found += [f"${{{m}}}" for m in re.findall(r"\$\{([^}]+)\}", value) if m in secret_params]
    elif isinstance(value, dict):
        if value.get("Ref") in secret_params:
            found.append(f"Ref {value['Ref']}")
        for item in value.values():
            found += _leaks(item, secret_params)
    elif isinstance(value, list):
        for item in value:
            found += _leaks(item, secret_params)
    return found


@pytest.mark.parametrize("proxy", [False, True])
def test_no_function_environment_holds_a_secret_or_a_reference_that_resolves_to_one(proxy: bool) -> None:
    parameters = (("VpcSubnetIds", "subnet-1,subnet-2"), ("VpcSecurityGroupIds", "sg-1"), ("VpcId", "vpc-1"))
    template = _expanded((*parameters, ("DatabaseProxyTargetInstance", "claw-db")) if proxy else ())
    secret_params = _secret_parameters(load_template()) | _secret_parameters(template)
    for name, fn in _of_type(template, "AWS::Lambda::Function").items():
        variables = ((fn["Properties"].get("Environment") or {}).get("Variables")) or {}
        assert "DATABASE_URL" not in variables, name
        assert not _leaks(variables, secret_params), name
        assert variables.get("DATABASE_SECRET_ARN") == {"Ref": "DatabaseSecretArn"} or name == "JwtRotationFunction"
    for name, output in (template.get("Outputs") or {}).items():
        assert not _leaks(output, secret_params), name
    # A reference, never a value: the parameters that name secrets are ARNs.
    raw = load_template()["Parameters"]
    assert raw["DatabaseSecretArn"]["AllowedPattern"].startswith("^arn:")
    assert "DatabaseUrl" not in raw and "@" in raw["RedisUrl"]["AllowedPattern"]


def test_the_bucket_notifies_only_once_the_ingest_trigger_can_run() -> None:
    template = _expanded()
    resources = template["Resources"]
    mapping = next(
        k
        for k, v in _of_type(template, "AWS::Lambda::EventSourceMapping").items()
        if v["Properties"]["FunctionName"] == {"Ref": "IngestFunction"}
    )
    assert {"IngestQueuePolicy", mapping} <= set(resources["DocumentsBucket"]["DependsOn"])
    assert resources["IngestFunction"]["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": "IngestLogGroup"}


def test_what_holds_or_unlocks_data_is_retained_on_delete_and_replace() -> None:
    resources = _expanded()["Resources"]
    for name in ("ConfigKey", "JwtSigningSecret", "DocumentsBucket", "DocumentsBucketPolicy", "IngestDeadLetterQueue"):
        assert resources[name].get("DeletionPolicy") == "Retain", name
        assert resources[name].get("UpdateReplacePolicy") == "Retain", name


def test_the_bucket_refuses_plain_http_and_cleans_up_after_itself() -> None:
    resources = load_template()["Resources"]
    [deny_http] = [
        s
        for s in resources["DocumentsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s)
    ]
    assert deny_http["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    bucket = resources["DocumentsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r for r in rules)
    assert any(r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation") for r in rules)


def test_upload_origins_have_no_default_and_prod_refuses_a_wildcard() -> None:
    template = load_template()
    assert "Default" not in template["Parameters"]["UploadAllowedOrigins"]
    rule = template["Rules"]["ProdUploadOriginsAreNamed"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "UploadAllowedOrigins"}, "*"]}]}


def test_jwt_keys_rotate_and_streaming_has_its_own_timeout() -> None:
    resources = _expanded()["Resources"]
    rotation = resources["JwtSigningSecretRotation"]["Properties"]
    assert rotation["RotationLambdaARN"] == {"Fn::GetAtt": ["JwtRotationFunction", "Arn"]}
    integration = resources["ChatWebSocketIntegration"]["Properties"]["IntegrationUri"]["Fn::Sub"]
    assert "${ChatStreamFunction.Arn}" in integration
    assert resources["ChatStreamFunction"]["Properties"]["Timeout"] == {"Ref": "ChatStreamTimeout"}
    assert resources["ChatFunction"]["Properties"]["Timeout"] == 29


def test_every_api_function_has_reserved_concurrency_counted_in_the_connection_budget() -> None:
    from infra.connection_budget import budget, samconfig_overrides

    resources = _expanded()["Resources"]
    for name, fn in _of_type({"Resources": resources}, "AWS::Lambda::Function").items():
        reserved = fn["Properties"].get("ReservedConcurrentExecutions")
        assert reserved is not None, f"{name} has no reserved concurrency"
        if isinstance(reserved, dict):
            assert reserved["Ref"].endswith("Concurrency"), name
    for env in ("dev", "prod"):
        assert budget(samconfig_overrides(env)).fits, env
    assert not budget({"ChatConcurrency": 500}).fits
