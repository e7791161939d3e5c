"""``impressox chat "TEXT"``: one message to a session, the reply on stdout, any approval it
waits for with the command that decides it.

Like a shell's history, a chat continues the session the last ``impressox chat`` used (per API
and key, remembered in the data dir, see ``cli/credentials.py``) unless ``--new`` or
``--session`` says otherwise; an ended session reopens when it is sent to.

Ctrl-C once stops the turn on the server: the command prints what was kept and exits 130, as an
interrupted command does (a script does not take the cut answer for a whole one); twice exits at
once.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from cli import credentials
from cli.backend import ApiBackend, Backend
from core.errors import ImpressoxError, NotFoundError
from services.sessions import PendingTurn


def _stop_on_ctrl_c(backend: Backend, sid: str) -> list[asyncio.Task[object]]:
    """Ctrl-C once stops the turn (the reply then ends with what was kept); twice exits. Returns
    the stop requests made (none: Ctrl-C was not pressed)."""
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
    return stopping


@dataclass
class SessionMemory:
    """Where the last chat's session is remembered; ``fresh``: start a new one (``--new``)."""

    data_dir: Path | None = None
    key: str | None = None
    fresh: bool = False

    def recall(self, where: str, agent: str) -> str | None:
        if self.fresh or self.data_dir is None:
            return None
        last = credentials.last_session(self.data_dir, where, self.key)
        # a session of another agent is not the one this chat asks for
        if last and last.get("agent", agent) == agent:
            return last.get("session_id")
        return None

    def keep(self, where: str, agent: str, session_id: str | None) -> None:
        if self.data_dir is not None:
            credentials.remember_session(self.data_dir, where, self.key, session_id, agent)


async def chat(
    backend: Backend,
    text: str,
    session: str | None,
    agent: str,
    wait: float,
    stream: bool = True,
    memory: SessionMemory | None = None,
) -> int:
    memory = memory or SessionMemory()
    sid = session or memory.recall(backend.where, agent)
    if sid is None:
        sid = await backend.create(agent)
    try:
        return await _send(backend, sid, text, wait, stream)
    except NotFoundError:
        if session is not None or sid is None:
            raise
        # the remembered session is gone (another stack, a wiped server): start a new one
        memory.keep(backend.where, agent, None)
        sid = await backend.create(agent)
        return await _send(backend, sid, text, wait, stream)
    finally:
        if session is None:
            memory.keep(backend.where, agent, sid)


async def _send(backend: Backend, sid: str, text: str, wait: float, stream: bool) -> int:
    print(f"session: {sid}", file=sys.stderr)
    stopping = _stop_on_ctrl_c(backend, sid)
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
    for request in stopping:  # its failure said here, not left in a task nobody reads
        try:
            await request
        except ImpressoxError as exc:
            print(f"(could not stop the turn: {exc})", file=sys.stderr)
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
    if result.status == "failed":
        return 4  # the turn failed (the reply says why): scripts must not take it for an answer
    if stopping and result.status in ("cancelled", "interrupted"):
        return 130  # stopped by Ctrl-C: the exit status of an interrupted command
    return 0
