"""Scheduled agent turns on the real dev server (the time-skipping server has no Schedules):
answers arrive as notifications, pause/trigger/delete behave, each user sees only their own;
platform periodic tasks are reconciled idempotently."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from automations.tasks import TaskRegistry
from core.agents import AgentFactory
from core.errors import NotFoundError
from core.settings import Settings
from services.alerts import AlertCreate, AlertService
from services.schedules import ScheduleCreate, ScheduleService, reconcile_periodic_tasks, task_schedule_id
from services.tools import load_tools
from tests.conftest import make_settings


@pytest.fixture
def settings(temporal_server: Any, redis_server: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """A user of this test's own: inboxes are per user on the shared server. Overrides come by
    indirect parametrization (``@pytest.mark.parametrize("settings", [{...}], indirect=True)``)."""
    # schedules every 2 s here, so the tests end in seconds (the deployment's minimum is 60 s)
    overrides = {"schedule_min_interval_seconds": 1, **getattr(request, "param", {})}
    return make_settings(
        temporal_server, redis_server.url, tmp_path, local_user=f"u-{uuid.uuid4().hex[:8]}", **overrides
    )


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if value := await check():
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.2)


async def schedule_notes(api: httpx.AsyncClient, sid: str) -> list[dict]:
    r = await api.get("/v1/notifications")
    return [n for n in r.json() if n["kind"] == "schedule" and n["data"].get("schedule_id") == sid]


async def test_a_schedule_answers_into_notifications_and_obeys_pause_trigger_delete(
    api: httpx.AsyncClient, client: Client
) -> None:
    r = await api.post("/v1/schedules", json={"prompt": "what is 6 * 7?", "every_seconds": 2, "timezone": "UTC"})
    assert r.status_code == 201, r.text
    sid, next_run = r.json()["schedule_id"], r.json()["next_run_at"]
    assert next_run
    notes = await eventually(lambda: _at_least(api, sid, 2))
    assert "42" in notes[0]["text"] and notes[0]["data"]["fired_at"] and notes[0]["data"]["status"] == "done"

    one = (await api.get(f"/v1/schedules/{sid}")).json()
    assert one["every_seconds"] == 2 and one["prompt"] == "what is 6 * 7?" and not one["paused"]
    assert any(run["reply"] and "42" in run["reply"] for run in one["recent_runs"])
    assert sid in [s["schedule_id"] for s in (await api.get("/v1/schedules")).json()]
    # a Temporal Schedule, owner as a search attribute
    desc = await client.get_schedule_handle(sid).describe()
    assert desc.typed_search_attributes and any(
        p.value == one["schedule_id"].split(":")[1] for p in desc.typed_search_attributes
    )

    assert (await api.post(f"/v1/schedules/{sid}/pause")).json()["paused"] is True
    await asyncio.sleep(3)  # a firing in flight may still land
    base = len(await schedule_notes(api, sid))
    await asyncio.sleep(5)
    assert len(await schedule_notes(api, sid)) == base
    assert (await api.post(f"/v1/schedules/{sid}/trigger")).status_code == 200
    await eventually(lambda: _at_least(api, sid, base + 1))
    await asyncio.sleep(2)
    assert len(await schedule_notes(api, sid)) == base + 1

    assert (await api.delete(f"/v1/schedules/{sid}")).status_code == 204
    assert (await api.get(f"/v1/schedules/{sid}")).status_code == 404
    assert sid not in [s["schedule_id"] for s in (await api.get("/v1/schedules")).json()]


async def _at_least(api: httpx.AsyncClient, sid: str, n: int) -> list[dict] | None:
    notes = [x for x in await schedule_notes(api, sid) if "42" in x["text"]]
    return notes if len(notes) >= n else None


async def test_a_schedule_whose_session_was_ended_starts_a_fresh_one(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/schedules", json={"prompt": "what is 6 * 7?", "cron": "0 9 1 1 *", "timezone": "UTC"})
    assert r.status_code == 201, r.text
    sid = r.json()["schedule_id"]
    try:
        assert (await api.post(f"/v1/schedules/{sid}/trigger")).status_code == 200
        [first] = await eventually(lambda: _at_least(api, sid, 1))
        session = first["data"]["session_id"]
        assert (await api.delete(f"/v1/sessions/{session}")).status_code == 204
        # a firing while the last run is still finishing is skipped (overlap SKIP): let it end
        await eventually(lambda: _runs(api, sid, "completed"))

        assert (await api.post(f"/v1/schedules/{sid}/trigger")).status_code == 200
        notes = await eventually(lambda: _at_least(api, sid, 2))
        assert all(n["data"]["status"] == "done" for n in notes)
        assert notes[-1]["data"]["session_id"] == session  # the same id, reopened: a new run
        view = await api.get(f"/v1/sessions/{session}")
        assert view.status_code == 200, view.text
        # an ended session reopens with its transcript (and turn count) kept
        assert view.json()["turn_count"] == 2 and "42" in view.json()["messages"][-1]["content"]
    finally:
        await api.delete(f"/v1/schedules/{sid}")


@pytest.mark.parametrize("settings", [{"max_running_sessions_per_user": 1}], indirect=True)
async def test_a_user_at_the_session_cap_is_told_why_the_schedule_is_silent(api: httpx.AsyncClient) -> None:
    assert (await api.post("/v1/sessions", json={"agent": "assistant"})).status_code == 201  # the cap: 1
    r = await api.post("/v1/schedules", json={"prompt": "what is 6 * 7?", "cron": "0 9 1 1 *", "timezone": "UTC"})
    sid = r.json()["schedule_id"]
    try:
        assert (await api.post(f"/v1/schedules/{sid}/trigger")).status_code == 200
        [note] = await eventually(lambda: schedule_notes(api, sid))
        assert note["data"]["status"] == "failed"
        assert "running sessions" in note["text"] and "end one first" in note["text"], note["text"]

        runs = await eventually(lambda: _runs(api, sid, "failed"))
        assert "running sessions" in (runs[0]["error"] or "")
    finally:
        await api.delete(f"/v1/schedules/{sid}")


async def _runs(api: httpx.AsyncClient, sid: str, status: str) -> list[dict]:
    return [run for run in (await api.get(f"/v1/schedules/{sid}")).json()["recent_runs"] if run["status"] == status]


async def test_bad_schedules_are_refused(api: httpx.AsyncClient) -> None:
    for body in (
        {"prompt": "x"},
        {"prompt": "x", "cron": "0 9 * * *", "every_seconds": 5},
        {"prompt": "x", "cron": "0 9 * * *", "timezone": "Mars/Olympus"},
        {"prompt": "x", "every_seconds": 5, "agent": "nobody"},
    ):
        r = await api.post("/v1/schedules", json=body)
        assert r.status_code in (400, 404, 422), (body, r.status_code, r.text)


async def test_users_cannot_see_or_touch_each_others_schedules_and_alerts(
    client: Client, settings: Settings, worker: None
) -> None:
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    # a symbol of this test's own: a watch workflow lives on the task queue of the test that started it
    symbol = f"I{uuid.uuid4().hex[:6].upper()}"
    schedules = ScheduleService(client, settings, agents)
    alerts = AlertService(client, settings.model_copy(update={"alert_symbols": [symbol]}))
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    sid = (await schedules.create(alice, ScheduleCreate(prompt="what is 1+1", cron="0 9 * * *"))).schedule_id
    aid = (await alerts.create(alice, AlertCreate(kind="price", symbol=symbol, above=5000))).alert_id
    try:
        assert [s.schedule_id for s in await eventually(lambda: schedules.list(alice))] == [sid]
        assert await schedules.list(bob) == []
        for op in (schedules.get, schedules.pause, schedules.resume, schedules.trigger, schedules.delete):
            with pytest.raises(NotFoundError):
                await op(bob, sid)
        assert aid in [a.alert_id for a in await alerts.list(alice)]
        assert aid not in [a.alert_id for a in await alerts.list(bob)]
        for alert_op in (alerts.get, alerts.delete):
            with pytest.raises(NotFoundError):
                await alert_op(bob, aid)
        assert (await schedules.get(alice, sid)).paused is False  # untouched by bob
    finally:
        await schedules.delete(alice, sid)
        await alerts.delete(alice, aid)
    with pytest.raises(NotFoundError):
        await alerts.delete(alice, aid)


async def test_periodic_tasks_are_reconciled_idempotently(client: Client, settings: Settings) -> None:
    name = f"t-{uuid.uuid4().hex[:6]}"
    reg = TaskRegistry()

    @reg.periodic(name, every=timedelta(minutes=5))
    async def task(ctx: Any) -> str:
        return "done"

    mine = lambda r: {k: [n for n in v if n == name] for k, v in r.items()}  # noqa: E731
    assert mine(await reconcile_periodic_tasks(client, settings, reg.all()))["created"] == [name]
    assert mine(await reconcile_periodic_tasks(client, settings, reg.all()))["unchanged"] == [name]

    changed = TaskRegistry()
    changed.periodic(name, every=timedelta(minutes=10))(task)
    assert mine(await reconcile_periodic_tasks(client, settings, changed.all()))["updated"] == [name]
    desc = await client.get_schedule_handle(task_schedule_id(name)).describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(minutes=10)
    assert mine(await reconcile_periodic_tasks(client, settings, changed.all()))["unchanged"] == [name]

    assert mine(await reconcile_periodic_tasks(client, settings, []))["deleted"] == [name]
    ids = [s.id async for s in await client.list_schedules()]
    assert task_schedule_id(name) not in ids
