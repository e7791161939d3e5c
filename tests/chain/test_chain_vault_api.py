"""Two users with API keys, each with their own vault, through the real API, worker, listener,
Temporal dev server and anvil: registration, reads, deposits, transfers, and the cross-user matrix
(bob tried on everything of alice's: 404 or refusal, nothing leaked, no funds moved)."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client

from api.app import create_app
from core.cache import Cache
from core.settings import ApiKey, Settings
from services.tools import load_tools
from temporal.listener_main import run_listener
from temporal.worker import build_worker
from tests.conftest import make_settings

ALICE_WALLET = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
BOB_WALLET = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
PAYEE = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
ETH = 10**18


@pytest.fixture
def users() -> dict[str, str]:
    """Unique user names (inboxes are shared by the whole Temporal server) -> their API keys."""
    suffix = uuid.uuid4().hex[:6]
    return {f"{name}-{suffix}": f"{name}-key-{suffix}-0123456789" for name in ("alice", "bob", "carol")}


@pytest.fixture
def stack_settings(temporal_server, redis_server, tmp_path: Path, anvil, deployment, data_dir, users) -> Settings:
    shutil.copy(data_dir / "deployments.json", tmp_path / "deployments.json")
    return make_settings(
        temporal_server,
        redis_server.url,
        tmp_path,
        chain_rpc_url=anvil.rpc_url,
        chain_poll_seconds=0.1,
        agents_file=Path(__file__).parents[2] / "config" / "agents.yaml",
        api_keys=[ApiKey(user=u, key=SecretStr(k)) for u, k in users.items()],
    )


@pytest.fixture
async def http(client: Client, stack_settings: Settings, cache: Cache) -> AsyncIterator[httpx.AsyncClient]:
    """API + worker + listener on the test's settings."""
    worker = build_worker(client, stack_settings, load_tools(stack_settings.tool_modules), cache)
    stop, ready = asyncio.Event(), asyncio.Event()
    async with worker:
        listener = asyncio.create_task(run_listener(stack_settings, stop, ready=ready))
        await asyncio.wait_for(ready.wait(), 60)
        app = create_app(stack_settings)
        try:
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://api", timeout=90) as c:
                    yield c
        finally:
            stop.set()
            await asyncio.wait_for(listener, 30)


def as_(users: dict[str, str], name: str) -> dict[str, str]:
    user = next(u for u in users if u.startswith(name))
    return {"Authorization": f"Bearer {users[user]}"}


async def wait_for_notes(http: httpx.AsyncClient, headers: dict[str, str], timeout: float = 30) -> list[Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        notes = (await http.get("/v1/notifications", headers=headers)).json()
        if notes:
            return notes
        await asyncio.sleep(0.2)
    return []


async def test_each_user_has_their_own_vault_and_cannot_reach_anothers(http, users, w3) -> None:
    alice, bob, carol = (as_(users, n) for n in ("alice", "bob", "carol"))

    # registration: 201 then 200 with the same address; different users, different vaults
    r = await http.post("/v1/vault", json={"owner_address": ALICE_WALLET}, headers=alice)
    assert r.status_code == 201, r.text
    a = r.json()["address"]
    again = await http.post("/v1/vault", json={"owner_address": ALICE_WALLET}, headers=alice)
    assert again.status_code == 200 and again.json()["address"] == a
    r = await http.post("/v1/vault", json={"owner_address": BOB_WALLET}, headers=bob)
    assert r.status_code == 201
    b = r.json()["address"]
    assert a != b
    assert (await http.post("/v1/vault", json={"owner_address": BOB_WALLET}, headers=alice)).status_code == 409
    for bad in ("0x123", ALICE_WALLET.lower().replace("0x15d", "0x15D"), 42, ALICE_WALLET + "00"):
        assert (await http.post("/v1/vault", json={"owner_address": bad}, headers=carol)).status_code == 422, bad
    assert (await http.post("/v1/vault", json={"owner_address": ALICE_WALLET})).status_code == 401

    # reads: each sees their own; no vault is a clear 404
    mine = (await http.get("/v1/vault", headers=alice)).json()
    assert mine["address"] == a and mine["owner"] == ALICE_WALLET
    eth = next(t for t in mine["tokens"] if t["symbol"] == "ETH")
    assert (eth["balance"], eth["daily_limit"], eth["spent_today"]) == ("0", "1", "0")
    assert a.lower() not in (await http.get("/v1/vault", headers=bob)).text.lower()
    none = await http.get("/v1/vault", headers=carol)
    assert none.status_code == 404 and "POST /v1/vault" in none.json()["error"]

    # a deposit to alice's vault notifies alice only
    await w3.eth.wait_for_transaction_receipt(
        await w3.eth.send_transaction({"from": ALICE_WALLET, "to": a, "value": ETH})
    )
    [note] = await wait_for_notes(http, alice)
    assert note["text"].startswith("Deposit of 1 ETH to your vault") and note["data"]["vault"] == a
    assert (await http.get("/v1/notifications", headers=bob)).json() == []

    # a vault registered while the listener runs is followed too
    r = await http.post("/v1/vault", json={"owner_address": PAYEE}, headers=carol)
    c = r.json()["address"]
    await w3.eth.wait_for_transaction_receipt(
        await w3.eth.send_transaction({"from": PAYEE, "to": c, "value": ETH // 2})
    )
    [carols] = await wait_for_notes(http, carol)
    assert carols["data"]["vault"] == c and len((await http.get("/v1/notifications", headers=alice)).json()) == 1

    # alice asks for a transfer; bob can neither see nor decide it; alice's approval moves her funds only
    sid = (await http.post("/v1/sessions", json={"agent": "assistant"}, headers=alice)).json()["session_id"]
    asked = await http.post(
        f"/v1/sessions/{sid}/messages?wait=30", json={"text": f"send 0.01 ETH to {PAYEE}"}, headers=alice
    )
    assert asked.json()["status"] == "awaiting_approval", asked.text
    [pending] = (await http.get(f"/v1/sessions/{sid}", headers=alice)).json()["pending_approvals"]
    before = {x: await w3.eth.get_balance(x) for x in (a, b, PAYEE)}
    assert (await http.get(f"/v1/sessions/{sid}", headers=bob)).status_code == 404
    decided = await http.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": True}, headers=bob)
    assert decided.status_code == 404
    assert {x: await w3.eth.get_balance(x) for x in before} == before
    ok = await http.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": True}, headers=alice)
    assert ok.status_code == 200, ok.text
    moved = {x: await w3.eth.get_balance(x) - before[x] for x in before}
    assert moved == {a: -(10**16), b: 0, PAYEE: 10**16}
    spent = next(t for t in (await http.get("/v1/vault", headers=alice)).json()["tokens"] if t["symbol"] == "ETH")
    assert spent["spent_today"] == "0.01"

    # bob's agent shows bob's vault, and his transfer is refused by his own (empty) vault
    sid = (await http.post("/v1/sessions", json={"agent": "assistant"}, headers=bob)).json()["session_id"]
    status = await http.post(f"/v1/sessions/{sid}/messages?wait=30", json={"text": "vault status"}, headers=bob)
    assert b in status.text and a.lower() not in status.text.lower()
    refused = await http.post(
        f"/v1/sessions/{sid}/messages?wait=30", json={"text": f"send 0.01 ETH to {PAYEE}"}, headers=bob
    )
    assert refused.json()["status"] == "done" and "holds only 0 ETH" in refused.json()["reply"]
    assert {x: await w3.eth.get_balance(x) - before[x] for x in before} == moved
    assert a.lower() not in json.dumps((await http.get("/v1/notifications", headers=bob)).json()).lower()
