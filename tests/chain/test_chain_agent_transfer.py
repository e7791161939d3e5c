"""The agent on a real anvil: prices, balances, and transfers that wait for approval,
are mined once after it (even across kill -9 of the worker), and never without it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from typing import Any

import pytest
from prometheus_client import REGISTRY
from temporalio.client import Client

from chain.accounts import ANVIL_ACCOUNTS
from core.cache import Cache
from core.ledger import UsageLedger
from core.redis_keys import redis_prefix
from core.schemas import TurnResult
from core.settings import Settings
from devstack.anvil import Anvil
from devstack.processes import find_executable, stop_process
from services.chain_access import ChainAccess
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import WorkerDeps, build_worker
from tests.conftest import TemporalServer, decoded_payloads, worker_process
from tests.test_durability import wait_for_turns
from tests.turns import decided, done

RECIPIENT = ANVIL_ACCOUNTS[3].address
WEI = 10**18


@pytest.fixture
async def chain_worker(client: Client, chain_settings: Settings, cache: Cache):
    chain = ChainAccess(chain_settings)
    deps = WorkerDeps(settings=chain_settings, cache=cache, chain=chain)
    async with build_worker(client, chain_settings, load_tools(chain_settings.tool_modules), cache, deps):
        yield
    await chain.close()


async def balance(anvil: Anvil, address: str) -> int:
    return int(await anvil_rpc(anvil, "eth_getBalance", address, "latest"), 16)


async def anvil_rpc(anvil: Anvil, method: str, *params: Any) -> Any:
    import httpx

    async with httpx.AsyncClient() as http:
        r = await http.post(anvil.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    body = r.json()
    assert "error" not in body, body
    return body["result"]


async def spent_logs(anvil: Anvil, deployment: dict[str, Any]) -> list[dict]:
    from eth_utils import event_signature_to_log_topic

    topic = "0x" + event_signature_to_log_topic("Spent(bytes32,address,address,uint256)").hex()
    return await anvil_rpc(
        anvil,
        "eth_getLogs",
        {"address": deployment["vault"], "fromBlock": "0x0", "toBlock": "latest", "topics": [topic]},
    )


async def gas_of(anvil: Anvil, tx_hash: str) -> int:
    """Wei the transaction paid for gas, from its receipt."""
    receipt = await anvil_rpc(anvil, "eth_getTransactionReceipt", tx_hash)
    return int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)


async def session_usage(settings: Settings, owner: str, sid: str) -> dict[str, Any]:
    ledger = UsageLedger(settings.redis_url, redis_prefix(settings))
    try:
        return next(r for r in await ledger.rows(owner, "session") if r["session"] == sid)
    finally:
        await ledger.client.aclose()


def transfers_counted(outcome: str) -> float:
    return REGISTRY.get_sample_value("impressox_transfers_total", {"outcome": outcome}) or 0.0


async def test_price_balance_and_status_come_from_the_chain(chain_sessions: SessionService, chain_worker: None):
    sid = await chain_sessions.create("local", "assistant")
    price = done(await chain_sessions.send("local", sid, "what is the price of ETH?", wait=30))
    assert price.reply == "ETH is $3,000.00 (on-chain price feed)."
    mine = done(await chain_sessions.send("local", sid, "what's my balance?", wait=30))
    # every token the vault holds (the local deployment funds it with ETH and TUSD)
    assert re.fullmatch(r"Your vault holds [\d,.]+ ETH and [\d,.]+ TUSD\.", mine.reply), mine.reply
    one = done(await chain_sessions.send("local", sid, "what's my TUSD balance?", wait=30))
    assert re.fullmatch(r"Your vault holds [\d,.]+ TUSD\.", one.reply), one.reply
    status = done(await chain_sessions.send("local", sid, "vault status", wait=30))
    assert "daily limit 1," in status.reply and "TUSD" in status.reply


async def test_an_approved_transfer_is_mined_and_a_rejected_one_sends_nothing(
    chain_sessions: SessionService,
    chain_settings: Settings,
    chain_worker: None,
    anvil: Anvil,
    deployment: dict[str, Any],
):
    sent_before = transfers_counted("sent")
    sid = await chain_sessions.create("local", "assistant")
    asked = await chain_sessions.send("local", sid, f"send 0.01 ETH to {RECIPIENT}", wait=30)
    assert asked.status == "awaiting_approval"
    assert f"send 0.01 ETH from your vault to {RECIPIENT}" in asked.reply
    before, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, deployment))
    [pending] = (await chain_sessions.get("local", sid)).pending_approvals
    record = decided(await chain_sessions.decide("local", sid, pending.call_id, approve=True))
    assert record.status == "ok" and record.result and "transaction 0x" in record.result
    assert await balance(anvil, RECIPIENT) - before == WEI // 100
    assert len(await spent_logs(anvil, deployment)) == spends + 1
    view = await chain_sessions.get("local", sid)
    tx_hash = record.result.split("transaction ")[1].split(" ")[0]
    assert tx_hash in view.messages[-1].content
    receipt = await anvil_rpc(anvil, "eth_getTransactionReceipt", tx_hash)
    assert receipt["status"] == "0x1"
    # its gas is in the user's usage, in ETH and in USD at the chain's ETH feed ($3,000)
    usage = await session_usage(chain_settings, "local", sid)
    assert usage["gas_eth"] == pytest.approx(await gas_of(anvil, tx_hash) / WEI) and usage["gas_eth"] > 0
    assert usage["gas_cost_usd"] == pytest.approx(usage["gas_eth"] * 3000)
    assert usage["cost_usd"] == pytest.approx(usage["llm_cost_usd"] + usage["gas_cost_usd"])
    assert transfers_counted("sent") == sent_before + 1

    # the operator's key signed the transfer inside the worker; it is nowhere in the history
    history = decoded_payloads((await chain_sessions.client.get_workflow_handle(sid).fetch_history()).to_json())
    assert tx_hash in history  # payloads are decoded: what is in history can be seen
    assert ANVIL_ACCOUNTS[1].private_key[2:].lower() not in history.lower()

    await chain_sessions.send("local", sid, f"send 0.02 ETH to {RECIPIENT}", wait=30)
    [pending] = (await chain_sessions.get("local", sid)).pending_approvals
    record = decided(await chain_sessions.decide("local", sid, pending.call_id, approve=False))
    assert record.status == "rejected"
    assert await balance(anvil, RECIPIENT) - before == WEI // 100
    assert len(await spent_logs(anvil, deployment)) == spends + 1
    assert "not approved" in (await chain_sessions.get("local", sid)).messages[-1].content


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"send 0.01 ETH to {RECIPIENT[:20]}", "is not a valid address"),
        (f"send -1 ETH to {RECIPIENT}", "must be greater than zero"),
        (f"send 1e30 ETH to {RECIPIENT}", "absurdly large"),
        (f"send 0.01 DOGE to {RECIPIENT}", "unknown token 'DOGE'"),
        (f"send 50 ETH to {RECIPIENT}", "exceeds your vault's daily limit"),
    ],
)
async def test_bad_transfers_are_refused_before_anyone_is_asked(
    chain_sessions: SessionService, chain_worker: None, text: str, says: str
):
    sid = await chain_sessions.create("local", "assistant")
    r = await chain_sessions.send("local", sid, text, wait=30)
    assert isinstance(r, TurnResult) and r.status == "done"
    assert says in r.reply and r.tool_calls[0].status == "error"
    assert (await chain_sessions.get("local", sid)).pending_approvals == []


async def test_a_user_without_a_vault_cannot_move_its_money(chain_sessions: SessionService, chain_worker: None):
    sid = await chain_sessions.create("mallory", "assistant")
    r = done(await chain_sessions.send("mallory", sid, f"send 0.01 ETH to {RECIPIENT}", wait=30))
    assert "has no vault" in r.reply and r.status == "done"


async def test_kill_9_of_the_worker_during_a_transfer_leaves_exactly_one_spend(
    chain_sessions: SessionService, chain_settings: Settings, anvil: Anvil, deployment: dict[str, Any]
):
    first = worker_process(chain_settings, chain_settings.data_dir / "w1.ready")
    try:
        sid = await chain_sessions.create("local", "assistant")
        for _ in range(100):
            if (chain_settings.data_dir / "w1.ready").exists():
                break
            await asyncio.sleep(0.1)
        asked = await chain_sessions.send("local", sid, f"send 0.03 ETH to {RECIPIENT}", wait=30)
        assert asked.status == "awaiting_approval"
        [pending] = (await chain_sessions.get("local", sid)).pending_approvals
        before, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, deployment))
        await anvil_rpc(anvil, "evm_setAutomine", False)  # the transaction will sit in the mempool
        try:
            decision = asyncio.create_task(chain_sessions.decide("local", sid, pending.call_id, True, wait=90))
            for _ in range(1200):  # wait until the worker has re-checked and sent it
                if (await anvil_rpc(anvil, "txpool_status"))["pending"] != "0x0":
                    break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("the transfer was never sent")
            os.killpg(first.pid, signal.SIGKILL)  # dies between sending and seeing the receipt
            first.wait()
            await anvil_rpc(anvil, "evm_mine")
        finally:
            await anvil_rpc(anvil, "evm_setAutomine", True)
        second = worker_process(chain_settings, chain_settings.data_dir / "w2.ready")
        try:
            view = await wait_for_turns(chain_sessions, sid, 1, timeout=90)
            record = await decision
        finally:
            stop_process(second)
    finally:
        stop_process(first)
    assert record is not None and record.status == "ok", record
    assert "transaction 0x" in view.messages[-1].content
    assert await balance(anvil, RECIPIENT) - before == 3 * WEI // 100
    assert len(await spent_logs(anvil, deployment)) == spends + 1
    # the second worker found the first one's transaction: its gas is counted once
    tx_hash = view.messages[-1].content.split("transaction ")[1].split(" ")[0]
    usage = await session_usage(chain_settings, "local", sid)
    assert usage["gas_eth"] == pytest.approx(await gas_of(anvil, tx_hash) / WEI) and usage["gas_eth"] > 0


async def test_an_approval_forged_through_the_temporal_cli_moves_nothing(
    chain_sessions: SessionService,
    chain_worker: None,
    temporal_server: TemporalServer,
    anvil: Anvil,
    deployment: dict[str, Any],
):
    """Anyone who can reach Temporal can send `decide_approval`; without the platform's
    signature the session's validator refuses it before it is accepted: the vault sends nothing,
    the approval stays pending, and the approval through the service then pays."""
    sid = await chain_sessions.create("local", "assistant")
    await chain_sessions.send("local", sid, f"send 0.01 ETH to {RECIPIENT}", wait=30)
    [pending] = (await chain_sessions.get("local", sid)).pending_approvals
    before, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, deployment))
    forged = f'{{"call_id": "{pending.call_id}", "approve": true, "decided_by": "mallory"}}'
    cmd = [find_executable("temporal"), "workflow", "update", "execute", "--address", temporal_server.address]
    cmd += ["-w", sid, "--name", "decide_approval", "-i", forged]
    refused = await asyncio.to_thread(subprocess.run, cmd, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "unable to update workflow" in refused.stderr, refused.stderr
    assert await balance(anvil, RECIPIENT) == before
    assert len(await spent_logs(anvil, deployment)) == spends
    still = (await chain_sessions.get("local", sid)).pending_approvals
    assert [p.call_id for p in still] == [pending.call_id]  # nobody used it up

    record = decided(await chain_sessions.decide("local", sid, pending.call_id, approve=True))
    assert record.status == "ok"
    assert await balance(anvil, RECIPIENT) - before == WEI // 100
