"""Build one Lambda function or layer for the Python 3.12 Lambda runtime (``sam build`` calls it).

Each code folder's Makefile has ``build-<LogicalId>`` targets that run this script with
SAM's ``ARTIFACTS_DIR``. It

* installs the requirements as manylinux wheels (aarch64, the deployed architecture, or x86_64
  with ``--arch x86_64`` for a twin that runs on an x86 machine) for CPython 3.12, pinned by the
  core layer's requirements as constraints, so every layer agrees on shared versions;
* removes distributions another attached layer already provides (``--without``) and those
  the Lambda runtime ships (boto3, botocore and their dependencies): a second copy is only weight;
* copies the folder's own Python packages (and ``--vendor`` packages, for the authorizer);
* compiles every module to ``.pyc`` for Python 3.12 with unchecked hashes. The deployment
  package is read-only, so without them every cold start compiles what it imports. Third-party
  packages ship as ``.pyc`` only (``--sourceless``); the project's own code keeps its source.

    python infra/build_lambda.py SRC_DIR ARTIFACTS_DIR [--layer] [--requirements FILE]
        [--without DIST ...] [--vendor PACKAGE_DIR ...] [--sourceless]
        [--arch arm64|x86_64] [--no-pyc]

``--no-pyc`` builds what ``sam build``'s default Python workflow ships (sources, no ``.pyc``):
``benchmarks/coldstart.py`` measures both side by side.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "layers" / "common" / "requirements.txt"
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six")
"""Distributions of the python3.12 Lambda runtime (boto3 and what it needs)."""
OWN_PACKAGES = ("claw_common", "claw_ai")
SKIP = ("__pycache__", "tests", "*.pyc", "Makefile", "requirements*.txt")
# The python3.12 runtime is Amazon Linux 2023 (glibc 2.34): any manylinux wheel up to 2.34 runs.
MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}


def platform_args(arch: str) -> list[str]:
    machine = MACHINES[arch]
    tags = ("manylinux2014", "manylinux_2_28", "manylinux_2_34")
    return [
        *(a for tag in tags for a in ("--platform", f"{tag}_{machine}")),
        "--implementation",
        "cp",
        "--python-version",
        "3.12",
    ]


def requirements(path: Path) -> list[str]:
    if not path.exists():
        return []
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line]


def install(reqs: list[str], target: Path, arch: str = "arm64") -> None:
    if not reqs:
        return
    # pip takes no extras in constraints: "psycopg[binary]==3.3.9" constrains "psycopg==3.3.9".
    pins = [re.sub(r"\[.*?\]", "", line) for line in requirements(CONSTRAINTS)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\n".join(pins) + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    cmd += ["--target", str(target), *platform_args(arch), "--only-binary=:all:", "-c", constraints.name, *reqs]
    try:
        subprocess.run(cmd, check=True)
    finally:
        Path(constraints.name).unlink()


def _normal(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def remove_distributions(target: Path, names: list[str]) -> list[str]:
    """Delete installed distributions by name, file by file from their RECORD."""
    wanted = {_normal(n) for n in names}
    removed = []
    for info in list(target.glob("*.dist-info")):
        dist = _normal(info.name.split("-", 1)[0])  # "python_dateutil-2.9.0.dist-info"
        if dist not in wanted:
            continue
        record = info / "RECORD"
        for line in record.read_text().splitlines() if record.exists() else []:
            path = target / line.split(",", 1)[0]
            if path.is_file():
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)
        removed.append(dist)
    # Empty package folders left behind.
    for folder in sorted((p for p in target.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def copy_packages(src: Path, target: Path) -> None:
    """The folder's own Python packages (folders with ``__init__.py``) and the data inside them."""
    for child in sorted(src.iterdir()):
        if child.is_dir() and (child / "__init__.py").exists() and child.name not in SKIP:
            shutil.copytree(child, target / child.name, ignore=shutil.ignore_patterns(*SKIP), dirs_exist_ok=True)


def compile_pyc(target: Path, sourceless: bool) -> None:
    python312 = shutil.which("python3.12")
    if python312 is None:
        raise SystemExit("python3.12 (the Lambda runtime's Python) is needed on PATH to compile .pyc files")
    base = [python312, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    own = [target / p for p in (*OWN_PACKAGES, *[d.name for d in target.iterdir() if d.name.endswith("_app")])]
    own = [p for p in own if p.exists()]
    # check=False: a few files of third-party wheels (templates, py2 leftovers) do not compile.
    if own:
        subprocess.run([*base, *map(str, own)], check=False, stdout=subprocess.DEVNULL)
    # Packages and the single-file modules beside them (typing_extensions.py, ...): both are imported.
    others = [
        p
        for p in target.iterdir()
        if (p.is_dir() and p not in own and not p.name.endswith(".dist-info")) or (p.is_file() and p.suffix == ".py")
    ]
    if not others:
        return
    if not sourceless:
        subprocess.run([*base, *map(str, others)], check=False, stdout=subprocess.DEVNULL)
        return
    # Legacy placement (module.pyc beside module.py) is what Python imports without the source.
    subprocess.run([*base, "-b", *map(str, others)], check=False, stdout=subprocess.DEVNULL)
    for path in others:
        for source in path.rglob("*.py") if path.is_dir() else [path]:
            if source.with_suffix(".pyc").exists():
                source.unlink()
        for stub in path.rglob("*.pyi") if path.is_dir() else []:
            stub.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("artifacts", type=Path)
    parser.add_argument("--layer", action="store_true", help="put everything under python/ (a layer)")
    parser.add_argument("--requirements", type=Path, help="default: SRC/requirements.txt")
    parser.add_argument("--without", nargs="*", default=[], help="distributions another layer provides")
    parser.add_argument("--vendor", nargs="*", type=Path, default=[], help="package folders to copy in as well")
    parser.add_argument("--sourceless", action="store_true", help="third-party packages as .pyc only")
    parser.add_argument("--arch", choices=sorted(MACHINES), default="arm64", help="Lambda architecture (arm64)")
    parser.add_argument("--no-pyc", action="store_true", help="sources only, no .pyc (the old build)")
    args = parser.parse_args()
    target = args.artifacts / "python" if args.layer else args.artifacts
    target.mkdir(parents=True, exist_ok=True)
    install(requirements(args.requirements or args.src / "requirements.txt"), target, args.arch)
    remove_distributions(target, [*RUNTIME_PROVIDED, *args.without])
    shutil.rmtree(target / "bin", ignore_errors=True)
    for source_map in target.rglob("*.map"):  # browsers' debugging aid (Swagger UI ships 8 MB of them)
        source_map.unlink()
    copy_packages(args.src, target)
    for package in args.vendor:
        shutil.copytree(package, target / package.name, ignore=shutil.ignore_patterns(*SKIP), dirs_exist_ok=True)
    if not args.no_pyc:
        compile_pyc(target, args.sourceless)


if __name__ == "__main__":
    main()
