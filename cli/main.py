"""``impressox``: up, worker, api, chat (and chain, with the on-chain layer)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from pathlib import Path

from core.errors import ConfigError, ImpressoxError
from core.settings import Settings, load_settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="impressox", description="Impressox Agent: durable AI agents on Temporal")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole stack in the foreground on embedded defaults")
    up.add_argument("--data-dir", type=Path, help="where state lives (default: settings data_dir)")
    up.add_argument("--api-port", type=int, default=8000)
    up.add_argument("--temporal-port", type=int, default=7233)
    up.add_argument("--ui-port", type=int, default=8233)
    up.add_argument("--chain-port", type=int, default=8545)

    worker = sub.add_parser("worker", help="run a worker against the configured Temporal server")
    worker.add_argument("--ready-file", type=Path, help="touched once the worker polls (for supervisors)")

    api = sub.add_parser("api", help="serve the API against the configured Temporal server")
    api.add_argument("--port", type=int, help="port (default: settings api_port)")
    api.add_argument("--host", help="bind address (forced to loopback when no API keys are configured)")

    chat = sub.add_parser("chat", help="send one message and print the reply")
    chat.add_argument("text")
    chat.add_argument("--session", help="an existing session id (default: a new session)")
    chat.add_argument("--agent", default="assistant")
    chat.add_argument("--wait", type=float, default=60)
    chat.add_argument("--no-stream", action="store_true", help="print the reply only when the turn is done")

    sub.add_parser("listener", help="follow the chain and turn vault events into notifications")

    try:
        from chain.cli import add_chain_commands
    except ImportError:  # the on-chain layer is optional at import time
        pass
    else:
        add_chain_commands(sub)
    return p


def _logging() -> None:
    logging.basicConfig(
        level=os.environ.get("IMPRESSOX_LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "LiteLLM", "litellm", "temporalio.activity", "web3.providers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _logging()
    try:
        settings = load_settings()
        return _run(args, settings)
    except ConfigError as exc:
        print(f"impressox: {exc}", file=sys.stderr)
        return 2
    except ImpressoxError as exc:
        print(f"impressox: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "up":
        from cli.up import run_stack

        return run_stack(args, settings)
    if args.command == "worker":
        from temporal.worker import run_worker

        asyncio.run(run_worker(settings, ready_file=args.ready_file))
        return 0
    if args.command == "api":
        from cli.serve import serve_api

        return serve_api(settings, port=args.port, host=args.host)
    if args.command == "chat":
        from cli.chat import chat

        return _short_lived(chat(settings, args.text, args.session, args.agent, args.wait, not args.no_stream))
    if args.command == "listener":
        from services.chain_events import run_listener

        asyncio.run(run_listener(settings))
        return 0
    if args.command == "chain":
        from chain.cli import run_chain_command

        return run_chain_command(args, settings)
    raise AssertionError(args.command)


def _short_lived(coro) -> int:  # noqa: ANN001
    """Run a client coroutine; drop the Temporal client before exit (avoids a crash at
    interpreter shutdown seen with short-lived clients, see PLATFORM-NOTES.md)."""

    async def wrapper() -> int:
        try:
            return await coro
        finally:
            gc.collect()

    code = asyncio.run(wrapper())
    gc.collect()
    return code


if __name__ == "__main__":
    sys.exit(main())
