"""What an engine adds to the ingest function: installed size here, and its aarch64 wheels on PyPI.

Installed size is the sum of the files each distribution's ``RECORD`` lists (byte code
caches excluded, as ``sam build`` does not ship them), for the engine and every dependency
it pulls in, minus what the layers already carry (numpy is in the common/AI layer).

For Lambda (arm64, Python 3.12) each distribution is fetched from PyPI as a binary wheel
for aarch64: ``pip download --no-deps --only-binary=:all: --platform manylinux2014_aarch64
--python-version 3.12``; when there is none for manylinux2014, newer manylinux tags that
Lambda's Amazon Linux 2023 (glibc 2.34) accepts are tried, and the table says which one
was found. The wheel is then measured unpacked.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

# Already in the layers every ingest deployment carries (layers/common/requirements.txt).
IN_LAYERS = {"numpy"}
LAMBDA_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_closure(spec: str) -> list[str]:
    """The distribution (a requirement string, extras honoured) and everything it requires at run time."""
    seen: dict[str, None] = {}
    pending = [(Requirement(spec).name, tuple(Requirement(spec).extras))]
    while pending:
        name, extras = pending.pop()
        current = _key(name)
        if current in seen and not extras:
            continue
        seen[current] = None
        try:
            requires = metadata.requires(current) or []
        except metadata.PackageNotFoundError:
            continue  # not installed here (e.g. a platform-only dependency)
        for line in requires:
            requirement = Requirement(line)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)
            )
            if wanted:
                pending.append((requirement.name, tuple(requirement.extras)))
    return list(seen)


def requirements_closure(files: list[Path]) -> list[str]:
    """Every distribution that ``pip install -r`` of these files puts in a deployment package."""
    names: dict[str, None] = {}
    for file in files:
        for raw in file.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.update(dict.fromkeys(dependency_closure(line)))
    return list(names)


def deployment_bytes(names: list[str]) -> int:
    """Installed bytes of these distributions here (missing ones count zero)."""
    total = 0
    for name in names:
        try:
            total += installed_bytes(name)
        except metadata.PackageNotFoundError:
            continue
    return total


def installed_bytes(name: str) -> int:
    """Bytes on disk of one installed distribution (files in its RECORD, without __pycache__)."""
    dist = metadata.distribution(name)
    total = 0
    for file in dist.files or ():
        if "__pycache__" in file.parts:
            continue
        path = Path(str(dist.locate_file(file)))
        if path.is_file():
            total += path.stat().st_size
    return total


@dataclass(frozen=True)
class Wheel:
    """The aarch64 wheel PyPI has for one distribution (or why there is none)."""

    name: str
    version: str
    compiled: bool
    platform_tag: str | None  # None: no aarch64 wheel for CPython 3.12
    unpacked_bytes: int | None
    installed_bytes_here: int


def aarch64_wheel(name: str, folder: Path) -> Wheel:
    """Fetch ``name==<installed version>`` for Lambda arm64 / CPython 3.12 and measure it unpacked."""
    version = metadata.version(name)
    here = installed_bytes(name)
    compiled = any(str(f).endswith((".so", ".pyd")) or ".so." in str(f) for f in metadata.files(name) or ())
    for platform in LAMBDA_PLATFORMS:
        target = folder / f"{_key(name)}-{platform}"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                platform,
                "--python-version",
                "3.12",
                "--implementation",
                "cp",
                "-d",
                str(target),
                f"{name}=={version}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(target.glob("*.whl")) if result.returncode == 0 else []
        if wheels:
            with zipfile.ZipFile(wheels[0]) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
            tag = wheels[0].stem.split("-")[-1]
            return Wheel(name, version, compiled, tag, unpacked, here)
    return Wheel(name, version, compiled, None, None, here)


def engine_footprint(package: str, extra: tuple[str, ...] = ()) -> list[Wheel]:
    """Every distribution the engine brings (plus ``extra``), measured here and as aarch64 wheels."""
    names = [n for n in dependency_closure(package) if n not in IN_LAYERS]
    for more in extra:
        names += [n for n in dependency_closure(more) if n not in IN_LAYERS and n not in names]
    with tempfile.TemporaryDirectory(prefix="ocr-wheels-") as folder:
        return [aarch64_wheel(name, Path(folder)) for name in names]


# What the Lambda runtime provides and the build strips from packages (infra/build_lambda.py).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
# What the OCR seam (functions/ingest/ingest_app/ocr/) needs besides the engine itself.
SEAM_NEEDS = ("pillow", "pypdfium2")


def ingest_requirement_files(root: Path) -> list[Path]:
    """The requirement files that make up the ingest deployment: its layers and its own."""
    files = [root / "layers" / layer / "requirements.txt" for layer in ("common", "ai")]
    files.append(root / "functions" / "ingest" / "requirements.txt")
    return [file for file in files if file.is_file()]


@dataclass(frozen=True)
class Budget:
    """The ingest deployment today and what an engine adds to it."""

    baseline_names: tuple[str, ...]
    baseline_bytes: int
    added: tuple[Wheel, ...]

    @property
    def added_here(self) -> int:
        return sum(w.installed_bytes_here for w in self.added)

    @property
    def added_aarch64(self) -> int | None:
        if any(w.unpacked_bytes is None for w in self.added):
            return None
        return sum(w.unpacked_bytes or 0 for w in self.added)


def ingest_baseline(root: Path) -> tuple[list[str], int]:
    names = [n for n in requirements_closure(ingest_requirement_files(root)) if n not in RUNTIME_PROVIDED]
    return names, deployment_bytes(names)


def added_by(package: str, baseline: list[str], folder: Path) -> list[Wheel]:
    """Distributions the engine plus the seam's needs add to the ingest deployment, with aarch64 wheels."""
    names: list[str] = []
    for spec in (package, *SEAM_NEEDS):
        names += [
            n for n in dependency_closure(spec) if n not in baseline and n not in names and n not in RUNTIME_PROVIDED
        ]
    return [aarch64_wheel(name, folder) for name in names]


def debian_installed_kb(packages: tuple[str, ...]) -> int | None:
    """Installed-Size (KiB) of Debian packages, or None without dpkg."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-Wf", "${Installed-Size}\\n", *packages], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return None
    sizes = [int(line) for line in out.split() if line.isdigit()]
    return sum(sizes) if sizes else None
