"""The event listener: confirmed, exactly-once delivery that survives restarts and reorgs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from chain.accounts import ANVIL_ACCOUNTS, anvil_signer
from chain.listener import ChainEvent, EventListener
from chain.tx import transact
from core.errors import ConfigError

DEPOSITOR = ANVIL_ACCOUNTS[2].address


async def deposit(w3, deployment, wei: int) -> str:
    receipt = await transact(w3, anvil_signer(2), {"to": deployment["vault"], "value": wei}, action="deposit")
    return "0x" + bytes(receipt["transactionHash"]).hex()


async def mine(w3, blocks: int = 1) -> None:
    for _ in range(blocks):
        await w3.provider.make_request("evm_mine", [])


def make_listener(w3, deployment, data_dir: Path, start: int, confirmations: int = 1):
    listener = EventListener(
        w3, deployment, data_dir, confirmations=confirmations, start_block=start, poll_seconds=0.05
    )
    got: list[ChainEvent] = []

    @listener.on("AgentVault", "Deposited")
    async def record(event: ChainEvent) -> None:
        got.append(event)

    return listener, got


async def test_deposit_is_delivered_once_with_typed_fields(deployment, w3, tmp_path) -> None:
    listener, got = make_listener(w3, deployment, tmp_path, start=await w3.eth.block_number + 1)
    tx = await deposit(w3, deployment, 123)
    await listener.poll_once()
    await listener.poll_once()
    await mine(w3, 2)
    await listener.poll_once()
    assert len(got) == 1
    event = got[0]
    assert (event.contract, event.event) == ("AgentVault", "Deposited")
    assert event.args == {"from": DEPOSITOR, "token": "0x" + "00" * 20, "amount": 123}
    assert event.tx_hash == tx and event.key == f"{tx}:{event.log_index}"
    assert event.block_number == (await w3.eth.get_transaction_receipt(tx))["blockNumber"]


async def test_restart_continues_from_the_cursor_without_redelivering(deployment, w3, tmp_path) -> None:
    start = await w3.eth.block_number + 1
    first, got_first = make_listener(w3, deployment, tmp_path, start)
    await deposit(w3, deployment, 1)
    await first.poll_once()
    assert [e.args["amount"] for e in got_first] == [1]

    # a crash that lost the cursor advance but kept the delivered keys: still no redelivery
    state = json.loads(first.state_file.read_text())
    state["next_block"] = start
    first.state_file.write_text(json.dumps(state))

    await deposit(w3, deployment, 2)
    restarted, got_restarted = make_listener(w3, deployment, tmp_path, start)
    await restarted.poll_once()
    assert [e.args["amount"] for e in got_restarted] == [2]


async def test_waits_for_confirmations(deployment, w3, tmp_path) -> None:
    listener, got = make_listener(w3, deployment, tmp_path, await w3.eth.block_number + 1, confirmations=3)
    await deposit(w3, deployment, 3)
    await listener.poll_once()
    await mine(w3)
    await listener.poll_once()
    assert got == []  # 2 of 3 confirmations
    await mine(w3)
    await listener.poll_once()
    assert [e.args["amount"] for e in got] == [3]


async def test_log_from_a_block_dropped_by_a_reorg_is_never_delivered(deployment, w3, tmp_path) -> None:
    listener, got = make_listener(w3, deployment, tmp_path, await w3.eth.block_number + 1, confirmations=2)
    await listener.poll_once()
    snapshot = (await w3.provider.make_request("evm_snapshot", []))["result"]
    await deposit(w3, deployment, 4)  # lands in block N, which the reorg drops
    await listener.poll_once()  # N has 1 of 2 confirmations: not yet
    assert (await w3.provider.make_request("evm_revert", [snapshot]))["result"] is True
    await mine(w3, 3)  # the other fork: N', N'+1, N'+2, all without the deposit
    for _ in range(3):
        await listener.poll_once()
    assert got == []
    assert listener.next_block == await w3.eth.block_number  # it did scan past N'


async def test_reorg_rewinds_to_the_fork_and_delivers_the_replacement_block(deployment, w3, tmp_path) -> None:
    listener, got = make_listener(w3, deployment, tmp_path, await w3.eth.block_number + 1, confirmations=1)
    snapshot = (await w3.provider.make_request("evm_snapshot", []))["result"]
    await mine(w3)  # block N, empty: scanned and remembered
    await listener.poll_once()
    scanned_past = listener.next_block
    assert (await w3.provider.make_request("evm_revert", [snapshot]))["result"] is True
    await deposit(w3, deployment, 5)  # the replacement block N' carries a deposit
    await listener.poll_once()
    assert listener.next_block == scanned_past
    assert [e.args["amount"] for e in got] == [5]


async def test_run_loop_delivers_and_stops(deployment, w3, tmp_path) -> None:
    listener, got = make_listener(w3, deployment, tmp_path, await w3.eth.block_number + 1)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    await deposit(w3, deployment, 6)
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 2)
    assert [e.args["amount"] for e in got] == [6]


async def test_failing_handler_is_retried_next_poll(deployment, w3, tmp_path) -> None:
    listener = EventListener(w3, deployment, tmp_path, start_block=await w3.eth.block_number + 1)
    calls: list[int] = []

    @listener.on("AgentVault", "Deposited")
    async def flaky(event: ChainEvent) -> None:
        calls.append(event.args["amount"])
        if len(calls) == 1:
            raise RuntimeError("notifier down")

    await deposit(w3, deployment, 7)
    with pytest.raises(RuntimeError):
        await listener.poll_once()
    await listener.poll_once()
    await listener.poll_once()
    assert calls == [7, 7]


def test_unknown_subscription_is_a_config_error(deployment, w3, tmp_path) -> None:
    listener = EventListener(w3, deployment, tmp_path)
    with pytest.raises(ConfigError, match="unknown contract"):
        listener.on("Nope", "Deposited")
    with pytest.raises(ConfigError, match="no event"):
        listener.on("AgentVault", "Nope")
