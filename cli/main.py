"""``impressox``: up, worker, api, listener, chat, approve, reject, sessions, login, chain.

Every command but ``up`` finds a running ``impressox up`` through the stack file in the data
dir (``devstack/stackfile.py``) when no address is set in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from core.errors import ConfigError, ImpressoxError
from core.platforms import PlatformRegistry
from core.settings import Settings, load_settings

#: commands that talk to a stack and exit: quiet logs, one line on failure
CLIENT_COMMANDS = ("chat", "approve", "reject", "cancel", "sessions", "audit", "login", "logout")


def _positive(text: str) -> int:
    n = int(text)
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"must be between 1 and 64, not {n}")
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="impressox",
        description="Impressox Agent: durable AI agents on Temporal",
        epilog="Settings come from config/impressox.yaml and IMPRESSOX_* environment variables; "
        "the commands find a running `impressox up` through <data_dir>/stack.json.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # every command that talks to the API takes the key the same way (cli/credentials.py)
    keyed = argparse.ArgumentParser(add_help=False)
    keyed.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key to send (default: $IMPRESSOX_API_KEY, else the key `impressox login` stored)",
    )

    up = sub.add_parser("up", help="run the whole stack in the foreground on embedded defaults")
    up.add_argument("--data-dir", type=Path, help="where state and logs live (default: settings data_dir)")
    up.add_argument("--api-port", type=int, default=8000, help="the API's port (default: %(default)s)")
    up.add_argument("--temporal-port", type=int, default=7233, help="Temporal's gRPC port (default: %(default)s)")
    up.add_argument("--ui-port", type=int, default=8233, help="the Temporal Web UI's port (default: %(default)s)")
    up.add_argument(
        "--chain-port", type=int, help="the local chain's port (default: 8545, or a free port when 8545 is taken)"
    )
    up.add_argument("--workers", type=_positive, default=1, help="worker processes (default: %(default)s)")
    up.add_argument(
        "--api-workers", type=_positive, default=1, help="API processes on the API port (default: %(default)s)"
    )

    worker = sub.add_parser("worker", help="run a worker against the configured Temporal server")
    worker.add_argument("--ready-file", type=Path, help="touched once the worker polls (for supervisors)")

    api = sub.add_parser("api", help="serve the API against the configured Temporal server")
    api.add_argument("--port", type=int, help="port (default: settings api_port)")
    api.add_argument("--host", help="bind address (forced to loopback when no API keys are configured)")
    api.add_argument("--workers", type=_positive, default=1, help="API processes on the port (default: %(default)s)")

    sub.add_parser("listener", help="follow the chain and turn vault events into notifications")

    platforms = _chat_platforms()
    bot = sub.add_parser(
        "bot",
        help="run a chat bot: " + ", ".join(platforms.names()) + " (its token must be set: IMPRESSOX_<NAME>_TOKEN)",
        description="Run one chat platform's bot until SIGTERM/SIGINT. Platforms: "
        + "; ".join(f"{p.name} ({p.description or p.module}; {p.env_var('token')})" for p in platforms)
        + ". More with IMPRESSOX_PLATFORM_MODULES.",
    )
    bot.add_argument("platform", metavar="NAME", help="the platform: " + ", ".join(platforms.names()))
    bot.add_argument("--ready-file", type=Path, help="touched once the bot serves (for health checks)")

    chat = sub.add_parser(
        "chat", parents=[keyed], help="send one message and print the reply (and any approval it waits for)"
    )
    chat.add_argument("text", help="the message")
    chat.add_argument("--session", help="an existing session id (default: the session the last chat used)")
    chat.add_argument("--new", action="store_true", help="start a new session instead of continuing the last one")
    chat.add_argument("--agent", default="assistant", help="the agent of a new session (default: %(default)s)")
    chat.add_argument(
        "--wait", type=float, default=60, help="seconds to wait for the reply (default: %(default)s, at most 300)"
    )
    chat.add_argument(
        "--no-stream",
        action="store_true",
        help="print the reply once it is complete instead of token by token (for scripts)",
    )

    for verb, what in (("approve", "approve (the call runs)"), ("reject", "reject (the call does not run)")):
        decide = sub.add_parser(verb, parents=[keyed], help=f"{what} a pending tool call, e.g. a transfer")
        decide.add_argument("call_id", metavar="CALL_ID", help="the call id `impressox chat` printed")
        decide.add_argument("--session", help="the session it is pending in (default: found among your sessions)")

    cancel = sub.add_parser("cancel", help="cancel a transfer in its undo window (nothing is sent)")
    cancel.add_argument("call_id", metavar="CALL_ID", help="the transfer's call id")
    cancel.add_argument("--session", help="the session it waits in (default: found among your sessions)")

    sessions = sub.add_parser("sessions", parents=[keyed], help="list your sessions (`sessions end` ends them)")
    sessions.add_argument("--json", action="store_true", help="print the list as JSON (for scripts)")
    sessions_sub = sessions.add_subparsers(dest="sessions_command", metavar="end")
    end = sessions_sub.add_parser("end", parents=[keyed], help="end sessions (sending to one later reopens it)")
    end.add_argument("session_ids", nargs="*", metavar="ID", help="the sessions to end")
    end.add_argument(
        "--idle", metavar="AGE", help="end every running session idle for at least AGE (e.g. 30m, 12h, 1d)"
    )

    login = sub.add_parser("login", parents=[keyed], help="store an API key for the other commands (mode 0600)")
    login.add_argument("--stdin", action="store_true", help="read the key from standard input instead of a prompt")
    sub.add_parser("logout", help="forget the key `impressox login` stored")

    audit = sub.add_parser("audit", help="audit bundles (GET /v1/sessions/{id}/audit)")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="{verify}")
    verify = audit_sub.add_parser("verify", help="check a bundle's signature and, with --rpc, its transactions")
    verify.add_argument("file", metavar="FILE", help="the bundle as JSON (the body of GET .../audit)")
    verify.add_argument("--rpc", metavar="URL", help="a chain RPC URL: check every transaction's effect on-chain")
    verify.add_argument("--signer", metavar="ADDRESS", help="the platform's audit address (GET /v1/audit/key)")

    from chain.cli import add_chain_commands

    add_chain_commands(sub)
    return p


def _chat_platforms() -> PlatformRegistry:
    """The chat platforms ``impressox bot`` runs, for its help: the built-in ones and those of
    settings.platform_modules (the settings' or a module's error is reported when a command runs)."""
    from bots.common.platforms import load_platforms

    try:
        return load_platforms(load_settings().platform_modules)
    except ConfigError:
        return load_platforms()


def _logging(command: str) -> None:
    default = "WARNING" if command in CLIENT_COMMANDS else "INFO"
    logging.basicConfig(
        level=os.environ.get("IMPRESSOX_LOG_LEVEL", default), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "LiteLLM", "litellm", "temporalio.activity", "web3.providers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _logging(args.command)
    try:
        settings = load_settings()
        code = _run(args, settings)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at the interpreter's exit
        return code
    except ConfigError as exc:
        print(f"impressox: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `impressox sessions | head`: the reader has what it wanted
        _silence_stdout()
        return 0
    except (ImpressoxError, ConnectionError) as exc:
        print(f"impressox: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not complain of the closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "up":
        from cli.up import run_stack

        return run_stack(args, settings)
    if args.command == "chain":
        from chain.cli import run_chain_command

        return run_chain_command(args, settings)
    if args.command == "audit":
        from cli.audit import verify_file

        return verify_file(args.file, args.rpc, args.signer)

    from devstack.stackfile import with_stack

    settings, stack = with_stack(settings, os.environ)
    if args.command in ("worker", "api", "listener", "bot"):
        from core.key_agreement import agree_on_keys
        from core.telemetry import start_process

        role = f"bot-{args.platform}" if args.command == "bot" else args.command
        # a process whose keys cannot work with the running ones' refuses here; it leaves at exit
        if agreement := agree_on_keys(settings, role):
            atexit.register(agreement.close)
        start_process(settings, role)
    if args.command == "worker":
        from temporal.worker import run_worker

        asyncio.run(run_worker(settings, ready_file=args.ready_file))
        return 0
    if args.command == "api":
        from cli.serve import serve_api

        return serve_api(settings, port=args.port, host=args.host, workers=args.workers)
    if args.command == "listener":
        from temporal.listener_main import run_listener

        asyncio.run(run_listener(settings))
        return 0

    if args.command == "bot":
        from bots.main import run_bot

        return run_bot(args.platform, settings, ready_file=args.ready_file)

    from cli import approvals, chat, credentials, session_commands
    from cli.backend import Backend, open_backend

    if args.command == "logout":
        gone = credentials.forget_key(settings.data_dir)
        print("forgot the stored API key" if gone else "no API key was stored")
        return 0
    key, key_source = credentials.resolve_key(getattr(args, "api_key", None), os.environ, settings.data_dir)
    if args.command == "login":
        key = session_commands.read_key(args.api_key, args.stdin)
        key_source = "the key given to `impressox login`"

    commands: dict[str, Callable[[Backend], Awaitable[int]]] = {
        "chat": lambda b: chat.chat(
            b,
            args.text,
            args.session,
            args.agent,
            args.wait,
            not args.no_stream,
            memory=chat.SessionMemory(settings.data_dir, key, fresh=args.new),
        ),
        "approve": lambda b: approvals.decide(b, args.call_id, True, args.session),
        "reject": lambda b: approvals.decide(b, args.call_id, False, args.session),
        "cancel": lambda b: approvals.cancel(b, args.call_id, args.session),
        "sessions": lambda b: session_commands.sessions(b, args),
        "login": lambda b: session_commands.login(b, settings.data_dir, key or ""),
    }

    async def client_command() -> int:
        backend = await open_backend(settings, stack.api_url if stack else None, key, key_source)
        try:
            return await commands[args.command](backend)
        finally:
            await backend.close()

    return _short_lived(client_command)


def _short_lived(command: Callable[[], Awaitable[int]]) -> int:
    """Run a client command; drop the Temporal client before exit (avoids a crash at
    interpreter shutdown seen with short-lived clients, see docs/operations.md)."""

    async def wrapper() -> int:
        try:
            return await command()
        finally:
            gc.collect()

    code = asyncio.run(wrapper())
    gc.collect()
    return code


if __name__ == "__main__":
    sys.exit(main())
