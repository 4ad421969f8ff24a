"""Cold start as Lambda does it: import + init + the first request, over the built package.

Every function is built the way ``sam build`` builds it (its Makefile target and
``infra/build_lambda.py``), as an x86_64 twin of the arm64 package (``benchmarks/lambda_twin.py``),
twice: with ``.pyc`` (what ``make build`` ships) and without (today's code as ``sam build``'s default
workflow would ship it). The baseline of the target is the build deployed when it was set (commit
53ffc80), rebuilt as its ``sam build`` made it: one layer with all its requirements, no ``.pyc``. Each
run is a fresh ``python3.12`` process whose ``PYTHONPATH`` is the task root, the function's
layers merged in the template's order and the runtime's boto3, nothing of the repo; with
``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME`` and ``PYTHONDONTWRITEBYTECODE=1`` (the
package is read-only: nothing is cached between runs). The process imports the handler
(module-level init included), then calls it with a real event from ``tests/events`` against
the running local services (PostgreSQL, Valkey, the AWS emulator); both are timed inside the
process. Runs are interleaved across functions and variants so a load change hits all alike.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS, Section, Target, percentile
from benchmarks.lambda_twin import BASELINE_COMMIT

# (function, event factory name): the first request each function serves.
FUNCTIONS = {
    "AuthorizerFunction": "authorizer",
    "AuthFunction": "auth_me",
    "ChatFunction": "list_conversations",
    "KnowledgeFunction": "list_knowledge",
    "ConfigFunction": "get_config",
    "AssistantsFunction": "list_assistants",
    "IngestFunction": "s3_removed",
}
# The framework floor: the same 8-route prototype on Powertools' resolver and on FastAPI + Mangum
# (benchmarks/floor), cold-started over ConfigFunction's layers (core + HTTP), .pyc build.
PROTOTYPES = {
    "floor: Powertools resolver (8 routes)": "floor_powertools.lambda_handler",
    "FastAPI + Mangum (same 8 routes)": "floor_fastapi.lambda_handler",
}
API_FUNCTIONS = ("AuthFunction", "ChatFunction", "KnowledgeFunction", "ConfigFunction", "AssistantsFunction")
BASELINE = "baseline"
CACHE_MISS = "pyc, principal not cached"
KEYS_BOTO3 = "pyc, keys from Secrets Manager with boto3"
KEYS_EXTENSION = "pyc, keys from Secrets Manager through the extension"
RATIO_TARGET = 0.35
AUTHORIZER_TARGET_MS = 80.0
AUTHORIZER_WHY = (
    "the first request of a new environment reads the signing keys from the Parameters and Secrets extension's "
    "local endpoint (claw_common.secrets_extension; boto3's import and client cost the difference to the boto3 "
    "figure) and the principal's state from Valkey over a socket (claw_common.data.resp, standard library only: "
    "redis-py's import alone was ~75 ms), and checks HS256 with joserfc's parsing and a stdlib HMAC; no "
    "Powertools (a stdlib JSON logger in Powertools' format), no joserfc key/JWE/EC/x509 code, typing_extensions "
    "as .pyc. When the state is not cached the request connects to PostgreSQL, and psycopg's import comes on top. "
    "The extension here is its HTTP API served in the benchmark's process from the emulator; on AWS the "
    "extension's own call to Secrets Manager (in-region, through the VPC endpoint) comes on top."
)

_PROBE = r"""
import importlib, json, os, sys, time
t0 = time.perf_counter()
module, name = os.environ["_HANDLER"].rsplit(".", 1)
handler = getattr(importlib.import_module(module), name)
t1 = time.perf_counter()

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    aws_request_id = "00000000-0000-4000-8000-000000000001"
    log_group_name = "/aws/lambda/" + function_name
    log_stream_name = "coldstart"
    function_version = "$LATEST"
    def get_remaining_time_in_millis(self):
        return 29000

with open(os.environ["_EVENT"]) as f:
    event = json.load(f)
t2 = time.perf_counter()
result = handler(event, Context())
t3 = time.perf_counter()
if isinstance(result, dict) and "statusCode" in result:
    outcome = str(result["statusCode"])
elif isinstance(result, dict) and "policyDocument" in result:
    outcome = result["policyDocument"]["Statement"][0]["Effect"]
elif isinstance(result, dict) and "batchItemFailures" in result:
    outcome = "failures:%d" % len(result["batchItemFailures"])
else:
    outcome = type(result).__name__
if os.environ.get("_RESPONSE"):
    with open(os.environ["_RESPONSE"], "w") as f:
        json.dump(result, f, default=str)
sys.__stdout__.write("\n" + json.dumps({"import_ms": (t1 - t0) * 1000, "first_ms": (t3 - t2) * 1000,
                                 "outcome": outcome}) + "\n")
"""
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)\s*$")


# --------------------------------------------------------------------------- events


def _events(platform: Any, workdir: Path) -> tuple[dict[str, Path], str]:
    """One real event file per function, for a registered admin of the running platform, and the admin's id."""
    import sys

    from benchmarks._common import ROOT
    from benchmarks.latency import _setup

    sys.path.insert(0, str(ROOT))
    from claw_common.auth.tokens import issue_access_token, parse_key_ring
    from claw_common.settings import get_settings
    from tests.support.events import authorizer_event, load_event, rest_event

    s = _setup(platform)
    s["client"].close()
    auth = s["authorizer"]
    # The login's token lasts 15 minutes; a run on a loaded machine can take longer. The same
    # admin, signed with the platform's own key, for the length of any run.
    settings = get_settings()
    ring = parse_key_ring(settings.jwt_signing_keys.get_secret_value() if settings.jwt_signing_keys else "")
    token = issue_access_token(
        ring,
        user_id=s["user_id"],
        role="admin",
        tier="enterprise",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_s=4 * 3600,
    )
    events = {
        "authorizer": authorizer_event(f"Bearer {token}"),
        "auth_me": rest_event("GET", "/api/v1/auth/me", authorizer=auth),
        "list_conversations": rest_event("GET", "/api/v1/conversations", authorizer=auth),
        "list_knowledge": rest_event("GET", "/api/v1/knowledge", authorizer=auth),
        "get_config": rest_event("GET", "/api/v1/configs/bench.sample", authorizer=auth),
        "list_assistants": rest_event("GET", "/api/v1/assistants", authorizer=auth),
        "s3_removed": load_event("sqs_s3_object_removed.json"),
    }
    proto = load_event("apigw_rest_post_chat.json")
    proto.update(resource="/api/v1/items/{item_id}", path="/api/v1/items/42", httpMethod="GET", body=None)
    proto.update(pathParameters={"item_id": "42"}, queryStringParameters=None, multiValueQueryStringParameters=None)
    proto["requestContext"].update(resourcePath="/api/v1/items/{item_id}", httpMethod="GET")
    events["prototype"] = proto
    bucket = os.environ.get("DOCUMENTS_BUCKET")
    if bucket:  # the event names the deployed bucket; point it at this platform's
        record = events["s3_removed"]["Records"][0]
        body = json.loads(record["body"])
        for r in body.get("Records", []):
            r["s3"]["bucket"]["name"] = bucket
        record["body"] = json.dumps(body)
    paths = {}
    for name, event in events.items():
        path = workdir / f"{name}.json"
        path.write_text(json.dumps(event))
        paths[name] = path
    return paths, str(s["user_id"])


# --------------------------------------------------------------------------- runs


_SERVICE_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "AWS_ENDPOINT_URL",
    "DOCUMENTS_BUCKET",
    "JWT_SIGNING_KEYS",
    "CONFIG_KMS_KEY_ID",
    "INGEST_QUEUE_URL",
    "INGEST_DLQ_URL",
    "CLAW_STAGE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "CLAW_EMBEDDER",
    "CLAW_LLM_PROVIDER",
)


# What Lambda sets for a function with ``Tracing: Active``: the invocation's trace header (the first
# request of an environment is sampled: the default rule takes the first request of each second), the
# daemon's address (here a loopback UDP port where nothing listens: segments are sent, nobody reads).
# POWERTOOLS_TRACE_DISABLED is not set on Lambda; it would also skip the baseline's patch_all.
_TRACING_ENV = {
    "_X_AMZN_TRACE_ID": "Root=1-6744a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}


def _env(
    layout: Any, event: Path, services: dict[str, str] | None = None, overrides: dict[str, str] | None = None
) -> dict[str, str]:
    """What the Lambda runtime gives the function (and the platform's service endpoints,
    ``services`` overriding them: the baseline has a database of its own; ``overrides`` last)."""
    env = {k: os.environ[k] for k in _SERVICE_ENV if k in os.environ}
    env.update(services or {})
    env.update(
        {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": layout.pythonpath,
            "PYTHONDONTWRITEBYTECODE": "1",
            "LAMBDA_TASK_ROOT": str(layout.task_root),
            "LAMBDA_RUNTIME_DIR": str(layout.runtime),
            "AWS_LAMBDA_FUNCTION_NAME": f"claw-ai-bench-{layout.logical_id}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ClawAI",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "PYDANTIC_DISABLE_PLUGINS": "__all__",  # as the template sets it
            **_TRACING_ENV,
            "DB_POOL_MAX": "2",
            "_HANDLER": layout.handler,
            "_EVENT": str(event),
        }
    )
    env.update({k: v for k, v in layout.environment.items() if isinstance(v, str) and not v.startswith("{")})
    env.update(overrides or {})
    return env


def _run_once(
    python: str,
    layout: Any,
    event: Path,
    *flags: str,
    services: dict[str, str] | None = None,
    overrides: dict[str, str] | None = None,
) -> tuple[dict[str, Any], str]:
    out = subprocess.run(
        # -S: no site-packages of the machine's python3.12 (this one's .pth files import certifi, ~150 ms
        # that Lambda's runtime does not pay); the function's paths come from PYTHONPATH alone.
        [python, "-S", *flags, "-c", _PROBE],
        env=_env(layout, event, services, overrides),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        tail = " | ".join(out.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"{layout.logical_id}: the cold start failed: {tail}")
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def import_profile(stderr: str, handler_module: str, top: int = 10) -> list[tuple[str, float, float]]:
    """The ``top`` contributors by cumulative import time (ms) of a ``-X importtime`` run: whole
    third-party packages (top-level names) and the project's own modules; the handler left out."""
    own = (handler_module.split(".")[0] + ".", "claw_common.", "claw_ai.")
    rows: list[tuple[str, float, float]] = []
    for line in stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        name = match.group(4)
        if name == handler_module or ("." in name and not name.startswith(own)):
            continue
        rows.append((name, int(match.group(2)) / 1000, int(match.group(1)) / 1000))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


def _prototype_layouts(python: str, base: Any, tmp: Path) -> dict[str, Any]:
    """The floor prototypes as task roots of their own (compiled like our code), over ``base``'s layers."""
    import dataclasses
    import shutil

    from benchmarks._common import ROOT

    root = tmp / "prototype"
    root.mkdir()
    for module in ("floor_powertools.py", "floor_fastapi.py"):
        shutil.copy(ROOT / "benchmarks" / "floor" / module, root / module)
    subprocess.run(
        [python, "-m", "compileall", "-q", "-b", "--invalidation-mode", "unchecked-hash", str(root)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return {
        label: dataclasses.replace(base, logical_id="Prototype", handler=handler, task_root=root)
        for label, handler in PROTOTYPES.items()
    }


BASELINE_DB = "claw_coldstart_baseline"
BASELINE_REDIS_DB = 1
# The first request of today's function, as the baseline served it (knowledge bases were chat's).
BASELINE_REQUESTS = {
    "AuthFunction": ("GET", "/api/v1/auth/me"),
    "ChatFunction": ("GET", "/api/v1/conversations"),
    "KnowledgeFunction": ("GET", "/api/v1/knowledge"),
    "ConfigFunction": ("GET", "/api/v1/configs/bench.sample"),
}


def _baseline_setup(python: str, layouts: dict[str, Any], workdir: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """The baseline's own state, made by its own code: a database of its own migrated by its
    migrations (today's schema is not the one its queries expect), a Redis database of its own, an
    admin registered through its auth API, the config key its first request reads. Returns its
    event per function and the service URLs its runs get."""
    import sys
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    import redis

    from benchmarks._common import ROOT

    sys.path.insert(0, str(ROOT))
    from tests.support.events import rest_event

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BASELINE_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BASELINE_DB}")
    services = {
        "DATABASE_URL": urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{BASELINE_DB}")),
        "REDIS_URL": urlunsplit(urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{BASELINE_REDIS_DB}")),
    }
    redis.Redis.from_url(services["REDIS_URL"]).flushdb()
    auth = layouts["AuthFunction"]
    register = workdir / "baseline-register.json"
    email = f"bench-{os.getpid()}@example.com"
    register.write_text(
        json.dumps(rest_event("POST", "/api/v1/auth/register", body={"email": email, "password": "Pw-" + "x1" * 8}))
    )
    migrate = subprocess.run(
        [python, "-S", "-m", "claw_common.migrate"],
        env=_env(auth, register, services),
        capture_output=True,
        text=True,
        check=False,
    )
    if migrate.returncode != 0:
        raise RuntimeError(f"the baseline's migrations failed: {migrate.stderr.strip()[-500:]}")
    response = workdir / "baseline-registered.json"
    _run_once(python, auth, register, services={**services, "_RESPONSE": str(response)})
    user_id = json.loads(json.loads(response.read_text())["body"])["id"]
    with psycopg.connect(services["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("UPDATE users SET role = 'admin', tier = 'enterprise' WHERE id = %s", (user_id,))
        conn.execute(
            "INSERT INTO configs (key, value, version, updated_by) VALUES ('bench.sample', %s::jsonb, 1, %s)",
            (json.dumps({"greeting": "你好", "enabled": True, "limits": [1, 2, 3]}), user_id),
        )
    redis.Redis.from_url(services["REDIS_URL"]).flushdb()  # no cached state of the registration
    authorizer = {"user_id": user_id, "role": "admin", "tier": "enterprise", "auth_method": "jwt"}
    authorizer.update(api_key_id="", principalId=user_id)
    events = {}
    for name, (method, path) in BASELINE_REQUESTS.items():
        events[name] = workdir / f"baseline-{name}.json"
        events[name].write_text(json.dumps(rest_event(method, path, authorizer=authorizer)))
    return events, services


class _PrincipalCache:
    """The admin's cached state (``claw:auth:user:{id}``), as the API functions write it, set or removed
    before an authorizer run: whether a new environment's first request finds it is the difference
    between a cache read and a database connection (psycopg's import), so each run says which."""

    def __init__(self, user_id: str) -> None:
        import redis

        from claw_common.auth import tokens

        self.key = tokens.user_state_key(user_id)
        self.value = tokens.encode_state({"active": True, "role": "admin", "tier": "enterprise"})
        self.ttl_s = tokens.PRINCIPAL_CACHE_TTL_S
        self.client = redis.Redis.from_url(os.environ["REDIS_URL"])

    def cached(self) -> None:
        self.client.set(self.key, self.value, ex=self.ttl_s)

    def missing(self) -> None:
        self.client.delete(self.key)


class _KeysFromSecretsManager:
    """The signing keys where AWS keeps them: a Secrets Manager secret (the emulator's), read by the
    authorizer with boto3 (the template's default) or through the Parameters and Secrets extension
    (``SecretsExtensionLayerArn``; its HTTP API served here by ``tests/support/secrets_extension.py``,
    backed by the same emulator)."""

    def __enter__(self) -> _KeysFromSecretsManager:
        import uuid
        from contextlib import ExitStack

        from claw_common.aws import aws_client
        from tests.support.secrets_extension import secrets_extension

        client = aws_client("secretsmanager")
        arn = client.create_secret(
            Name=f"claw-bench-jwt-{uuid.uuid4().hex[:8]}", SecretString=os.environ["JWT_SIGNING_KEYS"]
        )["ARN"]
        self._stack = ExitStack()
        port, _ = self._stack.enter_context(secrets_extension(client, "bench-session-token"))
        from_secret = {"JWT_SIGNING_KEYS": "", "JWT_SECRET_ARN": arn}
        self.variants = {
            KEYS_BOTO3: from_secret,
            KEYS_EXTENSION: {
                **from_secret,
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(port),
                "AWS_SESSION_TOKEN": "bench-session-token",
            },
        }
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _interpreter_ms(python: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([python, "-S", "-c", "pass"], env={"PATH": "/usr/bin:/bin"}, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _measure(
    python: str, layouts: dict[str, dict[str, Any]], baseline: dict[str, Any], runs: int, platform: Any, log: Any
) -> tuple[dict[str, dict[tuple[str, str], list[float]]], dict[str, str], dict[str, Any]]:
    """``runs`` rounds, each a cold start of every function in every build (ours with and without
    ``.pyc``, the baseline's where it has one) and of both prototypes; then one ``-X importtime`` run each."""
    from benchmarks.lambda_twin import VARIANTS

    samples: dict[str, dict[tuple[str, str], list[float]]] = {"import": {}, "first": {}, "total": {}}
    outcomes: dict[str, str] = {}

    def record(key: tuple[str, str], result: dict[str, Any]) -> None:
        samples["import"].setdefault(key, []).append(result["import_ms"])
        samples["first"].setdefault(key, []).append(result["first_ms"])
        samples["total"].setdefault(key, []).append(result["import_ms"] + result["first_ms"])
        outcomes["/".join(key)] = result["outcome"]

    with tempfile.TemporaryDirectory(prefix="claw-coldstart-") as tmp, _KeysFromSecretsManager() as keys:
        events, user_id = _events(platform, Path(tmp))
        principal = _PrincipalCache(user_id)
        base_events, base_services = _baseline_setup(python, baseline, Path(tmp))
        prototypes = _prototype_layouts(python, layouts["pyc"]["ConfigFunction"], Path(tmp))
        for run_no in range(runs):
            log(f"cold starts: round {run_no + 1} of {runs}")
            for name, event in FUNCTIONS.items():
                for variant in VARIANTS:
                    if name == "AuthorizerFunction":
                        principal.cached()
                    record((name, variant), _run_once(python, layouts[variant][name], events[event])[0])
                if name in baseline:
                    result, _ = _run_once(python, baseline[name], base_events[name], services=base_services)
                    record((name, BASELINE), result)
            for label, layout in prototypes.items():
                record((label, "pyc"), _run_once(python, layout, events["prototype"])[0])
            authorizer = layouts["pyc"]["AuthorizerFunction"]
            for variant, overrides in keys.variants.items():
                principal.cached()
                result = _run_once(python, authorizer, events["authorizer"], overrides=overrides)[0]
                record(("AuthorizerFunction", variant), result)
            principal.missing()
            record(("AuthorizerFunction", CACHE_MISS), _run_once(python, authorizer, events["authorizer"])[0])
        profiles = {}
        for name, event in FUNCTIONS.items():
            layout = layouts["pyc"][name]
            if name == "AuthorizerFunction":
                principal.cached()
            _, stderr = _run_once(python, layout, events[event], "-X", "importtime")
            profiles[name] = import_profile(stderr, layout.handler.rsplit(".", 1)[0])
    return samples, outcomes, profiles


def _api_target(name: str, new: float, base: float | None, strict: float, floors: tuple[float, float]) -> Target:
    """The issue's target for an API function: its cold start against the baseline's, same run."""
    goal = f"≤ {RATIO_TARGET:.0%} of the {BASELINE_COMMIT} build (same run)"
    if base is None:
        return Target(
            f"cold start {name}",
            goal,
            f"{new:.0f} ms; no baseline",
            None,
            f"the function did not exist at {BASELINE_COMMIT} (its routes are new), so there is nothing to "
            f"compare with; against today's code without .pyc it is at {strict:.0%}",
        )
    ratio = new / base
    measured = f"{new:.0f} ms vs {base:.0f} ms ({ratio:.0%}); vs today's code without .pyc {strict:.0%}"
    why = (
        f"The {BASELINE_COMMIT} build compiled every module it imported at each cold start (no .pyc in a read-only "
        "package, ~1,000 modules), ran the Tracer's patch_all at init (botocore from its own layer, httpx, "
        "requests, sqlite3 imported to be patched) and pulled the JWT stack into chat's first request. What "
        "remains here is executing module bodies: FastAPI + Mangum above all (the 8-route prototype: "
        f"{floors[1]:.0f} ms vs {floors[0]:.0f} ms on Powertools' resolver, same run), then the Powertools "
        "Logger/Tracer/Metrics, the functions' pydantic models and route analysis, psycopg and redis-py on the "
        "first request."
    )
    if ratio > RATIO_TARGET:
        why = f"{RATIO_TARGET * base:.0f} ms would be needed. " + why
    return Target(f"cold start {name}", goal, measured, ratio <= RATIO_TARGET, why)


def _authorizer_target(totals: dict[tuple[str, str], list[float]]) -> Target:
    """Read as a production deployment runs it (docs/deploy.md: the signing keys in Secrets Manager,
    through the extension); the other ways are in the measure and in their own table."""
    name = "AuthorizerFunction"
    deployed = totals[(name, KEYS_EXTENSION)]
    med = statistics.median(deployed)
    others = ", ".join(
        f"{statistics.median(totals[(name, key)]):.0f} ms {label}"
        for key, label in (
            ("pyc", "with the keys in the environment (local)"),
            (KEYS_BOTO3, "with boto3 (SecretsExtensionLayerArn empty)"),
            (CACHE_MISS, "when the user's state is not cached (a database read)"),
        )
    )
    return Target(
        "cold start authorizer",
        f"≤ {AUTHORIZER_TARGET_MS:.0f} ms import + first request",
        f"{med:.0f} ms as deployed (keys from Secrets Manager through the secrets extension, the user's state "
        f"cached as the APIs keep it; median of {len(deployed)}); {others}",
        med <= AUTHORIZER_TARGET_MS,
        AUTHORIZER_WHY,
    )


def run(quick: bool, platform: Any = None) -> Section:
    from benchmarks.lambda_twin import build_baseline, build_twins, python312, size_targets

    section = Section(
        "coldstart",
        "Cold start as Lambda does it (import + init + first request, built package)",
        method=__doc__.split("\n\n", 1)[1].replace("\n", " ") if __doc__ else "",
    )
    if platform is None:
        raise RuntimeError("the cold-start benchmark needs the running local platform (real services)")
    python = python312()
    runs = 9 if quick else 15
    import sys

    log = lambda msg: print(msg, file=sys.__stdout__, flush=True)  # noqa: E731
    layouts = build_twins(list(FUNCTIONS), log)
    baseline = build_baseline(log)
    samples, outcomes, profiles = _measure(python, layouts, baseline, runs, platform, log)
    imports, firsts, totals = samples["import"], samples["first"], samples["total"]
    interpreter = _interpreter_ms(python, runs)

    labels = list(PROTOTYPES)
    floors = (statistics.median(totals[(labels[0], "pyc")]), statistics.median(totals[(labels[1], "pyc")]))
    rows = []
    for name in FUNCTIONS:
        new, old = totals[(name, "pyc")], totals[(name, "source")]
        base = totals.get((name, BASELINE))
        strict = statistics.median(new) / statistics.median(old)
        rows.append(
            [
                name,
                statistics.median(imports[(name, "pyc")]),
                statistics.median(firsts[(name, "pyc")]),
                statistics.median(new),
                percentile(new, 90),
                statistics.median(base) if base else "—",
                f"{statistics.median(new) / statistics.median(base):.0%}" if base else "—",
                statistics.median(old),
                f"{strict:.0%}",
                outcomes[f"{name}/pyc"],
                outcomes.get(f"{name}/{BASELINE}", "—"),
            ]
        )
        if name in API_FUNCTIONS:
            med_base = statistics.median(base) if base else None
            section.targets.append(_api_target(name, statistics.median(new), med_base, strict, floors))
        if name == "AuthorizerFunction":
            section.targets.append(_authorizer_target(totals))
    section.table(
        f"Cold start, ms: median and p90 of {runs} fresh python3.12 processes per function and build",
        [
            "function",
            "import (.pyc)",
            "1st request (.pyc)",
            "total (.pyc)",
            "p90 (.pyc)",
            f"total ({BASELINE_COMMIT})",
            f".pyc / {BASELINE_COMMIT}",
            "total (ours, no .pyc)",
            ".pyc / ours no .pyc",
            "1st response",
            f"1st response ({BASELINE_COMMIT})",
        ],
        rows,
    )
    authorizer_rows = [
        [
            label,
            statistics.median(imports[("AuthorizerFunction", key)]),
            statistics.median(firsts[("AuthorizerFunction", key)]),
            statistics.median(totals[("AuthorizerFunction", key)]),
            percentile(totals[("AuthorizerFunction", key)], 90),
            outcomes[f"AuthorizerFunction/{key}"],
        ]
        for label, key in (
            ("keys in the environment (local), state cached", "pyc"),
            ("keys in the environment (local), state not cached", CACHE_MISS),
            ("keys from Secrets Manager with boto3 (AWS, the default), state cached", KEYS_BOTO3),
            (
                "keys from Secrets Manager through the extension (AWS, SecretsExtensionLayerArn), state cached",
                KEYS_EXTENSION,
            ),
        )
    ]
    section.table(
        "AuthorizerFunction: an access token's first request, by where the signing keys and the user's state come "
        "from, ms (.pyc)",
        ["signing keys, principal state", "import", "1st request", "total", "p90", "1st response"],
        authorizer_rows,
    )
    proto_rows = [
        [
            label,
            statistics.median(imports[(label, "pyc")]),
            statistics.median(firsts[(label, "pyc")]),
            statistics.median(totals[(label, "pyc")]),
            percentile(totals[(label, "pyc")], 90),
            outcomes[f"{label}/pyc"],
        ]
        for label in PROTOTYPES
    ]
    section.table(
        "Framework floor: the same 8-route prototype, import + first request, ms (.pyc, core + HTTP layers)",
        ["prototype", "import", "1st request", "total", "p90", "1st response"],
        proto_rows,
    )
    section.notes.append(
        f"An empty python3.12 (`python3.12 -S -c pass`) takes {interpreter:.0f} ms here; it is not in the figures "
        "(on Lambda the runtime's own bootstrap comes on top). Tracing is on as on Lambda (`Tracing: Active`: "
        "a sampled trace header, no POWERTOOLS_TRACE_DISABLED, segments sent to a loopback UDP port nobody reads): "
        f"POWERTOOLS_TRACE_DISABLED would also skip the {BASELINE_COMMIT} Tracer's patch_all, which Lambda ran at "
        "every cold start. The twin is x86_64; the deployed package is arm64 with the same sources and versions."
    )
    section.notes.append(
        f"The {BASELINE_COMMIT} column is the build deployed when the target was set, rebuilt as its `sam build` "
        "made it (benchmarks/lambda_twin.py `build_baseline`): its tree by `git archive`, one layer with its "
        "requirements for CPython 3.12 (botocore too: aws-xray-sdk pulls it in), each function's folder, no "
        ".pyc; its template's environment. It runs against a database migrated by its own migrations and a Redis "
        "database of its own, with an admin registered through its own auth API, the same requests: "
        "KnowledgeFunction's first request (GET /knowledge) was served by its ChatFunction; AssistantsFunction did "
        "not exist. 'ours, no .pyc' is today's code built without .pyc, the stricter denominator."
    )
    for name, profile in profiles.items():
        section.table(
            f"Biggest import contributors of {name} (.pyc build, import + first request, -X importtime, ms)",
            ["module or package", "cumulative", "self"],
            [[n, cum, own] for n, cum, own in profile],
        )
    size_targets(section, layouts["pyc"])
    section.data = {
        "totals": {f"{n}/{v}": t for (n, v), t in totals.items()},
        "profiles": profiles,
        "interpreter_ms": interpreter,
    }
    section.chart = _chart(totals)
    return section


def _chart(totals: dict[tuple[str, str], list[float]]) -> str:
    import matplotlib.pyplot as plt

    names = list(FUNCTIONS)
    new = [statistics.median(totals[(n, "pyc")]) for n in names]
    old = [statistics.median(totals[(n, "source")]) for n in names]
    base = [statistics.median(totals[(n, BASELINE)]) if (n, BASELINE) in totals else 0.0 for n in names]
    fig, ax = plt.subplots(figsize=(8, 4.6))
    y = range(len(names))
    ax.barh([i + 0.27 for i in y], base, height=0.27, color="#616161", label=f"{BASELINE_COMMIT} as deployed")
    ax.barh(list(y), old, height=0.27, color="#bdbdbd", label="ours, no .pyc")
    ax.barh([i - 0.27 for i in y], new, height=0.27, color="#2e7d32", label=".pyc (make build)")
    for i, (a, b, c) in enumerate(zip(new, old, base, strict=True)):
        ax.text(a + 10, i - 0.27, f"{a:.0f} ms", va="center", fontsize=7)
        ax.text(b + 10, i, f"{b:.0f} ms", va="center", fontsize=7)
        if c:
            ax.text(c + 10, i + 0.27, f"{c:.0f} ms", va="center", fontsize=7)
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlabel("import + init + first request, ms (median)")
    ax.set_title("Cold start per function, built package, python3.12")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = RESULTS / "coldstart.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def summary(section: Section) -> dict[str, Any]:
    return {k: statistics.median(v) for k, v in section.data.get("totals", {}).items()}
