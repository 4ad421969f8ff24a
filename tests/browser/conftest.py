"""Browser fixtures: Debian's Chromium (/usr/bin/chromium) driven by Playwright's sync API.

The console and the widget are served by the real local platform (the session `platform`
fixture), from web/dist, which is built here when missing or older than its sources. Set
CLAW_BROWSER_GATEWAY_URL to run against a platform you started yourself (`make dev`), and
CLAW_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ from this run's screenshots.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
DIST = WEB / "dist"
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("CLAW_CHROMIUM", "/usr/bin/chromium")
# Headless, and quiet: no component updates, sync or background requests to blocked hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def _build_web() -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "web/dist is missing and npm is not installed: install Node.js 20+, then "
            "`cd web && npm ci && npm run build`"
        )
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """web/dist, built from web/src when missing or stale."""
    outputs = [DIST / "console" / "index.html", DIST / "widget.js"]
    sources = [
        WEB / "src",
        WEB / "index.html",
        WEB / "package-lock.json",
        WEB / "vite.config.ts",
        WEB / "vite.widget.config.ts",
    ]
    if not all(p.is_file() for p in outputs) or min(p.stat().st_mtime for p in outputs) < _newest_mtime(sources):
        _build_web()
    for p in outputs:
        assert p.is_file(), f"{p} was not built"
    return DIST


@pytest.fixture(scope="session")
def gateway_url(web_dist: Path, request: pytest.FixtureRequest) -> str:
    url = os.environ.get("CLAW_BROWSER_GATEWAY_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("platform").gateway_url


# Per module, not per session: Playwright's sync API runs an event loop on the main thread
# while it is open, and tests after the browser tests invoke handlers in-process (Mangum asks
# for the thread's event loop, which must not be running).
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (Debian) to run the browser tests"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Steps:
    """Screenshots, one per step, numbered in order, under tests/browser/artifacts/<test>/."""

    def __init__(self, name: str) -> None:
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.n = 0
        self.shots: list[Path] = []

    def shot(self, page: Any, label: str, **kwargs: Any) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{label}.png"
        page.screenshot(path=str(path), **kwargs)
        self.shots.append(path)
        return path

    def publish(self, names: dict[str, str]) -> None:
        """Copy chosen screenshots to docs/screenshots/ when CLAW_UPDATE_SCREENSHOTS=1."""
        if os.environ.get("CLAW_UPDATE_SCREENSHOTS") != "1":
            return
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for shot in self.shots:
            label = shot.stem.split("-", 1)[1]
            if label in names:
                shutil.copyfile(shot, DOCS_SCREENSHOTS / names[label])


@pytest.fixture()
def steps(request: pytest.FixtureRequest) -> Steps:
    return Steps(request.node.name)


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 860})
    ctx.set_default_timeout(20_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context: Any) -> Iterator[Any]:
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    assert not errors, f"uncaught errors in the page: {errors}"
