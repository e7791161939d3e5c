"""``impressox approve|reject CALL_ID`` and ``impressox sessions``: decide pending approvals and
list sessions from the terminal (through the API of a running stack, see ``cli/backend.py``)."""

from __future__ import annotations

from cli.backend import Backend
from core.errors import BadInputError, NotFoundError


async def decide(backend: Backend, call_id: str, approve: bool, session: str | None) -> int:
    sid = session or await find_session(backend, call_id)
    outcome = await backend.decide(sid, call_id, approve)
    verb = "approved" if approve else "rejected"
    if outcome.status == "running":
        print(f"{verb} {call_id} in {sid}; the call is still running (see `impressox sessions`)")
        return 0
    print(f"{verb} {call_id} in {sid}: {outcome.status}" + (f": {outcome.result}" if outcome.result else ""))
    return 1 if outcome.status == "error" else 0


async def cancel(backend: Backend, call_id: str, session: str | None) -> int:
    """``impressox cancel CALL_ID``: withdraw a transfer in its undo window (or awaiting approval)."""
    sid = session or await find_session(backend, call_id)
    outcome = await backend.cancel(sid, call_id)
    print(f"cancelled {call_id} in {sid}: {outcome.status}" + (f": {outcome.result}" if outcome.result else ""))
    return 0 if outcome.status == "cancelled" else 1


async def find_session(backend: Backend, call_id: str) -> str:
    """The one running session of the caller with ``call_id`` pending (newest sessions first)."""
    found = []
    listed = await backend.sessions()
    for s in sorted(listed, key=lambda s: s.started_at.timestamp() if s.started_at else 0, reverse=True):
        if s.status != "running":
            continue
        view = await backend.view(s.session_id)
        # a cancel finds a transfer in its undo window too
        waiting = {p.call_id for p in view.pending_approvals} | {t.call_id for t in view.scheduled_transfers}
        if call_id in waiting:
            found.append(s.session_id)
    if not found:
        raise NotFoundError(f"no pending approval {call_id!r} in your sessions (`impressox sessions` lists them)")
    if len(found) > 1:
        raise BadInputError(f"{call_id!r} is pending in {len(found)} sessions ({', '.join(found)}): pass --session")
    return found[0]


async def list_sessions(backend: Backend) -> int:
    listed = await backend.sessions()
    if not listed:
        print("no sessions yet (start one with `impressox chat`)")
        return 0
    for s in listed:
        started = s.started_at.strftime("%Y-%m-%d %H:%M") if s.started_at else "-"
        print(f"{s.session_id}  {s.agent or '-'}  {s.platform or '-'}  {s.status}  {started}")
    return 0
