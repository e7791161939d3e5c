"""Sessions with a title and an end: titled by their first message (or renamed), listed with
their last activity, ended by DELETE or by being idle, and reopened with their history by the
next message. Through the real API on a real Temporal server."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus

from api.app import create_app
from core.settings import Settings
from services.sessions import SessionService
from tests.test_api import new_session
from tests.test_approvals import PAY

ENDED = ("terminated", "completed")


async def listed(api: httpx.AsyncClient, sid: str, until: str | None = None, within: float = 60.0) -> dict:
    """The session's list entry, once visibility shows it with its title (in status ``until`` when
    given); what it shows after ``within`` seconds otherwise (the caller's assertion says what is wrong)."""
    entry: dict = {}
    deadline = time.monotonic() + within  # visibility is eventually consistent: seconds on a loaded machine
    while time.monotonic() < deadline:
        entry = next((s for s in (await api.get("/v1/sessions")).json() if s["session_id"] == sid), {})
        if entry and (until is None or entry["status"] == until) and entry.get("title"):
            return entry
        await asyncio.sleep(0.1)
    return entry


async def test_a_session_is_titled_by_its_first_message_and_can_be_renamed(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    assert (await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?"})).status_code == 200
    await api.post(f"/v1/sessions/{sid}/messages", json={"text": "and what is 2 + 2?"})
    entry = await listed(api, sid)
    assert entry["title"] == "what is 17 * 23?"
    assert entry["last_active_at"] >= entry["started_at"]
    view = (await api.get(f"/v1/sessions/{sid}")).json()
    assert view["title"] == "what is 17 * 23?" and view["last_active_at"]

    r = await api.patch(f"/v1/sessions/{sid}", json={"title": "  Sums  for\nhomework "})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "Sums for homework"
    for _ in range(100):
        if (await listed(api, sid))["title"] == "Sums for homework":
            break
        await asyncio.sleep(0.1)
    assert (await listed(api, sid))["title"] == "Sums for homework"
    assert (await api.patch(f"/v1/sessions/{sid}", json={"title": ""})).status_code == 422


async def test_an_ended_session_reopens_with_its_history_when_sent_to(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?"})
    assert (await api.delete(f"/v1/sessions/{sid}")).status_code == 204
    assert (await listed(api, sid, until="terminated"))["status"] == "terminated"

    r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 2 + 2?"})
    assert r.status_code == 200, r.text
    assert "4" in r.json()["reply"] and r.json()["turn"] == 2  # the turn count goes on
    view = (await api.get(f"/v1/sessions/{sid}")).json()
    assert [m["content"] for m in view["messages"] if m["role"] == "user"] == ["what is 17 * 23?", "what is 2 + 2?"]
    entry = await listed(api, sid, until="running")
    assert entry["status"] == "running" and entry["title"] == "what is 17 * 23?"
    assert [s["session_id"] for s in (await api.get("/v1/sessions")).json()].count(sid) == 1


async def test_a_session_just_ended_is_listed_beside_more_running_ones_than_the_list_holds(
    sessions: SessionService, worker: None
) -> None:
    owner = f"many{uuid.uuid4().hex[:8]}"
    first, *others = [await sessions.create(owner, "assistant") for _ in range(3)]
    for sid in [*others, first]:  # the first is the one last spoken to
        await sessions.send(owner, sid, "what is 2 + 2?", wait=30)
    await sessions.end(owner, first)
    listed_ids: list[str] = []
    for _ in range(100):  # visibility trails by a moment
        entries = await sessions.list(owner, limit=2)
        listed_ids = [s.session_id for s in entries]
        if entries and entries[0].status == "terminated":
            break
        await asyncio.sleep(0.1)
    # the most recently active first, though two sessions are still running and the list holds two
    assert listed_ids == [first, others[1]], listed_ids


@pytest.fixture
async def idle_api(settings: Settings, worker: None) -> AsyncIterator[httpx.AsyncClient]:
    """The API with sessions that close after 2 s without a message."""
    app = create_app(settings.model_copy(update={"session_idle_close_after": timedelta(seconds=2)}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
            yield http


async def test_an_idle_session_closes_itself_and_a_message_reopens_it(idle_api: httpx.AsyncClient) -> None:
    sid = await new_session(idle_api)
    await idle_api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?"})
    entry = await listed(idle_api, sid, until="completed")  # 2 s idle, then visibility's lag
    assert entry.get("status") == "completed", entry

    r = await idle_api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 2 + 2?"})
    assert r.status_code == 200, r.text
    assert "4" in r.json()["reply"] and r.json()["turn"] == 2
    assert (await idle_api.get(f"/v1/sessions/{sid}")).json()["turn_count"] == 2


async def test_a_session_awaiting_approval_does_not_close_while_idle(idle_api: httpx.AsyncClient) -> None:
    sid = await new_session(idle_api, agent="tester")
    r = (await idle_api.post(f"/v1/sessions/{sid}/messages", json={"text": PAY})).json()
    assert r["status"] == "awaiting_approval"
    await asyncio.sleep(4)  # twice the idle time: a pending approval is not idleness
    view = (await idle_api.get(f"/v1/sessions/{sid}")).json()
    assert view["status"] == "awaiting_approval"
    [pending] = view["pending_approvals"]
    decided = await idle_api.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": True})
    assert decided.json()["status"] == "ok"


async def test_a_reply_is_fetched_again_by_its_message_id_alone(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    sent = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?", "message_id": "m-17"})
    assert sent.status_code == 200
    again = await api.post(f"/v1/sessions/{sid}/messages?wait=5", json={"message_id": "m-17"})
    assert again.status_code == 200, again.text
    assert "391" in again.json()["reply"] and again.json()["turn"] == 1
    unknown = await api.post(f"/v1/sessions/{sid}/messages?wait=5", json={"message_id": "m-never"})
    assert unknown.status_code == 404, unknown.text


async def test_the_same_approval_in_two_sessions_has_two_call_ids(api: httpx.AsyncClient) -> None:
    ids = []
    for _ in range(2):
        sid = await new_session(api, agent="tester")
        assert (await api.post(f"/v1/sessions/{sid}/messages", json={"text": PAY})).json()["status"] == (
            "awaiting_approval"
        )
        ids.append((await api.get(f"/v1/sessions/{sid}")).json()["pending_approvals"][0]["call_id"])
    assert ids[0] != ids[1]


@pytest.fixture
async def compacting_api(settings: Settings, worker: None) -> AsyncIterator[httpx.AsyncClient]:
    """The API with sessions that compact (continue-as-new) after 1 s idle following a turn."""
    app = create_app(settings.model_copy(update={"session_idle_compact_after": timedelta(seconds=1)}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
            yield http


async def current_run(client: Client, sid: str, other_than: str | None = None, within: float = 30.0) -> str:
    """The session's running run id (one other than ``other_than`` once there is one, else the last seen)."""
    run_id = ""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        described = await client.get_workflow_handle(sid).describe()
        run_id = described.run_id
        if described.status == WorkflowExecutionStatus.RUNNING and run_id != other_than:
            return run_id
        await asyncio.sleep(0.2)
    return run_id


async def test_an_idle_session_sheds_its_history_and_keeps_its_conversation(
    compacting_api: httpx.AsyncClient, client: Client
) -> None:
    api = compacting_api
    sid = await new_session(api)
    sent = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?", "message_id": "m-17"})
    assert sent.status_code == 200, sent.text
    first = await current_run(client, sid)
    long_history = len((await client.get_workflow_handle(sid, run_id=first).fetch_history()).events)
    second = await current_run(client, sid, other_than=first)  # 1 s idle after the turn: a new run
    assert second != first, "the idle session never continued as new"
    short_history = len((await client.get_workflow_handle(sid, run_id=second).fetch_history()).events)
    assert short_history < long_history / 3, (short_history, long_history)  # what an evicted session replays

    await asyncio.sleep(2)  # a run that took no turn has nothing to shed: it stays
    assert await current_run(client, sid) == second
    view = (await api.get(f"/v1/sessions/{sid}")).json()
    assert view["turn_count"] == 1 and view["title"] == "what is 17 * 23?"
    assert [m["content"] for m in view["messages"] if m["role"] == "user"] == ["what is 17 * 23?"]
    again = await api.post(f"/v1/sessions/{sid}/messages?wait=5", json={"message_id": "m-17"})
    assert again.status_code == 200 and "391" in again.json()["reply"], again.text  # answered once, still known

    r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 2 + 2?"})
    assert r.status_code == 200, r.text
    assert "4" in r.json()["reply"] and r.json()["turn"] == 2
