"""An x86_64 twin of what ``sam build`` produces, laid out as Lambda runs it.

Every function and layer of the template is built by its own Makefile target (the one
``sam build`` runs, ``BuildMethod: makefile``) with ``infra/build_lambda.py --arch x86_64``,
so the twin differs from the deployed arm64 package only in its native wheels. Two variants:

* ``pyc``: exactly what ``make build`` ships (``.pyc`` compiled for Python 3.12, third-party
  code sourceless where the Makefile says so);
* ``source``: the same with ``--no-pyc``, what ``sam build``'s default Python workflow shipped
  before (sources only; the package is read-only, so every cold start compiles what it imports).

Per function: ``task/`` is ``/var/task``; ``opt/python`` is the function's layers merged in the
template's order (a later layer overwrites an earlier one, as Lambda extracts them), hard-linked
so the merge costs no copy; ``runtime/`` is boto3/botocore as the python3.12 runtime ships them.
Builds are cached under ``.aws-sam/bench-x86_64/`` and redone when an input changes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, Section, Target

BUILD_ROOT = ROOT / ".aws-sam" / "bench-x86_64"
VARIANTS = ("pyc", "source")
RUNTIME_PACKAGES = ("boto3==1.44.5",)
"""What the python3.12 Lambda runtime ships next to the interpreter (our builds leave it out)."""


def python312() -> str:
    """The Lambda runtime's Python (3.12): pyenv's, or python3.12 on PATH."""
    for candidate in sorted(Path.home().glob(".pyenv/versions/3.12*/bin/python3.12"), reverse=True):
        return str(candidate)
    found = shutil.which("python3.12")
    if not found:
        raise RuntimeError("python3.12 (the Lambda runtime's Python) is needed for the cold-start benchmark")
    return found


@dataclass(frozen=True)
class Artifact:
    logical_id: str
    code_dir: Path  # the folder whose Makefile builds it
    layer: bool


@dataclass(frozen=True)
class FunctionLayout:
    logical_id: str
    handler: str
    task_root: Path
    opt_python: Path
    runtime: Path
    environment: dict[str, str]

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join(map(str, (self.task_root, self.opt_python, self.runtime)))


def _ref(value: Any) -> str:
    return value["Ref"] if isinstance(value, dict) else str(value)


def template_functions(names: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, Artifact]]:
    """The template's functions ``names`` (their properties) and every artifact they need."""
    from claw_local.template import TEMPLATE_PATH, Resolver, load_template

    template = load_template()
    resources = template["Resources"]
    # Conditional layers (the offline embedder's) as the local platform runs: no Zhipu key.
    resolver = Resolver(template, {}, "us-east-1")
    base = TEMPLATE_PATH.parent
    functions: dict[str, dict[str, Any]] = {}
    artifacts: dict[str, Artifact] = {}
    for name in names:
        props = {**resources[name]["Properties"]}
        props["Layers"] = resolver.resolve(props.get("Layers", []))
        functions[name] = props
        artifacts[name] = Artifact(name, (base / props["CodeUri"]).resolve(), layer=False)
        for layer in props["Layers"]:
            layer_id = _ref(layer)
            content = resources[layer_id]["Properties"]["ContentUri"]
            artifacts[layer_id] = Artifact(layer_id, (base / content).resolve(), layer=True)
    return functions, artifacts


def _fingerprint(artifact: Artifact, variant: str) -> str:
    digest = hashlib.sha256(f"{variant}\n".encode())
    inputs = [ROOT / "infra" / "build_lambda.py", ROOT / "layers" / "common" / "requirements.txt"]
    inputs += sorted(
        p for p in artifact.code_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    )
    if artifact.logical_id == "AuthorizerFunction":  # vendors the core package
        inputs += sorted(p for p in (ROOT / "layers/common/claw_common").rglob("*.py"))
    for path in inputs:
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _build(artifact: Artifact, variant: str, log: Any) -> Path:
    out = BUILD_ROOT / variant / artifact.logical_id
    stamp = out.with_suffix(".stamp")
    fingerprint = _fingerprint(artifact, variant)
    if out.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    extra = " --no-pyc" if variant == "source" else ""
    build = f"{sys.executable} {ROOT / 'infra' / 'build_lambda.py'} --arch x86_64{extra}"
    env = {**os.environ, "PATH": f"{Path(python312()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    log(f"building {artifact.logical_id} ({variant}, x86_64) ...")
    subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(artifact.code_dir),
            f"build-{artifact.logical_id}",
            f"ARTIFACTS_DIR={out}",
            f"BUILD={build}",
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    stamp.write_text(fingerprint)
    return out


def _runtime(log: Any) -> Path:
    out = BUILD_ROOT / "runtime"
    stamp = out.with_suffix(".stamp")
    if out.exists() and stamp.exists() and stamp.read_text() == " ".join(RUNTIME_PACKAGES):
        return out
    shutil.rmtree(out, ignore_errors=True)
    log("installing the runtime's boto3 (x86_64) ...")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    cmd += ["--target", str(out), "--platform", "manylinux2014_x86_64", "--python-version", "3.12"]
    cmd += ["--implementation", "cp", "--only-binary=:all:", *RUNTIME_PACKAGES]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The runtime's own packages come with their bytecode.
    subprocess.run(
        [python312(), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(out)],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    stamp.write_text(" ".join(RUNTIME_PACKAGES))
    return out


def _merge_layers(function: str, variant: str, layers: list[Path]) -> Path:
    """``/opt`` of ``function``: its layers extracted in order (hard links, later ones win)."""
    opt = BUILD_ROOT / variant / f"{function}.opt"
    shutil.rmtree(opt, ignore_errors=True)
    opt.mkdir(parents=True)

    def link(src: str, dst: str) -> None:
        if os.path.exists(dst):
            os.unlink(dst)
        os.link(src, dst)

    for layer in layers:
        shutil.copytree(layer, opt, copy_function=link, dirs_exist_ok=True)
    (opt / "python").mkdir(exist_ok=True)
    return opt / "python"


def build_twins(names: list[str], log: Any = print) -> dict[str, dict[str, FunctionLayout]]:
    """``{variant: {function: layout}}`` for the template's functions ``names``."""
    functions, artifacts = template_functions(names)
    runtime = _runtime(log)
    layouts: dict[str, dict[str, FunctionLayout]] = {}
    for variant in VARIANTS:
        built = {a.logical_id: _build(a, variant, log) for a in artifacts.values()}
        layouts[variant] = {}
        for name, props in functions.items():
            layers = [built[_ref(layer)] for layer in props.get("Layers", [])]
            env = {k: str(v) for k, v in (props.get("Environment") or {}).get("Variables", {}).items()}
            layouts[variant][name] = FunctionLayout(
                logical_id=name,
                handler=props["Handler"],
                task_root=built[name],
                opt_python=_merge_layers(name, variant, layers),
                runtime=runtime,
                environment=env,
            )
    return layouts


SIZE_BUDGETS_MB = {"AuthorizerFunction": 40.0, "IngestFunction": 200.0}
API_SIZE_BUDGET_MB = 120.0


def size_targets(section: Section, layouts: dict[str, FunctionLayout]) -> None:
    """Unzipped size of each function with its layers (the twin; the arm64 build differs by its wheels)."""
    sys.path.insert(0, str(ROOT / "infra"))
    from lambda_sizes import folder_mb

    rows = []
    for name, layout in layouts.items():
        code, layers = folder_mb(layout.task_root), folder_mb(layout.opt_python.parent)
        total = code + layers
        budget = SIZE_BUDGETS_MB.get(name, API_SIZE_BUDGET_MB)
        rows.append([name, code, layers, total, f"≤ {budget:.0f}", "met" if total <= budget else "MISSED"])
        section.targets.append(
            Target(
                f"size {name}",
                f"≤ {budget:.0f} MB unzipped with its layers",
                f"{total:.1f} MB",
                total <= budget,
                ""
                if total <= budget
                else "measured as the local platform runs, without a Zhipu key: the offline embedder layer "
                "(numpy + OpenBLAS + the USE model and its weights, ~79 MB) embeds the questions; with a key "
                "(OfflineEmbeddings=Auto) it is not attached and the API functions weigh ~64 MB "
                "(make build prints both)",
            )
        )
    section.table(
        "Unzipped size per function with its layers, MB (.pyc build, x86_64 twin)",
        ["function", "code", "layers", "total", "budget", "status"],
        rows,
    )
