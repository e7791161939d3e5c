"""What a session shows about itself outside its history: a title and when it was last active.

Both go where a session list reads them without asking each session (visibility): the
workflow's memo, encoded like any payload (the codec keeps the title private), and needing no
registration on the server (a search attribute would fail the workflow task on a server that
lacks it, e.g. the time-skipping test server). Runs inside the workflow (deterministic).
"""

from __future__ import annotations

import hashlib

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.schemas import SessionState

#: memo keys of the session's title and last activity (ISO 8601)
TITLE = "title"
LAST_ACTIVE = "last_active_at"
TITLE_CHARS = 80


def clip_title(text: str) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= TITLE_CHARS else one_line[: TITLE_CHARS - 1] + "…"


def note_message(state: SessionState, text: str) -> None:
    """A message is being answered: the session was active now; its first message titles it."""
    now = workflow.now()
    state.last_active_at = now
    workflow.upsert_memo({LAST_ACTIVE: now.isoformat()})
    if not state.title:
        set_title(state, text)


def set_title(state: SessionState, title: str) -> None:
    state.title = clip_title(title)
    workflow.upsert_memo({TITLE: state.title})


def call_tag(session_id: str) -> str:
    """A short, stable tag of the session for its call ids (6 hex characters of a digest)."""
    return hashlib.sha256(session_id.encode()).hexdigest()[:6]
