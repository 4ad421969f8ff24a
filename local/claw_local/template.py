"""Reads ``infra/template.yaml`` so the local platform runs what will be deployed.

Routes, authorizer settings, gateway responses, queue and bucket settings all come from
the template; nothing about them is repeated in the local runtime.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "infra" / "template.yaml"

LOCAL_ACCOUNT_ID = "123456789012"
LOCAL_STAGE = "local"


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as data, short-form intrinsics (``!Ref``, ``!Sub``…) in their long form,
    read with cfn-lint's decoder, the one ``sam validate --lint`` uses."""
    from cfnlint.decode import cfn_yaml

    return cfn_yaml.load(str(path))


@dataclass(frozen=True)
class Route:
    function: str
    path: str
    method: str  # "ANY" or an HTTP verb
    authorized: bool

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # "package.module.function"
    code_uri: Path
    timeout: int
    memory: int
    environment: dict[str, str]


@dataclass(frozen=True)
class AuthorizerSpec:
    function: str
    identity_headers: tuple[str, ...]
    ttl_seconds: int


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    visibility_timeout: int
    message_retention: int
    dlq: str | None  # logical id
    max_receive_count: int | None


@dataclass(frozen=True)
class SqsEventSpec:
    function: str
    queue: str  # logical id
    batch_size: int
    batching_window: int
    report_batch_item_failures: bool
    max_concurrency: int | None


@dataclass(frozen=True)
class NotificationSpec:
    events: tuple[str, ...]
    queue: str  # logical id
    prefix: str
    suffix: str


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    function: str
    authorizer: str | None  # logical id of the authorizer function ($connect only)
    identity_sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class WebSocketSpec:
    route_selection: str
    routes: dict[str, WebSocketRoute]


@dataclass
class LocalStack:
    """Everything the local runtime needs, resolved for the local stage."""

    stage: str
    region: str
    account_id: str = LOCAL_ACCOUNT_ID
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    authorizer: AuthorizerSpec | None = None
    gateway_responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    sqs_events: list[SqsEventSpec] = field(default_factory=list)
    bucket_logical_id: str = ""
    bucket_name: str = ""
    bucket_versioned: bool = False
    notifications: list[NotificationSpec] = field(default_factory=list)
    websocket: WebSocketSpec | None = None


class Resolver:
    """Resolves the intrinsic functions the local runtime needs (Ref, Sub, If, Join...)."""

    def __init__(
        self, template: dict[str, Any], parameters: dict[str, Any], region: str, account_id: str = LOCAL_ACCOUNT_ID
    ) -> None:
        self.template = template
        self.values: dict[str, Any] = {
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": f"claw-ai-{parameters.get('Stage', LOCAL_STAGE)}",
            "AWS::NoValue": None,
        }
        for name, spec in (template.get("Parameters") or {}).items():
            self.values[name] = parameters.get(name, spec.get("Default"))
        self.conditions: dict[str, bool] = {}
        for name, expr in (template.get("Conditions") or {}).items():
            self.conditions[name] = bool(self.resolve(expr))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.values.get(arg, arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.conditions.get(cond) else no)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(v) for v in self.resolve(items) if v is not None)
            if key == "Fn::Equals":
                a, b = (self.resolve(v) for v in arg)
                return a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(v) for v in arg)
            if key == "Fn::Or":
                return any(self.resolve(v) for v in arg)
            if key == "Condition":
                return self.conditions.get(arg, False)
            if key == "Fn::GetAtt":
                return {"Fn::GetAtt": arg}
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            value = self.values.get(name)
            return match.group(0) if value is None else str(value)

        return re.sub(r"\$\{([^}!]+)\}", repl, text)


def _as_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def endpoint_account_id(endpoint_url: str | None, region: str = "us-east-1") -> str:
    """The account id an AWS endpoint answers with (STS), so names that embed it match there.

    moto answers 123456789012, LocalStack 000000000000; without an endpoint (AWS itself is
    never called locally) the local default.
    """
    if not endpoint_url:
        return LOCAL_ACCOUNT_ID
    import boto3

    sts = boto3.client(
        "sts",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )
    return str(sts.get_caller_identity()["Account"])


def load_local_stack(
    parameters: dict[str, Any] | None = None,
    region: str = "us-east-1",
    path: Path = TEMPLATE_PATH,
    account_id: str = LOCAL_ACCOUNT_ID,
) -> LocalStack:
    """The template, resolved for the local stage (and the emulator's account id)."""
    template = load_template(path)
    params = {"Stage": LOCAL_STAGE, **(parameters or {})}
    r = Resolver(template, params, region, account_id)
    resources: dict[str, Any] = template.get("Resources") or {}
    globals_fn = (template.get("Globals") or {}).get("Function") or {}
    global_env = r.resolve((globals_fn.get("Environment") or {}).get("Variables") or {})
    stack = LocalStack(stage=params["Stage"], region=region, account_id=account_id)

    for logical_id, res in resources.items():
        rtype = res.get("Type")
        props = res.get("Properties") or {}
        if res.get("Condition") and not r.conditions[res["Condition"]]:
            continue  # not deployed with these parameters (the embed function with a Zhipu key)
        if rtype == "AWS::Serverless::Function":
            env = {**global_env, **r.resolve((props.get("Environment") or {}).get("Variables") or {})}
            stack.functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=props["Handler"],
                code_uri=(path.parent / props["CodeUri"]).resolve(),
                # Resolved: a timeout may be a parameter (ChatStreamTimeout).
                timeout=_as_int(r.resolve(props.get("Timeout", globals_fn.get("Timeout", 3))), 3),
                memory=_as_int(r.resolve(props.get("MemorySize", globals_fn.get("MemorySize", 128))), 128),
                environment={k: "" if v is None else str(v) for k, v in env.items() if not isinstance(v, dict)},
            )
            for event in (props.get("Events") or {}).values():
                eprops = r.resolve(event.get("Properties") or {})
                if event.get("Type") == "Api":
                    auth = (eprops.get("Auth") or {}).get("Authorizer")
                    stack.routes.append(
                        Route(logical_id, eprops["Path"], str(eprops["Method"]).upper(), authorized=auth != "NONE")
                    )
                elif event.get("Type") == "SQS":
                    queue = (event.get("Properties") or {}).get("Queue")
                    queue_id = queue["Fn::GetAtt"][0] if isinstance(queue, dict) else str(queue)
                    stack.sqs_events.append(
                        SqsEventSpec(
                            function=logical_id,
                            queue=queue_id,
                            batch_size=_as_int(eprops.get("BatchSize"), 10),
                            batching_window=_as_int(eprops.get("MaximumBatchingWindowInSeconds"), 0),
                            report_batch_item_failures="ReportBatchItemFailures"
                            in (eprops.get("FunctionResponseTypes") or []),
                            max_concurrency=_as_int((eprops.get("ScalingConfig") or {}).get("MaximumConcurrency"), 2)
                            if eprops.get("ScalingConfig")
                            else None,
                        )
                    )
        elif rtype == "AWS::Serverless::Api":
            auth = props.get("Auth") or {}
            default = auth.get("DefaultAuthorizer")
            spec = (auth.get("Authorizers") or {}).get(default) if default else None
            if spec:
                fn = spec["FunctionArn"]["Fn::GetAtt"][0]
                identity = r.resolve(spec.get("Identity") or {})
                stack.authorizer = AuthorizerSpec(
                    function=fn,
                    identity_headers=tuple(identity.get("Headers") or ()),
                    ttl_seconds=_as_int(identity.get("ReauthorizeEvery"), 300),
                )
            stack.gateway_responses = r.resolve(props.get("GatewayResponses") or {})
            stack.binary_media_types = tuple(
                t.replace("~1", "/") for t in (r.resolve(props.get("BinaryMediaTypes")) or [])
            )
        elif rtype == "AWS::SQS::Queue":
            p = r.resolve(props)
            redrive = p.get("RedrivePolicy") or {}
            dlq_ref = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
            stack.queues[logical_id] = QueueSpec(
                logical_id=logical_id,
                name=p.get("QueueName") or logical_id,
                visibility_timeout=_as_int(p.get("VisibilityTimeout"), 30),
                message_retention=_as_int(p.get("MessageRetentionPeriod"), 345600),
                dlq=dlq_ref["Fn::GetAtt"][0] if isinstance(dlq_ref, dict) else None,
                max_receive_count=_as_int(redrive.get("maxReceiveCount"), 0) or None,
            )
        elif rtype == "AWS::S3::Bucket" and (props.get("NotificationConfiguration") or {}).get("QueueConfigurations"):
            # The documents bucket: the one whose events feed a queue (the console's bucket is served
            # by the local gateway from web/dist instead).
            p = r.resolve(props)
            stack.bucket_logical_id = logical_id
            stack.bucket_name = p.get("BucketName") or logical_id.lower()
            stack.bucket_versioned = (p.get("VersioningConfiguration") or {}).get("Status") == "Enabled"
            raw_qcs = (props.get("NotificationConfiguration") or {}).get("QueueConfigurations") or []
            for raw in raw_qcs:
                rules = ((raw.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
                prefix = next((x["Value"] for x in rules if x["Name"].lower() == "prefix"), "")
                suffix = next((x["Value"] for x in rules if x["Name"].lower() == "suffix"), "")
                queue = raw["Queue"]
                stack.notifications.append(
                    NotificationSpec(
                        events=(raw["Event"],),
                        queue=queue["Fn::GetAtt"][0] if isinstance(queue, dict) else str(queue),
                        prefix=prefix,
                        suffix=suffix,
                    )
                )
    stack.websocket = _websocket_spec(resources)
    return stack


def _function_in_uri(uri: Any) -> str | None:
    """The function logical id in an ``arn:...:functions/${Fn.Arn}/invocations`` URI."""
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
    match = re.search(r"functions/\$\{([A-Za-z0-9]+)\.Arn\}", str(text))
    return match.group(1) if match else None


def _websocket_spec(resources: dict[str, Any]) -> WebSocketSpec | None:
    apis = {
        k: v
        for k, v in resources.items()
        if v.get("Type") == "AWS::ApiGatewayV2::Api" and (v.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    }
    if not apis:
        return None
    api_id, api = next(iter(apis.items()))
    authorizers: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    integrations: dict[str, str | None] = {}
    for logical_id, res in resources.items():
        props = res.get("Properties") or {}
        if (props.get("ApiId") or {}).get("Ref") != api_id:
            continue
        if res["Type"] == "AWS::ApiGatewayV2::Authorizer":
            authorizers[logical_id] = (
                _function_in_uri(props.get("AuthorizerUri")),
                tuple(props.get("IdentitySource") or ()),
            )
        elif res["Type"] == "AWS::ApiGatewayV2::Integration":
            integrations[logical_id] = _function_in_uri(props.get("IntegrationUri"))
    routes: dict[str, WebSocketRoute] = {}
    for res in resources.values():
        props = res.get("Properties") or {}
        if res.get("Type") != "AWS::ApiGatewayV2::Route" or (props.get("ApiId") or {}).get("Ref") != api_id:
            continue
        target = props.get("Target")
        target_text = str(target.get("Fn::Sub") if isinstance(target, dict) else target)
        match = re.search(r"integrations/\$\{([A-Za-z0-9]+)\}", target_text)
        function = integrations.get(match.group(1)) if match else None
        if not function:
            continue
        auth_ref = (props.get("AuthorizerId") or {}).get("Ref")
        auth_fn, sources = authorizers.get(auth_ref, (None, ())) if auth_ref else (None, ())
        routes[props["RouteKey"]] = WebSocketRoute(props["RouteKey"], function, auth_fn, sources)
    return WebSocketSpec(
        route_selection=(api.get("Properties") or {}).get("RouteSelectionExpression", ""), routes=routes
    )
