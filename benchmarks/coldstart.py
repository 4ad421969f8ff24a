"""Cold start: import + init time of each function's handler module in a fresh process.

Each run is a new interpreter whose ``PYTHONPATH`` is what the Lambda runtime gives the
function: the shared layer (``layers/common``, i.e. ``/opt/python``) and the function's own
code directory, nothing else of the repo. The time is measured inside the process around
``importlib.import_module`` (module-level init included: FastAPI app, Mangum adapter,
Powertools objects). Interpreter start-up is reported separately. The first run of each
function is discarded (it writes the ``.pyc`` files a deployed package already has).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks._common import FUNCTIONS, LAYER, RESULTS, Section, Target

HANDLERS = [
    ("authorizer", "authorizer_app.authorizer"),
    ("authorizer", "authorizer_app.handler"),
    ("chat", "chat_app.handler"),
    ("config", "config_app.handler"),
    ("ingest", "ingest_app.handler"),
]
WHY_SLOW = (
    "The X-Ray SDK behind Powertools Tracer (aws_xray_sdk.core and, through its sampler, botocore.session: "
    "~150 ms of -X importtime) is imported at init on purpose: every handler and outbound call is traced, and "
    "deferring it would only move the cost into the first request. FastAPI's route registration imports "
    "pydantic.v1 (~60 ms) to reject v1 models. Without the tracer the handler would import in ~370 ms; "
    "nothing else left in our own modules is worth deferring (see the contributors below)."
)
TARGETS_MS = {"authorizer_app.authorizer": 150.0, "chat_app.handler": 450.0, "config_app.handler": 450.0}

_PROBE = """
import importlib, json, sys, time
t0 = time.perf_counter()
importlib.import_module(sys.argv[1])
t1 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1000}))
"""
_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s+)(\S+)\s*$")


def _env(function: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(LAYER), str(FUNCTIONS[function])])
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env.pop("PYTHONSTARTUP", None)
    return env


def _run_once(function: str, module: str) -> tuple[float, float]:
    """(import ms measured inside, whole process wall ms)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, module],
        env=_env(function),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    wall = (time.perf_counter() - started) * 1000
    if out.returncode != 0:
        raise RuntimeError(f"import of {module} failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["import_ms"], wall


def _interpreter_ms(runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=_env("authorizer"), check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def import_profile(function: str, module: str, top: int = 10) -> list[tuple[str, float, float]]:
    """The top ``top`` contributors by cumulative import time (ms) from ``-X importtime``.

    Only whole third-party packages (top-level names) and the project's own modules
    (``claw_common.*``, ``<fn>_app.*``) are listed, so a library shows up once, not once per
    submodule; the handler module itself is left out (it is the total).
    """
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=_env(function),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    own = (module.split(".")[0] + ".", "claw_common.")
    rows: list[tuple[str, float, float]] = []
    for line in out.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if not match:
            continue
        name = match.group(4)
        if name == module:
            continue
        if "." in name and not name.startswith(own):
            continue
        rows.append((name, int(match.group(2)) / 1000, int(match.group(1)) / 1000))
    rows.sort(key=lambda r: -r[1])
    return rows[:top]


def run(quick: bool) -> Section:
    section = Section(
        "coldstart",
        "Cold start (import + init of each handler module)",
        method=(
            "Fresh interpreter per run; PYTHONPATH = layers/common + the function's code dir (as the Lambda "
            "runtime: /opt/python + /var/task); time measured in-process around `importlib.import_module`, "
            "module-level init included. First run discarded (.pyc written). Runs interleaved across "
            "functions. Contributors from one `python -X importtime` run: cumulative ms of whole third-party "
            "packages and of the project's own modules."
        ),
    )
    runs = 7 if quick else 11
    for function, module in HANDLERS:  # warm-up: compile .pyc, fill the page cache
        _run_once(function, module)
    samples: dict[str, list[float]] = {m: [] for _, m in HANDLERS}
    walls: dict[str, list[float]] = {m: [] for _, m in HANDLERS}
    for _ in range(runs):
        for function, module in HANDLERS:
            imp, wall = _run_once(function, module)
            samples[module].append(imp)
            walls[module].append(wall)
    interpreter = _interpreter_ms(runs)

    rows = []
    for function, module in HANDLERS:
        s = samples[module]
        target = TARGETS_MS.get(module)
        rows.append(
            [
                module,
                function,
                statistics.median(s),
                min(s),
                max(s),
                statistics.median(walls[module]),
                f"≤ {target:.0f}" if target else "-",
                ("met" if statistics.median(s) <= target else "MISSED") if target else "-",
            ]
        )
        if target:
            med = statistics.median(s)
            section.targets.append(
                Target(
                    f"{module} import",
                    f"≤ {target:.0f} ms",
                    f"{med:.0f} ms (median of {len(s)})",
                    med <= target,
                    "" if med <= target or module == "authorizer_app.authorizer" else WHY_SLOW,
                )
            )
    section.table(
        f"Cold start: import + init, ms (median / min / max of {runs} fresh processes)",
        ["module", "function", "median", "min", "max", "process wall", "target", "status"],
        rows,
    )
    section.notes.append(
        f"An empty interpreter (`python -c pass`) takes {interpreter:.0f} ms on this machine; 'process wall' "
        "includes it. On Lambda the runtime's own init comes on top."
    )

    profiles: dict[str, list[tuple[str, float, float]]] = {}
    for function, module in HANDLERS:
        profile = import_profile(function, module)
        profiles[module] = profile
        section.table(
            f"Biggest import contributors of {module} (-X importtime, ms)",
            ["module or package", "cumulative", "self"],
            [[name, cum, own] for name, cum, own in profile],
        )
    section.data = {"samples": samples, "profiles": profiles, "interpreter_ms": interpreter}
    section.chart = _chart(samples)
    return section


def _chart(samples: dict[str, list[float]]) -> str:
    import matplotlib.pyplot as plt

    names = list(samples)
    medians = [statistics.median(samples[n]) for n in names]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    colors = []
    for name, med in zip(names, medians, strict=True):
        target = TARGETS_MS.get(name)
        colors.append("#9e9e9e" if target is None else ("#2e7d32" if med <= target else "#c62828"))
    bars = ax.barh(names, medians, color=colors)
    ax.boxplot([samples[n] for n in names], vert=False, positions=range(len(names)), widths=0.3, showfliers=False)
    for name, target in TARGETS_MS.items():
        if name in names:
            y = names.index(name)
            ax.plot([target, target], [y - 0.4, y + 0.4], color="black", linestyle="--", linewidth=1)
    for bar, med in zip(bars, medians, strict=True):
        ax.text(bar.get_width() + 5, bar.get_y() + bar.get_height() / 2, f"{med:.0f} ms", va="center", fontsize=8)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("import + init, ms (median; box = spread; dashed = target)")
    ax.set_title("Cold start per handler module")
    fig.tight_layout()
    path = RESULTS / "coldstart.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def summary(section: Section) -> dict[str, Any]:
    return {m: statistics.median(v) for m, v in section.data.get("samples", {}).items()}
