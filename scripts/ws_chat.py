"""Ask CLAW.AI a question over the WebSocket API and print the answer as it streams.

    python scripts/ws_chat.py --url ws://127.0.0.1:3000/ws --token "$ACCESS" --conversation "$ID" "question"
    CLAW_TOKEN=$ACCESS python scripts/ws_chat.py --conversation "$ID" "我的订单什么时候发货？"
    echo "question" | python scripts/ws_chat.py --conversation "$ID" -

The answer goes to stdout as it arrives; sources and the usage line go to stderr (``--json``
prints every frame instead). ``--token`` is an access token or an API key (``CLAW_TOKEN``).
Exit status: 0 answered, 1 an ``error`` frame (printed to stderr), 2 the connection was refused
or lost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

DEFAULT_URL = "ws://127.0.0.1:3000/ws"


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stream a CLAW.AI chat answer over the WebSocket API.")
    parser.add_argument("question", help='the question ("-" reads it from stdin)')
    parser.add_argument("--url", default=os.environ.get("CLAW_WS_URL", DEFAULT_URL), help=f"default {DEFAULT_URL}")
    parser.add_argument("--token", default=os.environ.get("CLAW_TOKEN"), help="access token or API key")
    parser.add_argument("--conversation", required=True, help="id of one of your conversations")
    parser.add_argument("--knowledge-base", help="search this knowledge base (overrides the conversation's)")
    parser.add_argument("--top-k", type=int, help="how many chunks to retrieve (1-20)")
    parser.add_argument("--json", action="store_true", help="print every frame as JSON, one per line")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each frame")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or CLAW_TOKEN) is required")
    if args.question == "-":
        args.question = sys.stdin.read().strip()
    return args


def with_token(url: str, token: str) -> str:
    """``url`` with ``?token=`` (any query it already has is kept)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, f"token={quote(token, safe='')}") if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def chat_frame(args: argparse.Namespace) -> dict[str, Any]:
    """The ``chat`` action to send."""
    frame: dict[str, Any] = {"action": "chat", "conversation_id": args.conversation, "message": args.question}
    if args.knowledge_base:
        frame["knowledge_base_id"] = args.knowledge_base
    if args.top_k is not None:
        frame["top_k"] = args.top_k
    return frame


def _print_sources(sources: list[dict[str, Any]]) -> None:
    for n, source in enumerate(sources, start=1):
        where = f"{source.get('title')} #{source.get('chunk_index')}"
        print(f"[{n}] {where} (score {source.get('score', 0):.3f})", file=sys.stderr)


def _print_done(frame: dict[str, Any]) -> None:
    usage = frame.get("usage") or {}
    cached = " (cached)" if frame.get("cached") else ""
    print(
        f"-- {frame.get('model')}{cached}: {usage.get('prompt_tokens')} + {usage.get('completion_tokens')} "
        f"= {usage.get('total_tokens')} tokens, cost {usage.get('cost')}; message {frame.get('message_id')}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    """Send one chat action and print the streamed answer; the exit status (see the module docstring)."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect

    args = _parse_args(argv)
    try:
        ws = connect(with_token(args.url, args.token), open_timeout=10)
    except InvalidStatus as exc:
        print(f"connection refused (HTTP {exc.response.status_code}): check the token", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot connect to {args.url}: {exc}", file=sys.stderr)
        return 2
    with ws:
        ws.send(json.dumps(chat_frame(args), ensure_ascii=False))
        try:
            while True:
                frame = json.loads(ws.recv(timeout=args.timeout))
                if args.json:
                    print(json.dumps(frame, ensure_ascii=False), flush=True)
                kind = frame.get("type")
                if kind == "delta" and not args.json:
                    sys.stdout.write(frame["text"])
                    sys.stdout.flush()
                elif kind == "sources" and not args.json:
                    print(flush=True)
                    _print_sources(frame.get("sources") or [])
                elif kind == "done":
                    if not args.json:
                        _print_done(frame)
                    return 0
                elif kind == "error":
                    if not args.json:
                        print(flush=True)
                        detail = frame.get("detail") or ""
                        print(f"error {frame.get('status')} {frame.get('title')}: {detail}", file=sys.stderr)
                    return 1
        except TimeoutError:
            print(f"\nno frame for {args.timeout:g} s; giving up", file=sys.stderr)
            return 2
        except ConnectionClosed as exc:
            print(f"\nconnection closed: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
