"""``impressox chat "TEXT"``: one message to a session, the reply on stdout, any approval it
waits for with the command that decides it."""

from __future__ import annotations

import asyncio
import signal
import sys

from cli.backend import ApiBackend, Backend
from services.sessions import PendingTurn


def _stop_on_ctrl_c(backend: Backend, sid: str) -> None:
    """Ctrl-C once stops the turn (the reply then ends with what was kept); twice exits."""
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[object]] = []

    def first_press() -> None:
        loop.remove_signal_handler(signal.SIGINT)  # the next Ctrl-C is a KeyboardInterrupt: exit
        print("\n(stopping the turn; Ctrl-C again to quit)", file=sys.stderr, flush=True)
        stopping.append(loop.create_task(backend.stop_turn(sid)))

    try:
        loop.add_signal_handler(signal.SIGINT, first_press)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        pass


async def chat(backend: Backend, text: str, session: str | None, agent: str, wait: float, stream: bool = True) -> int:
    sid = session or await backend.create(agent)
    print(f"session: {sid}", file=sys.stderr)
    _stop_on_ctrl_c(backend, sid)
    streamed: list[str] = []
    if stream and isinstance(backend, ApiBackend):

        def show(piece: str) -> None:
            streamed.append(piece)
            print(piece, end="", flush=True)

        result = await backend.send_streaming(sid, text, wait, show)
        if streamed:
            print(flush=True)  # the streamed text ends its line; the final reply follows only if it differs
    else:
        result = await backend.send(sid, text, wait)
    if isinstance(result, PendingTurn):
        if result.status == "queued_behind_approval":
            print(f"(message {result.message_id} is queued behind a pending approval: {result.detail})")
        else:
            print(f"(no reply within {wait:.0f}s; message {result.message_id} is queued and will be answered)")
        return 3
    for call in result.tool_calls:
        print(f"[tool {call.name} {call.args} -> {call.result}]", file=sys.stderr)
    if result.status in ("cancelled", "interrupted"):
        print(f"({result.status}: turn {result.turn} stopped; kept {len(result.reply)} characters)", file=sys.stderr)
    # the workflow's answer is authoritative: printed unless the stream already showed exactly it
    if "".join(streamed).strip() != result.reply.strip():
        print(result.reply)
    if result.status == "awaiting_approval":
        for pending in (await backend.view(sid)).pending_approvals:
            print(
                f"approval needed: {pending.summary} — approve with: impressox approve {pending.call_id} "
                f"(or: impressox reject {pending.call_id})"
            )
    return 0
