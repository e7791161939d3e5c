"""Cost in USD and the daily budget, with the offline model priced (model_prices): every call's cost
in the turn's usage and in GET /v1/usage, a turn past the budget refused with 429, and the budget
exact (at most one turn's worth over) under 50 concurrent turns, and schedules past the budget
failing their runs with one notification a day."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from core.agents import AgentFactory
from core.errors import BudgetExceededError
from core.ledger import UsageLedger
from core.redis_keys import redis_prefix
from core.schemas import TurnResult
from core.settings import OFFLINE_MODEL, Settings
from devstack.redis_server import RedisServer
from services.sessions import SessionService
from services.tools import load_tools
from tests.conftest import TemporalServer, make_settings

PRICE = 0.001  # USD a token, in and out
PRICES = {OFFLINE_MODEL: {"input_cost_per_token": PRICE, "output_cost_per_token": PRICE}}


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    # a fresh data dir is a fresh deployment id: a Redis prefix (and so a ledger) of its own
    return make_settings(temporal_server, redis_server.url, tmp_path, model_prices=PRICES, budget_usd_per_day=0.05)


async def say(api: httpx.AsyncClient, sid: str, text: str) -> httpx.Response:
    return await api.post(f"/v1/sessions/{sid}/messages", json={"text": text})


async def test_turns_cost_dollars_until_the_budget_refuses_the_next(api: httpx.AsyncClient) -> None:
    sid = (await api.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
    turns = []
    for i in range(20):
        r = await say(api, sid, f"what is {123 + i} * 7?")
        assert r.status_code == 200, r.text
        body = r.json()
        assert str((123 + i) * 7) in body["reply"], "an answer was cut"
        turns.append(body["usage"])
        usage = (await api.get("/v1/usage", params={"group_by": "day"})).json()
        if usage["total"]["cost_usd"] >= 0.05:
            break
    refused = await say(api, sid, "what is 6 * 7?")
    assert refused.status_code == 429
    assert refused.json()["error"] == "budget" and refused.json()["resets_at"].endswith("T00:00:00Z")
    # each call priced at 0.001 USD a token; the ledger holds exactly what the turns reported
    tokens = sum(t["total_tokens"] for t in turns)
    assert sum(t["cost_usd"] for t in turns) == pytest.approx(PRICE * tokens)
    day = usage["rows"][0]
    assert day["total_tokens"] == tokens and day["cost_usd"] == pytest.approx(PRICE * tokens)
    assert day["turns"] == len(turns) and day["llm_cost_usd"] == day["cost_usd"]
    by_session = (await api.get("/v1/usage", params={"group_by": "session"})).json()["rows"]
    assert [(r["session"], r["total_tokens"]) for r in by_session] == [(sid, tokens)]
    by_agent = (await api.get("/v1/usage", params={"group_by": "agent"})).json()["rows"]
    assert [(r["agent"], r["cost_usd"]) for r in by_agent] == [("assistant", pytest.approx(PRICE * tokens))]


async def test_the_budget_holds_under_50_concurrent_turns(settings: Settings, client, worker: None) -> None:
    budget = 0.4  # a few turns' worth (a calculator turn is ~90 tokens: ~0.09 USD)
    s = settings.model_copy(update={"budget_usd_per_day": budget})
    agents = AgentFactory.from_yaml(s.agents_file, load_tools(s.tool_modules), s)
    sessions = SessionService(client, s, agents)
    sids = [await sessions.create("local", "assistant") for _ in range(10)]

    async def turn(i: int) -> TurnResult | None:
        try:
            r = await sessions.send("local", sids[i % 10], f"what is {200 + i} * 3?", wait=120)
        except BudgetExceededError:
            return None
        assert isinstance(r, TurnResult) and str((200 + i) * 3) in r.reply
        return r

    results = await asyncio.gather(*(turn(i) for i in range(50)))
    answered = [r for r in results if r is not None]
    assert answered and len(answered) < 50, "the budget refused nothing (or everything)"
    rows = await UsageLedger(s.redis_url, redis_prefix(s)).rows("local", "day")
    spent = rows[0]["cost_usd"]
    assert spent == pytest.approx(sum(r.usage.cost_usd for r in answered))
    # past the budget by at most one turn's worth
    assert spent < budget + max(r.usage.cost_usd for r in answered)
    if spent >= budget:  # spent: the next turn is refused
        with pytest.raises(BudgetExceededError):
            await sessions.send("local", sids[0], "what is 1 * 1?", wait=60)


async def test_usage_of_others_is_for_operators_only(settings: Settings, worker: None) -> None:
    from core.settings import ApiKey

    keyed = settings.model_copy(
        update={
            "api_keys": [ApiKey(user="alice", key="k-alice-0123456789"), ApiKey(user="root", key="k-root-0123456789")],
            "operator_users": ["root"],
        }
    )
    app = create_app(keyed)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            alice = {"Authorization": "Bearer k-alice-0123456789"}
            root = {"Authorization": "Bearer k-root-0123456789"}
            assert (await http.get("/v1/usage", headers=alice)).status_code == 200
            assert (await http.get("/v1/usage", params={"of": "*"}, headers=alice)).status_code == 403
            assert (await http.get("/v1/usage", params={"of": "*"}, headers=root)).status_code == 200
            assert (await http.get("/metrics", headers=alice)).status_code == 403
            assert (await http.get("/metrics", headers=root)).status_code == 200


async def test_schedules_past_the_budget_fail_their_runs_and_say_so_once_a_day(api: httpx.AsyncClient) -> None:
    sid = (await api.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
    for i in range(20):  # spend the day's budget in chat
        assert (await say(api, sid, f"what is {300 + i} * 7?")).status_code == 200
        if (await api.get("/v1/usage", params={"group_by": "day"})).json()["total"]["cost_usd"] >= 0.05:
            break
    schedules = []
    for prompt in ("what is 6 * 7?", "what is 8 * 9?"):
        r = await api.post("/v1/schedules", json={"prompt": prompt, "cron": "0 9 1 1 *", "timezone": "UTC"})
        assert r.status_code == 201, r.text
        schedules.append(r.json()["schedule_id"])
    try:
        # three firings refused, by two schedules (one after the other: a schedule skips a firing
        # while its last run is still going)
        for schedule, runs in ((schedules[0], 1), (schedules[1], 1), (schedules[0], 2)):
            assert (await api.post(f"/v1/schedules/{schedule}/trigger")).status_code == 200
            failed = await eventually(partial(_failed_runs, api, schedule, runs))
            assert all("budget" in (run["error"] or "") for run in failed), failed
        # every run failed, and the user was told once (not once per run)
        notes = [n for n in (await api.get("/v1/notifications")).json() if n["kind"] == "schedule"]
        assert len(notes) == 1, notes
        assert notes[0]["data"]["status"] == "failed" and "budget" in notes[0]["text"], notes[0]
        assert "not notified again" in notes[0]["text"]
    finally:
        for schedule in schedules:
            await api.delete(f"/v1/schedules/{schedule}")


async def _failed_runs(api: httpx.AsyncClient, schedule: str, at_least: int) -> list[dict]:
    runs = [r for r in (await api.get(f"/v1/schedules/{schedule}")).json()["recent_runs"] if r["status"] == "failed"]
    return runs if len(runs) >= at_least else []


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.3)
    return value
