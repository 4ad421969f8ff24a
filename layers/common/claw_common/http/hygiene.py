"""Input hygiene at the edge, once for every API: text may not carry control characters.

NUL (PostgreSQL text cannot hold it) and the other C0 controls except tab, line feed and
carriage return mean nothing in a name, a message or a config value; lone UTF-16 surrogates
(``"\\ud800"`` in JSON) are not text at all. Both are refused with a 422 that names the field
(never echoing the value), wherever they come: path and query parameters, JSON bodies
(keys and values, at any depth), form and multipart fields (and file names), and WebSocket
frames (:func:`refuse_control_characters` on the parsed frame).

``create_app`` installs :func:`clean_input` as a dependency of every route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from claw_common.errors import ValidationFailed

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_JSON_TYPES = ("application/json",)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_ERRORS = 20


def _problem_of(text: str) -> str | None:
    match = _FORBIDDEN.search(text)
    if match is None:
        return None
    code = ord(match.group())
    if 0xD800 <= code <= 0xDFFF:
        return "is not valid Unicode text (a lone surrogate)"
    return f"contains a control character (U+{code:04X}) that text may not hold"


def _loc_part(key: Any) -> str:
    # A key may itself be the bad text: show it escaped and short, never raw.
    text = str(key)
    return (
        text
        if _FORBIDDEN.search(text) is None and len(text) <= 64
        else text[:64].encode("unicode_escape", "backslashreplace").decode("ascii")
    )


def control_character_errors(value: Any, loc: Iterable[str | int]) -> list[dict[str, Any]]:
    """Field errors (``loc``/``msg``/``type``) for each string in ``value`` (JSON) with forbidden characters."""
    errors: list[dict[str, Any]] = []
    stack: list[tuple[Any, list[str | int]]] = [(value, list(loc))]
    while stack and len(errors) < MAX_ERRORS:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = _problem_of(item)
            if problem:
                errors.append({"loc": [str(p) for p in where], "msg": problem, "type": "string_control_character"})
        elif isinstance(item, dict):
            for key, child in item.items():
                key_problem = _problem_of(str(key))
                if key_problem:
                    errors.append(
                        {
                            "loc": [*map(str, where), _loc_part(key)],
                            "msg": "key " + key_problem,
                            "type": "string_control_character",
                        }
                    )
                stack.append((child, [*where, _loc_part(key)]))
        elif isinstance(item, list | tuple):
            stack.extend((child, [*where, i]) for i, child in enumerate(item))
    return errors


def refuse_control_characters(errors: list[dict[str, Any]]) -> None:
    """Raise the 422 for ``errors`` (from :func:`control_character_errors`), if there are any."""
    if not errors:
        return
    summary = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    raise ValidationFailed(f"The request is not valid: {summary}.", errors=errors[:MAX_ERRORS])


async def _body_errors(request: Request) -> list[dict[str, Any]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _JSON_TYPES or content_type.endswith("+json"):
        body = await request.body()
        if not body:
            return []
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return []  # not JSON: the route's own validation answers
        return control_character_errors(data, ["body"])
    if content_type in _FORM_TYPES:
        errors: list[dict[str, Any]] = []
        try:
            form = await request.form()
        except Exception:  # noqa: BLE001 - a malformed form is the route's (or FastAPI's) 422 to give
            return []
        for name, value in form.multi_items():
            errors += control_character_errors(name, ["body", "(field name)"])
            if isinstance(value, UploadFile):
                errors += control_character_errors(value.filename or "", ["body", _loc_part(name), "filename"])
            else:
                errors += control_character_errors(value, ["body", _loc_part(name)])
        return errors
    return []


async def clean_input(request: Request) -> None:
    """FastAPI dependency of every route: 422 for control characters in path, query or body fields."""
    errors = control_character_errors(dict(request.path_params), ["path"])
    for name, value in request.query_params.multi_items():
        errors += control_character_errors(name, ["query", "(parameter name)"])
        errors += control_character_errors(value, ["query", _loc_part(name)])
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        errors += await _body_errors(request)
    refuse_control_characters(errors)


__all__ = ["clean_input", "control_character_errors", "refuse_control_characters"]
