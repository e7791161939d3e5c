"""A deposit made to the vault from outside the platform reaches its owner's notifications.

Real anvil (tests/chain/conftest.py), real Temporal dev server (tests/conftest.py), the real
listener process function (run_listener) and NotificationsWorkflow on a worker of our own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi import encode as abi_encode
from fastapi import FastAPI
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.worker import Worker

from api import errors
from api.routers import notifications as notifications_router
from chain.accounts import ANVIL_ACCOUNTS
from chain.artifacts import load_artifact
from chain.units import to_base_units
from core.notifications import Notification, NotificationsStart
from core.settings import ApiKey, Settings
from services.notifications import NotificationService
from temporal.listener_main import run_listener
from temporal.plugin import ImpressoxPlugin
from workflows.notifications import KEEP, NotificationsWorkflow, notifications_workflow_id

OUTSIDER = ANVIL_ACCOUNTS[2].address  # not the vault's owner nor its operator
HOLDER = ANVIL_ACCOUNTS[0].address  # holds the demo token's supply on the local chain
ETH = 10**18


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    async with Worker(client, task_queue=settings.task_queue, plugins=[ImpressoxPlugin()]):
        yield


@pytest.fixture
def chain_settings(settings: Settings, anvil, deployment, data_dir: Path) -> Settings:
    """Settings for the listener: this test's own data dir (cursor) holding the module's deployment,
    and a vault owner user of its own (inbox workflow ids are shared by the whole Temporal server)."""
    shutil.copy(data_dir / "deployments.json", settings.data_dir / "deployments.json")
    owner = unique("owner")
    update: dict[str, Any] = {"chain_rpc_url": anvil.rpc_url, "chain_poll_seconds": 0.1, "local_user": owner}
    if "chain_vault_user" in Settings.model_fields:
        update["chain_vault_user"] = owner
    return settings.model_copy(update=update)


def owner_of(settings: Settings) -> str:
    return getattr(settings, "chain_vault_user", settings.local_user)


@pytest.fixture
def notifications(client: Client, settings: Settings) -> NotificationService:
    return NotificationService(client, settings)


@asynccontextmanager
async def listening(settings: Settings) -> AsyncIterator[None]:
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(run_listener(settings, stop, ready=ready))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout}s")
        await asyncio.sleep(0.05)


async def send(w3, tx: dict[str, Any]) -> Any:
    """eth_sendTransaction from an anvil-unlocked account; the receipt."""
    receipt = await w3.eth.wait_for_transaction_receipt(await w3.eth.send_transaction(tx))
    assert receipt["status"] == 1
    return receipt


async def notes_for(service: NotificationService, user: str, tx_hash: str) -> list[Notification]:
    return [n for n in await service.list(user) if n.data.get("tx_hash") == tx_hash]


async def test_outside_deposit_notifies_the_owner_once_even_across_listener_restarts(
    chain_settings, worker, notifications, deployment, w3, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="automations.handlers.deposits")
    owner = owner_of(chain_settings)
    async with listening(chain_settings):
        receipt = await send(w3, {"from": OUTSIDER, "to": deployment["vault"], "value": 5 * 10**17})
        tx = "0x" + bytes(receipt["transactionHash"]).hex()
        await wait_for(lambda: _has(notifications, owner, tx))

    [first] = await notes_for(notifications, owner, tx)
    assert first.kind == "deposit"
    assert first.text.startswith("Deposit of 0.5 ETH to your vault from 0x3C44…93BC (tx ")
    assert first.key == f"{tx}:{receipt['logs'][0]['logIndex']}"
    assert first.data["amount"] == "0.5" and first.data["symbol"] == "ETH" and first.data["from"] == OUTSIDER
    assert first.data["amount_base_units"] == str(5 * 10**17)
    assert await notifications.list(unique("someone-else")) == []

    # a crash that lost the listener's progress after the signal: it rescans from the deposit block
    state_file = next(chain_settings.data_dir.glob("listener-*.json"))
    state = json.loads(state_file.read_text())
    state.update(next_block=receipt["blockNumber"], delivered=[])
    state_file.write_text(json.dumps(state))
    async with listening(chain_settings):
        later = await send(w3, {"from": OUTSIDER, "to": deployment["vault"], "value": 3 * ETH})
        later_tx = "0x" + bytes(later["transactionHash"]).hex()
        await wait_for(lambda: _has(notifications, owner, later_tx))

    listed = await notifications.list(owner)
    assert sum(f"deposit {first.key}: notified" in r.getMessage() for r in caplog.records) == 2  # signalled twice
    assert [n.data["tx_hash"] for n in listed] == [tx, later_tx]  # ... and shown once
    assert listed[-1].text.startswith("Deposit of 3 ETH to your vault")


async def test_token_deposits_read_in_token_units(chain_settings, worker, notifications, deployment, w3) -> None:
    owner = owner_of(chain_settings)
    erc20 = load_artifact("TestToken").abi
    # another ERC-20 the deployment does not know: its symbol and decimals come from the chain
    other = await send(
        w3,
        {
            "from": OUTSIDER,
            "data": "0x"
            + (load_artifact("TestToken").initcode + abi_encode(["address", "uint256"], [OUTSIDER, 1000 * ETH])).hex(),
        },
    )
    tokens = {"TUSD": deployment["token"], "other": other["contractAddress"]}
    tusd = w3.eth.contract(address=tokens["TUSD"], abi=erc20)
    await send(w3, {"from": HOLDER, "to": tokens["TUSD"], "data": tusd.encode_abi("transfer", [OUTSIDER, 10 * ETH])})

    async with listening(chain_settings):
        txs = {}
        for name, amount in (("TUSD", "2.5"), ("other", "1.25")):
            token = w3.eth.contract(address=tokens[name], abi=erc20)
            base = to_base_units(Decimal(amount), 18)
            await send(
                w3,
                {
                    "from": OUTSIDER,
                    "to": tokens[name],
                    "data": token.encode_abi("approve", [deployment["vault"], base]),
                },
            )
            vault = w3.eth.contract(address=deployment["vault"], abi=load_artifact("AgentVault").abi)
            receipt = await send(
                w3,
                {
                    "from": OUTSIDER,
                    "to": deployment["vault"],
                    "data": vault.encode_abi("depositToken", [tokens[name], base]),
                },
            )
            txs[name] = "0x" + bytes(receipt["transactionHash"]).hex()
        await wait_for(lambda: _has(notifications, owner, txs["other"]))

    [tusd_note] = await notes_for(notifications, owner, txs["TUSD"])
    assert tusd_note.text.startswith("Deposit of 2.5 TUSD to your vault from 0x3C44…93BC")
    assert tusd_note.data["token"] == tokens["TUSD"] and tusd_note.data["amount"] == "2.5"
    [other_note] = await notes_for(notifications, owner, txs["other"])
    assert other_note.text.startswith("Deposit of 1.25 TUSD to your vault")
    assert other_note.data["token"] == tokens["other"]


async def _has(service: NotificationService, user: str, tx_hash: str) -> bool:
    return bool(await notes_for(service, user, tx_hash))


def note(key: str, text: str = "hello") -> Notification:
    return Notification(key=key, kind="test", text=text, at=datetime.now(UTC))


async def test_the_same_key_twice_is_stored_once(worker, notifications) -> None:
    user = unique("user")
    assert await notifications.list(user) == []
    await notifications.notify(user, note("k1", "first"))
    await notifications.notify(user, note("k1", "first, again"))
    await notifications.notify(user, note("k2", "second"))
    assert [(n.key, n.text) for n in await notifications.list(user)] == [("k1", "first"), ("k2", "second")]


async def test_long_inbox_continues_as_new_keeps_the_last_200_and_still_dedupes(client, settings, worker) -> None:
    user = unique("user")
    wid = notifications_workflow_id(user)
    first = await client.start_workflow(
        NotificationsWorkflow.run,
        NotificationsStart(user=user, signals_per_run=100),
        id=wid,
        task_queue=settings.task_queue,
        start_signal="notify",
        start_signal_args=[note("k0")],
    )
    handle = client.get_workflow_handle(wid)
    for i in range(1, 250):
        await handle.signal(NotificationsWorkflow.notify, note(f"k{i}"))
    await handle.signal(NotificationsWorkflow.notify, note("k0", "a late duplicate of a dropped notification"))
    await handle.signal(NotificationsWorkflow.notify, note("k249", "a duplicate across runs"))
    listed = await NotificationService(client, settings).list(user)
    assert [n.key for n in listed] == [f"k{i}" for i in range(250 - KEEP, 250)]
    assert (await handle.describe()).run_id != first.result_run_id  # it did continue as new


async def test_get_notifications_lists_the_callers_own(client, settings, worker, notifications) -> None:
    alice, bob = unique("alice"), unique("bob")
    app = FastAPI()
    app.state.settings = settings.model_copy(
        update={
            "api_keys": [ApiKey(user=alice, key=SecretStr("alice-key")), ApiKey(user=bob, key=SecretStr("bob-key"))]
        }
    )
    app.state.notifications = notifications
    errors.install(app)
    app.include_router(notifications_router.router)
    await notifications.notify(alice, note("tx1:0", "Deposit of 0.5 ETH to your vault"))

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http:
        mine = await http.get("/v1/notifications", headers={"Authorization": "Bearer alice-key"})
        theirs = await http.get("/v1/notifications", headers={"Authorization": "Bearer bob-key"})
        anonymous = await http.get("/v1/notifications")
    assert mine.status_code == 200
    [item] = mine.json()
    assert item["key"] == "tx1:0" and item["kind"] == "test" and item["text"] == "Deposit of 0.5 ETH to your vault"
    assert theirs.status_code == 200 and theirs.json() == []
    assert anonymous.status_code == 401
