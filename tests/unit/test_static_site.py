"""The local gateway serves the built console and widget.js as CloudFront would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from claw_local.static import StaticSite


@pytest.fixture()
def site(tmp_path: Path) -> StaticSite:
    (tmp_path / "console" / "assets").mkdir(parents=True)
    (tmp_path / "console" / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "console" / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "console" / "assets" / "index-abc123.css").write_text("body{}")
    (tmp_path / "widget.js").write_text("(()=>{})()")
    (tmp_path / "secret.txt").write_text("outside the console folder")
    return StaticSite(tmp_path)


def get(site: StaticSite, path: str, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    scope: dict[str, Any] = {
        "method": method,
        "path": path,
        "headers": [
            (k.replace("_", "-").encode(), v.encode()) for k, v in {"host": "127.0.0.1:3000", **headers}.items()
        ],
    }
    status, out, body = site.respond(scope)
    return status, dict(out), body


def test_only_paths_outside_the_api_are_static() -> None:
    assert StaticSite.serves("/") and StaticSite.serves("/knowledge/1") and StaticSite.serves("/widget.js")
    assert not StaticSite.serves("/api/v1/health") and not StaticSite.serves("/api")


def test_hashed_assets_are_immutable_with_their_type(site: StaticSite) -> None:
    status, headers, body = get(site, "/assets/index-abc123.js")
    assert status == 200 and body == b"console.log(1)"
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert get(site, "/assets/index-abc123.css")[1]["Content-Type"] == "text/css; charset=utf-8"


def test_app_routes_get_index_html_revalidated_every_time(site: StaticSite) -> None:
    for path in ("/", "/knowledge/123", "/chat/abc"):
        status, headers, body = get(site, path)
        assert status == 200 and body.startswith(b"<!doctype html>")
        assert headers["Cache-Control"] == "no-cache" and headers["Content-Type"].startswith("text/html")
    # a missing file is a 404, not the app
    assert get(site, "/assets/missing.js")[0] == 404
    assert get(site, "/favicon.ico")[0] == 404


def test_revalidation_answers_304_when_unchanged(site: StaticSite) -> None:
    etag = get(site, "/")[1]["ETag"]
    status, _, body = get(site, "/", if_none_match=etag)
    assert status == 304 and body == b""


def test_widget_has_a_stable_url_and_a_short_cache(site: StaticSite) -> None:
    status, headers, _ = get(site, "/widget.js")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=300"
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"


def test_config_json_points_the_app_at_this_gateway(site: StaticSite) -> None:
    status, headers, body = get(site, "/config.json", host="127.0.0.1:3100")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert json.loads(body) == {
        "apiBase": "/api/v1",
        "wsUrl": "ws://127.0.0.1:3100/ws",
        "widgetUrl": "http://127.0.0.1:3100/widget.js",
    }


def test_nothing_outside_the_console_folder_and_only_reads(site: StaticSite) -> None:
    assert get(site, "/../secret.txt")[0] == 404
    assert get(site, "/assets/../../secret.txt")[0] == 404
    status, headers, _ = get(site, "/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = get(site, "/", method="HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


def test_an_unbuilt_console_says_how_to_build_it(tmp_path: Path) -> None:
    status, _, body = get(StaticSite(tmp_path / "nothing"), "/")
    assert status == 503 and b"npm run build" in body
