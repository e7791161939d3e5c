"""Chain-driven watch rules on a real anvil: a MockPriceFeed moved with setAnswer fires a price
alert once per crossing; ETH and test-token transfers fire wallet alerts once each.

Real anvil, real Temporal dev server, the real listener (run_listener) and the platform's
worker (build_worker). The test's deployment copy names the ETH feed with a symbol of its own,
so its watch workflow is not shared with other tests on the same Temporal server.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from temporalio.client import Client

from chain.accounts import ANVIL_ACCOUNTS
from chain.artifacts import load_artifact
from core.cache import Cache
from core.notifications import Notification
from core.settings import Settings
from services.alerts import AlertCreate, AlertService
from services.notifications import NotificationService
from services.tools import load_tools
from temporal.listener_main import run_listener
from temporal.worker import build_worker

FEED_OWNER = ANVIL_ACCOUNTS[0].address  # deployed the mock feeds; also holds the test token's supply
SENDER = ANVIL_ACCOUNTS[2].address


@pytest.fixture
def symbol() -> str:
    return f"E{uuid.uuid4().hex[:6].upper()}"


@pytest.fixture
def chain_settings(settings: Settings, anvil: Any, deployment: dict, data_dir: Path, symbol: str) -> Settings:
    records = json.loads((data_dir / "deployments.json").read_text())
    record = records[str(deployment["chain_id"])]
    record["price_feeds"] = {symbol: deployment["price_feeds"]["ETH"]}
    (settings.data_dir / "deployments.json").write_text(json.dumps(records))
    return settings.model_copy(
        update={
            "chain_rpc_url": anvil.rpc_url,
            "chain_poll_seconds": 0.1,
            "alert_cooldown_seconds": 0,
            "chain_vault_user": f"vault-{uuid.uuid4().hex[:6]}",
        }
    )


@pytest.fixture
async def platform(client: Client, chain_settings: Settings, cache: Cache) -> AsyncIterator[None]:
    async with build_worker(client, chain_settings, load_tools(chain_settings.tool_modules), cache):
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(run_listener(chain_settings, stop, ready=ready))
        try:
            await asyncio.wait_for(ready.wait(), 30)
            yield
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)


async def mined(w3: Any, tx_hash: Any) -> Any:
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    return receipt


async def set_price(w3: Any, feed: str, usd: int) -> None:
    c = w3.eth.contract(address=feed, abi=load_artifact("MockPriceFeed").abi)
    await mined(w3, await c.functions.setAnswer(usd * 10**8).transact({"from": FEED_OWNER}))


async def alerts_of(notes: NotificationService, user: str) -> list[Notification]:
    return [n for n in await notes.list(user) if n.kind == "alert"]


async def wait_count(notes: NotificationService, user: str, want: int, timeout: float = 20) -> list[Notification]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await alerts_of(notes, user)
        if len(got) >= want or asyncio.get_running_loop().time() > deadline:
            assert len(got) == want, [n.text for n in got]
            return got
        await asyncio.sleep(0.2)


async def quiet(notes: NotificationService, user: str, want: int, seconds: float = 3) -> None:
    await asyncio.sleep(seconds)
    assert len(await alerts_of(notes, user)) == want


async def test_price_alert_fires_once_per_crossing_on_feed_updates(
    platform: None, client: Client, chain_settings: Settings, deployment: dict, w3: Any, symbol: str
) -> None:
    notes = NotificationService(client, chain_settings)
    # the symbol is this test's own feed (alerts watch known symbols only)
    alerts = AlertService(client, chain_settings.model_copy(update={"alert_symbols": [symbol]}))
    user, feed = f"u-{uuid.uuid4().hex[:6]}", deployment["price_feeds"]["ETH"]
    await set_price(w3, feed, 3000)
    await alerts.create(user, AlertCreate(kind="price", symbol=symbol, above=3500))
    await set_price(w3, feed, 3600)
    [first] = await wait_count(notes, user, 1)
    assert first.data["value"] == "3600" and first.data["symbol"] == symbol and first.data["block_number"]
    assert f"{symbol} above 3,500" in first.text and "$3,600.00" in first.text
    for p in (3550, 3620, 3580, 3300):  # still above, then back under: re-armed, no firing
        await set_price(w3, feed, p)
    await quiet(notes, user, 1)
    await set_price(w3, feed, 3700)
    second = (await wait_count(notes, user, 2))[-1]
    assert second.data["value"] == "3700" and second.data["round_id"] > first.data["round_id"]


async def test_wallet_alerts_fire_once_per_transfer_of_eth_and_test_token(
    platform: None, client: Client, chain_settings: Settings, deployment: dict, w3: Any
) -> None:
    notes, alerts = NotificationService(client, chain_settings), AlertService(client, chain_settings)
    user, watched = f"u-{uuid.uuid4().hex[:6]}", Account.create().address
    await alerts.create(user, AlertCreate(kind="wallet", address=watched, direction="in", token=None))
    await alerts.create(user, AlertCreate(kind="wallet", address=watched, direction="both", token="TUSD"))

    await mined(w3, await w3.eth.send_transaction({"from": SENDER, "to": watched, "value": 25 * 10**16}))
    [eth] = await wait_count(notes, user, 1)
    assert eth.data["value"] == "0.25" and eth.data["token"] == "ETH" and eth.data["direction"] == "in"
    assert eth.text.startswith(f"Incoming transfer: 0.25 ETH to {watched} from {SENDER}")

    token = w3.eth.contract(address=deployment["token"], abi=load_artifact("TestToken").abi)
    await mined(w3, await token.functions.transfer(watched, 7 * 10**18).transact({"from": FEED_OWNER}))
    tusd = (await wait_count(notes, user, 2))[-1]
    assert tusd.data["token"] == "TUSD" and tusd.data["value"] == "7" and tusd.data["from"] == FEED_OWNER
    await quiet(notes, user, 2)  # one notification per transfer, none for the other rule
