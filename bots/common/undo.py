"""The undo window in a chat, the same on both bots: an approved transfer waiting out its window
shows when it will be sent with a Cancel button; the asker's press cancels it through the session
service (as ``POST /v1/sessions/<id>/approvals/<call_id>/cancel`` does), a late press says so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from core.bots import ApprovalButton
from core.errors import BadInputError, NotFoundError
from core.schemas import ToolCallRecord
from services.chats import ChatService, call_reference

NOT_YOURS = "Only the person who asked can cancel this."
CANCELLED = "Cancelled: nothing was sent."
ALREADY_CANCELLED = "Already cancelled: nothing was sent."
SENT = "Too late: this transfer was already sent."
OVER = "Too late: the undo window is over."


def scheduled(record: ToolCallRecord | None, session_id: str, summary: str) -> tuple[str, ApprovalButton] | None:
    """The chat text and Cancel button of a decision that put a transfer in its undo window
    (None: it was not scheduled, the chat shows the turn's reply as before)."""
    if record is None or record.status != "scheduled" or record.executes_at is None:
        return None
    left = max(0, round((record.executes_at - datetime.now(UTC)).total_seconds()))
    text = (
        f"Approved: {summary}. It will be sent at {record.executes_at.astimezone(UTC):%H:%M:%S} UTC "
        f"(in {left} s); Cancel stops it."
    )
    return text, ApprovalButton(session_id=session_id, call_id=record.call_id, summary=summary, cancel=True)


async def decide_pressed(
    chats: ChatService, owner: str, session_id: str, call_id: str, approve: bool
) -> tuple[str, ApprovalButton] | None:
    """An Approve / Reject press decides through the session service; for a transfer it put in its
    undo window, the text and Cancel button the pressed message turns into."""
    view = await chats.sessions.get(owner, session_id)
    summary = next((p.summary for p in view.pending_approvals if p.call_id == call_id), "the transfer")
    record = await chats.sessions.decide(owner, session_id, call_id, approve, wait=60)
    return scheduled(record, session_id, summary)


@dataclass
class CancelOutcome:
    text: str
    #: the press cancelled the transfer (the message loses its button and says so)
    cancelled: bool = False
    #: the press was refused or too late (shown as an alert / ephemeral answer)
    done: bool = False


async def cancel_pressed(chats: ChatService, platform: str, user_id: str, suffix: str, call_ref: str) -> CancelOutcome:
    """A Cancel press: only the asker's counts (the presser's own owner completes the session id, so a
    stranger's press points at a session that is not theirs); the cancel goes through the session service."""
    owner = chats.owner(await chats.identity(platform, user_id))
    sid = f"{platform}:{owner}:{suffix}"
    try:
        view = await chats.sessions.get(owner, sid)
    except (NotFoundError, BadInputError):
        return CancelOutcome(NOT_YOURS)
    waiting = next((c.call_id for c in view.scheduled_transfers if call_reference(c.call_id) == call_ref), None)
    if waiting is not None:
        try:
            record = await chats.sessions.cancel_transfer(owner, sid, waiting)
        except NotFoundError:  # the window ended between the look and the cancel
            view = await chats.sessions.get(owner, sid)
        else:
            if record.status == "cancelled":
                return CancelOutcome(CANCELLED, cancelled=True)
            return _late(record)
    calls = [c for m in view.messages for c in m.tool_calls if call_reference(c.call_id) == call_ref]
    if not calls:
        return CancelOutcome(OVER, done=True)
    return _late(calls[-1])


def _late(record: ToolCallRecord) -> CancelOutcome:
    if record.status in ("cancelled", "withdrawn"):
        return CancelOutcome(ALREADY_CANCELLED, done=True)
    if record.status == "ok":
        return CancelOutcome(SENT, done=True)
    return CancelOutcome(OVER, done=True)
