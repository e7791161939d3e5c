"""A freeze stops a schedule's money-moving turns (issue 21), on a real anvil with a real worker
process, through the API as a user sees it.

A schedule whose prompt is a transfer asks for an approval in its own session at each firing (a
schedule never moves money on its own). ``POST /v1/vault/freeze`` pauses the vault on-chain and
withdraws that pending approval (a late approve is refused); a firing while frozen asks nobody and
its notification says the vault is frozen; once the owner's wallet sends unpause(), a firing asks
for the approval again. The recipient's balance never changes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from chain.accounts import ANVIL_ACCOUNTS
from chain.deploy import upgrade
from core.settings import Settings
from devstack.anvil import Anvil
from devstack.processes import stop_process
from services.tools.chain import FROZEN
from tests.chain.test_chain_agent_transfer import balance, spent_logs
from tests.chain.test_funds_safety import owner_call, paused
from tests.conftest import TemporalServer, lifespan_in_one_task, make_settings, worker_process

RECIPIENT = ANVIL_ACCOUNTS[3].address
PROMPT = f"send 0.01 ETH to {RECIPIENT}"
#: generous: the machine running the suite is loaded
WAIT = 180.0


@pytest.fixture
async def v3(anvil: Anvil, data_dir: Path, deployment: dict[str, Any]) -> dict[str, Any]:
    """The module's vault upgraded to V3 (pause/unpause), before any worker reads it."""
    await upgrade(anvil.rpc_url, data_dir, implementation="AgentVaultV3")
    return deployment


@pytest.fixture
def chain_settings(
    temporal_server: TemporalServer, redis_server, anvil: Anvil, data_dir: Path, v3: dict[str, Any]
) -> Settings:
    # a user of this test's own (sessions and inboxes are per user on the shared Temporal server),
    # whose vault is the deployment's: the freeze withdraws this user's approvals only
    user = f"u-{uuid.uuid4().hex[:8]}"
    return make_settings(
        temporal_server,
        redis_server.url,
        data_dir,
        chain_rpc_url=anvil.rpc_url,
        agents_file=Path(__file__).parents[2] / "config" / "agents.yaml",
        local_user=user,
        chain_vault_user=user,
    )


@pytest.fixture
async def api(chain_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real API app in-process, and ``impressox worker`` as its own process on the same settings."""
    ready = chain_settings.data_dir / "freeze-schedules.ready"
    proc = worker_process(
        chain_settings,
        ready,
        extra_env={
            "IMPRESSOX_LOCAL_USER": chain_settings.local_user,
            "IMPRESSOX_CHAIN_VAULT_USER": chain_settings.chain_vault_user,
        },
    )
    try:

        async def started() -> bool:
            assert proc.poll() is None, f"the worker exited with {proc.returncode}"
            return ready.exists()

        await until(started, "the worker to start")
        app = create_app(chain_settings)
        async with lifespan_in_one_task(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=WAIT) as http:
                yield http
    finally:
        stop_process(proc)


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = WAIT) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await check()):
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"waited {timeout:.0f}s for {what}")
        await asyncio.sleep(0.2)
    return value


async def schedule_notes(api: httpx.AsyncClient, schedule_id: str) -> list[dict[str, Any]]:
    r = await api.get("/v1/notifications")
    assert r.status_code == 200, r.text
    return [n for n in r.json() if n["kind"] == "schedule" and n["data"].get("schedule_id") == schedule_id]


async def fire(api: httpx.AsyncClient, schedule_id: str, seen: set[str]) -> dict[str, Any]:
    """Trigger the schedule once; the new notification its run stores, once the run has ended (a
    firing while a run is still finishing would be skipped: overlap SKIP)."""
    runs = len((await api.get(f"/v1/schedules/{schedule_id}")).json()["recent_runs"])
    assert (await api.post(f"/v1/schedules/{schedule_id}/trigger")).status_code == 200

    async def new_note() -> dict[str, Any] | None:
        fresh = [n for n in await schedule_notes(api, schedule_id) if n["key"] not in seen]
        assert len(fresh) <= 1, fresh
        return fresh[0] if fresh else None

    note = await until(new_note, f"the notification of firing {len(seen) + 1}")
    seen.add(note["key"])

    async def ended() -> bool:
        recent = (await api.get(f"/v1/schedules/{schedule_id}")).json()["recent_runs"]
        return len(recent) > runs and all(run["status"] == "completed" for run in recent)

    await until(ended, f"run {len(seen)} to complete")
    return note


async def session_view(api: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    r = await api.get(f"/v1/sessions/{session_id}")
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_freeze_withdraws_a_schedules_approval_and_stops_its_transfers_until_the_owner_unfreezes(
    api: httpx.AsyncClient, anvil: Anvil, v3: dict[str, Any]
) -> None:
    vault = v3["vault"]
    paid, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, v3))
    r = await api.post("/v1/schedules", json={"prompt": PROMPT, "cron": "0 9 1 1 *", "timezone": "UTC"})
    assert r.status_code == 201, r.text
    schedule_id, seen = r.json()["schedule_id"], set[str]()
    try:
        # before the freeze: the firing asks for an approval in the schedule's session, left pending
        first = await fire(api, schedule_id, seen)
        assert first["data"]["status"] == "awaiting_approval", first
        session_id = first["data"]["session_id"]
        [pending] = (await session_view(api, session_id))["pending_approvals"]
        assert pending["args"]["to"] == RECIPIENT and pending["args"]["amount"] == "0.01", pending

        frozen = await api.post("/v1/vault/freeze")
        assert frozen.status_code == 200, frozen.text
        assert frozen.json()["frozen"] is True and frozen.json()["tx_hash"].startswith("0x"), frozen.json()
        assert frozen.json()["sessions_notified"] >= 1 and FROZEN in frozen.json()["message"]
        assert await paused(anvil, vault)

        # the schedule's pending approval is withdrawn; a late approve is refused, nothing is sent
        async def withdrawn() -> dict[str, Any] | None:
            view = await session_view(api, session_id)
            calls = [
                c for m in view["messages"] for c in m.get("tool_calls") or [] if c["call_id"] == pending["call_id"]
            ]
            return view if view["pending_approvals"] == [] and calls and calls[0]["status"] == "withdrawn" else None

        await until(withdrawn, "the schedule's approval to be withdrawn")
        late = await api.post(f"/v1/sessions/{session_id}/approvals/{pending['call_id']}", json={"approve": True})
        assert late.status_code == 409, late.text
        assert await balance(anvil, RECIPIENT) == paid

        # while frozen: a firing asks nobody, and what the user is told says why
        second = await fire(api, schedule_id, seen)
        assert FROZEN in second["text"] and FROZEN in second["data"]["answer"], second
        assert second["data"]["status"] == "done", second  # answered, nobody asked
        assert (await session_view(api, session_id))["pending_approvals"] == []
        runs = (await api.get(f"/v1/schedules/{schedule_id}")).json()["recent_runs"]
        assert any(FROZEN in (run["reply"] or "") for run in runs), runs
        assert await balance(anvil, RECIPIENT) == paid

        # the owner's wallet unfreezes: the next firing asks for an approval again
        await owner_call(anvil, vault, "unpause")
        assert not await paused(anvil, vault)
        third = await fire(api, schedule_id, seen)
        assert third["data"]["status"] == "awaiting_approval", third
        [again] = (await session_view(api, session_id))["pending_approvals"]
        assert again["call_id"] != pending["call_id"] and again["args"]["to"] == RECIPIENT, again
        rejected = await api.post(f"/v1/sessions/{session_id}/approvals/{again['call_id']}", json={"approve": False})
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text

        assert await balance(anvil, RECIPIENT) == paid
        assert len(await spent_logs(anvil, v3)) == spends
    finally:
        await api.delete(f"/v1/schedules/{schedule_id}")
        if await paused(anvil, vault):
            await owner_call(anvil, vault, "unpause")
