"""Turn control end to end: the real API over HTTP, a real worker, the Temporal dev server and Redis.

Stop a streamed answer (the text shown is kept, the stream ends ``cancelled``, the next turn is
fine), a cancel racing the turn's own end (one outcome), and a withdrawn approval (a late approve
answers 409 and nothing is paid). The policies and the shield are covered workflow-side in
tests/workflows/test_turn_control.py; the acceptance check turns-control drives them over HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.client import Client

from core.errors import TurnConflictError
from core.settings import Settings
from services.sessions import SessionService
from tests.test_approvals import PAY, ledger
from tests.test_streaming import live_stack, new_session, read_events, shown_text
from tests.turns import done


async def test_stop_mid_stream_keeps_the_shown_text_and_the_next_turn_is_answered(
    client: Client, settings: Settings
) -> None:
    slow = settings.model_copy(update={"offline_token_delay_ms": 100.0})
    async with live_stack(client, slow) as http:
        sid = await new_session(http, "tester")
        body = {"text": '/tool long_text {"chars": 29999}', "message_id": "m1"}
        async with http.stream("POST", f"/v1/sessions/{sid}/messages?stream=true", json=body) as r:
            lines = r.aiter_lines()
            first = await read_events(r, limit=4, lines=lines)  # tool_call, tool_result, two tokens
            stop = asyncio.create_task(http.post(f"/v1/sessions/{sid}/turns/current/cancel"))
            rest = [e async for e in _until_terminal(r, lines)]
        stopped = await stop
        assert stopped.status_code == 200, stopped.text
        events = first + rest
        assert events[-1][1] == "cancelled" and events[-1][2] == stopped.json()
        shown = shown_text(events)
        assert stopped.json()["status"] == "cancelled" and stopped.json()["reply"] == shown
        assert 0 < len(shown) < 29999
        view = (await http.get(f"/v1/sessions/{sid}")).json()
        answer = next(m for m in view["messages"] if m["role"] == "assistant")
        assert answer["status"] == "cancelled" and answer["content"] == shown
        again = await http.post(f"/v1/sessions/{sid}/turns/current/cancel")
        assert again.status_code == 409 and again.json()["status"] == "cancelled"
        nxt = await http.post(f"/v1/sessions/{sid}/messages?wait=30", json={"text": "what is 6 * 7?"})
        assert nxt.status_code == 200 and "42" in nxt.json()["reply"]


async def _until_terminal(r: httpx.Response, lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str, dict]]:
    cur: dict[str, str] = {}
    async for line in lines:
        if not line:
            if "data" in cur:
                event = (cur.get("id", ""), cur.get("event", "message"), json.loads(cur["data"]))
                yield event
                if event[1] in ("done", "cancelled", "interrupted"):
                    return
            cur = {}
        elif not line.startswith(":"):
            key, _, value = line.partition(":")
            cur[key] = value.removeprefix(" ")


async def test_a_cancel_racing_the_turn_s_own_end_has_one_outcome(sessions: SessionService, worker: None) -> None:
    sid = await sessions.create("local", "tester")
    for i in range(6):
        sent = await sessions.send("local", sid, f"hello number {i}", wait=0)
        outcome: str
        try:
            outcome = (await sessions.turns.cancel("local", sid, sent.message_id)).status
        except TurnConflictError as exc:
            outcome = str(exc.info["status"])
        answered = await sessions.send("local", sid, f"hello number {i}", wait=30, message_id=sent.message_id)
        assert outcome == done(answered).status and outcome in ("done", "cancelled")
    assert "42" in done(await sessions.send("local", sid, "what is 6 * 7?", wait=30)).reply


async def test_a_stopped_turn_withdraws_its_approval_and_a_late_approve_is_refused(
    sessions: SessionService, worker: None, settings: Settings
) -> None:
    sid = await sessions.create("local", "tester")
    waiting = done(await sessions.send("local", sid, PAY, wait=30))
    assert waiting.status == "awaiting_approval"
    [pending] = (await sessions.get("local", sid)).pending_approvals
    stopped = await sessions.turns.cancel("local", sid)
    assert stopped.status == "cancelled" and [c.status for c in stopped.tool_calls] == ["withdrawn"]
    assert "nothing was" in stopped.reply
    with pytest.raises(TurnConflictError):
        await sessions.decide("local", sid, pending.call_id, approve=True)
    assert ledger(settings) == []
