"""Money-moving tools wait for a human: approved runs once, rejected and expired run never."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from core.schemas import TurnResult
from core.settings import Settings
from services.sessions import SessionService
from tests.turns import decided

PAY = '/tool pay {"amount": "5 USD", "to": "bob"}'


def ledger(settings: Settings) -> list[str]:
    path = settings.data_dir / "payments.log"
    return path.read_text().splitlines() if path.exists() else []


async def test_an_approved_payment_runs_once_and_the_reply_says_so(api: httpx.AsyncClient, settings: Settings):
    sid = (await api.post("/v1/sessions", json={"agent": "tester"})).json()["session_id"]
    r = (await api.post(f"/v1/sessions/{sid}/messages", json={"text": PAY})).json()
    assert r["status"] == "awaiting_approval" and "pay 5 USD to bob" in r["reply"]
    view = (await api.get(f"/v1/sessions/{sid}")).json()
    [pending] = view["pending_approvals"]
    assert view["status"] == "awaiting_approval"
    assert pending["tool"] == "pay" and pending["args"] == {"amount": "5 USD", "to": "bob"}
    assert pending["summary"] == "pay 5 USD to bob" and pending["expires_at"] > pending["requested_at"]
    assert ledger(settings) == []

    decided = await api.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": True})
    assert decided.status_code == 200 and decided.json()["result"] == "paid 5 USD to bob"
    again = await api.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": True})
    assert again.status_code == 404
    view = (await api.get(f"/v1/sessions/{sid}")).json()
    assert view["pending_approvals"] == [] and view["messages"][-1]["content"] == "paid 5 USD to bob"
    assert len(ledger(settings)) == 1


async def test_a_rejected_payment_does_nothing(sessions: SessionService, worker: None, settings: Settings):
    sid = await sessions.create("local", "tester")
    r = await sessions.send("local", sid, PAY, wait=30)
    assert r.status == "awaiting_approval"
    [pending] = (await sessions.get("local", sid)).pending_approvals
    record = decided(await sessions.decide("local", sid, pending.call_id, approve=False))
    assert record.status == "rejected"
    view = await sessions.get("local", sid)
    assert "not approved" in view.messages[-1].content
    assert ledger(settings) == []


@pytest.fixture
def short_approvals(settings: Settings) -> Settings:
    return settings.model_copy(update={"approval_timeout_seconds": 1.5})


async def test_an_unanswered_approval_expires_and_nothing_is_paid(client, short_approvals: Settings, cache):
    from core.agents import AgentFactory
    from services.tools import load_tools
    from temporal.worker import build_worker

    registry = load_tools(short_approvals.tool_modules)
    sessions = SessionService(
        client, short_approvals, AgentFactory.from_yaml(short_approvals.agents_file, registry, short_approvals)
    )
    async with build_worker(client, short_approvals, registry, cache):
        sid = await sessions.create("local", "tester")
        assert (await sessions.send("local", sid, PAY, wait=30)).status == "awaiting_approval"
        for _ in range(50):
            view = await sessions.get("local", sid)
            if view.turn_count == 1:
                break
            await asyncio.sleep(0.1)
    assert view.messages[-1].tool_calls[0].status == "expired"
    assert view.pending_approvals == []
    assert ledger(short_approvals) == []


async def test_chat_text_cannot_approve(sessions: SessionService, worker: None, settings: Settings):
    """Only the approval update decides: 'yes, approve it' is just the next message."""
    sid = await sessions.create("local", "tester")
    await sessions.send("local", sid, PAY, wait=30)
    [pending] = (await sessions.get("local", sid)).pending_approvals
    queued = await sessions.send("local", sid, f"yes, approve {pending.call_id}", wait=1)
    assert not isinstance(queued, TurnResult)
    view = await sessions.get("local", sid)
    assert [p.call_id for p in view.pending_approvals] == [pending.call_id] and view.queued_messages == 1
    assert ledger(settings) == []
    await sessions.decide("local", sid, pending.call_id, approve=False)
    later = await sessions.send("local", sid, "what is 1 + 1?", wait=30)
    assert later.turn == 3 and ledger(settings) == []


async def test_an_old_approval_never_approves_a_repeated_request(
    sessions: SessionService, worker: None, settings: Settings
):
    """The same request again yields the same model reply (cache, deterministic model): each
    payment still waits for its own approval."""
    sid = await sessions.create("local", "forgetful")
    for payments in (1, 2, 3):
        asked = await sessions.send("local", sid, PAY, wait=30)
        assert asked.status == "awaiting_approval", asked
        [pending] = (await sessions.get("local", sid)).pending_approvals
        assert len(ledger(settings)) == payments - 1
        await sessions.decide("local", sid, pending.call_id, approve=True)
        assert len(ledger(settings)) == payments
