"""An x86_64 twin of what ``sam build`` produces, laid out as Lambda runs it.

Every function and layer of the template is built by its own Makefile target (the one
``sam build`` runs, ``BuildMethod: makefile``) with ``infra/build_lambda.py --arch x86_64``,
so the twin differs from the deployed arm64 package only in its native wheels. Two variants:

* ``pyc``: exactly what ``make build`` ships (``.pyc`` compiled for Python 3.12, third-party
  code sourceless where the Makefile says so);
* ``source``: the same with ``--no-pyc``, what ``sam build``'s default Python workflow shipped
  before (sources only; the package is read-only, so every cold start compiles what it imports).

The cold-start target's baseline is a third build (``build_baseline``): the tree of the commit
deployed when the target was set (``BASELINE_COMMIT``, by ``git archive``) built as its own
``sam build`` did (``BuildMethod: python3.12``: one layer with every requirement, no ``.pyc``).

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
    # Conditional layers (the offline embedder's, on ingest) as the local platform runs: no Zhipu key.
    resolver = Resolver(template, {}, "us-east-1")
    base = TEMPLATE_PATH.parent
    functions: dict[str, dict[str, Any]] = {}
    artifacts: dict[str, Artifact] = {}
    for name in names:
        props = {**resources[name]["Properties"]}
        props["Layers"] = resolver.resolve(props.get("Layers", [])) or []
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


# --------------------------------------------------------------------------- the baseline

BASELINE_COMMIT = "53ffc80"
"""The build that was deployed when the cold-start target was set ("today's" of the target)."""
BASELINE_OF = {
    "AuthFunction": "AuthFunction",
    "ChatFunction": "ChatFunction",
    "KnowledgeFunction": "ChatFunction",  # knowledge bases were routes of the chat function then
    "ConfigFunction": "ConfigFunction",
}
"""Today's API function -> the function of the baseline that served the same first request.
AssistantsFunction did not exist at the baseline: it has no baseline to compare with."""


def _baseline_sources(log: Any) -> Path:
    """The baseline's tree (``git archive``), extracted once per commit."""
    out = BUILD_ROOT / "baseline" / "src"
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", f"{BASELINE_COMMIT}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    stamp = out.with_suffix(".stamp")
    if out.exists() and stamp.exists() and stamp.read_text() == commit:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    log(f"extracting {BASELINE_COMMIT} (the baseline build) ...")
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, "infra", "layers", "functions"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    stamp.write_text(commit)
    return out


def _sam_python_build(src: Path, out: Path, *, layer: bool) -> None:
    """What ``sam build``'s default Python workflow (``BuildMethod: python3.12``) made of ``src``:
    its requirements.txt installed as CPython 3.12 wheels (every dependency, boto3/botocore too
    when something pulls them in), the folder's content copied beside them, no ``.pyc``."""
    target = out / "python" if layer else out
    target.mkdir(parents=True)
    reqs = src / "requirements.txt"
    if any(line.split("#", 1)[0].strip() for line in reqs.read_text().splitlines()):
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
        cmd += ["--target", str(target), "--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_28_x86_64"]
        cmd += ["--implementation", "cp", "--python-version", "3.12", "--only-binary=:all:", "-r", str(reqs)]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"installing {reqs} failed: {done.stderr.strip()[-1000:]}")
    shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".aws-sam"), dirs_exist_ok=True)
    for cached in target.rglob("__pycache__"):
        shutil.rmtree(cached)


def build_baseline(log: Any = print) -> dict[str, FunctionLayout]:
    """``{today's API function: layout}`` of the baseline build (commit ``BASELINE_COMMIT``), as its
    ``sam build`` made it: one shared layer from its requirements, the function's folder, no ``.pyc``.
    Environment: the baseline template's Globals and the function's own variables."""
    from claw_local.template import load_template

    src = _baseline_sources(log)
    template = load_template(src / "infra" / "template.yaml")
    resources = template["Resources"]
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    runtime = _runtime(log)
    built: dict[str, Path] = {}
    layouts: dict[str, FunctionLayout] = {}
    for today, then in BASELINE_OF.items():
        props = resources[then]["Properties"]
        layer_ids = [_ref(layer) for layer in template["Globals"]["Function"].get("Layers", [])]
        for artifact_id, layer in [(then, False), *((lid, True) for lid in layer_ids)]:
            if artifact_id in built:
                continue
            uri = resources[artifact_id]["Properties"]["ContentUri" if layer else "CodeUri"]
            code = (src / "infra" / uri).resolve()
            out = BUILD_ROOT / "baseline" / artifact_id
            stamp = out.with_suffix(".stamp")
            if not (out.exists() and stamp.exists() and stamp.read_text() == (src.with_suffix(".stamp")).read_text()):
                shutil.rmtree(out, ignore_errors=True)
                log(f"building {artifact_id} of {BASELINE_COMMIT} (sam build's python3.12 workflow, x86_64) ...")
                _sam_python_build(code, out, layer=layer)
                stamp.write_text(src.with_suffix(".stamp").read_text())
            built[artifact_id] = out
        # Its Globals but the log level: the benchmark runs every build at WARNING.
        env = {k: v for k, v in globals_env.items() if isinstance(v, str) and k != "POWERTOOLS_LOG_LEVEL"}
        env.update({k: str(v) for k, v in (props.get("Environment") or {}).get("Variables", {}).items()})
        layouts[today] = FunctionLayout(
            logical_id=f"{then}@{BASELINE_COMMIT}",
            handler=props["Handler"],
            task_root=built[then],
            opt_python=_merge_layers(f"{then}-{BASELINE_COMMIT}", "baseline", [built[lid] for lid in layer_ids]),
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
                else f"{total - budget:.1f} MB over; make build (infra/lambda_sizes.py) prints what each layer weighs",
            )
        )
    section.table(
        "Unzipped size per function with its layers, MB (.pyc build, x86_64 twin)",
        ["function", "code", "layers", "total", "budget", "status"],
        rows,
    )
