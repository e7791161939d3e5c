"""Fund safety on a real anvil: the simulation shown is what the chain does, a stale one refuses the
approval, the undo window holds (cancelled, left alone, across a kill -9), the freeze stops money and
only the owner restarts it, V1 vaults upgrade to V3 with their state, and audit bundles verify.

The tests share one anvil (module scope) and run in file order: the first upgrades the vault to V3.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from eth_typing import HexStr
from temporalio.client import Client

from chain.accounts import ANVIL_ACCOUNTS
from chain.artifacts import load_artifact
from chain.client import close_web3, make_web3
from chain.deploy import upgrade
from chain.units import ETH_ADDRESS
from chain.vault import VaultService
from core.agents import AgentFactory
from core.cache import Cache
from core.errors import ConflictError
from core.settings import Settings
from devstack.anvil import Anvil
from devstack.processes import stop_process
from services.audit import build_bundle, verify_bundle
from services.chain_access import ChainAccess
from services.sessions import SessionService
from services.tools import load_tools
from services.vaults import VaultRegistryService
from temporal.worker import WorkerDeps, build_worker
from tests.chain.test_chain_agent_transfer import anvil_rpc, balance, spent_logs
from tests.conftest import TemporalServer, make_settings, worker_process
from tests.test_durability import wait_for_turns
from tests.turns import decided, done

OWNER, RECIPIENT = ANVIL_ACCOUNTS[0].address, ANVIL_ACCOUNTS[3].address
WEI = 10**18
GAS: dict[str, int] = {}


def _settings(temporal_server: TemporalServer, redis_url: str, anvil: Anvil, data_dir: Path, **extra: Any) -> Settings:
    return make_settings(
        temporal_server,
        redis_url,
        data_dir,
        chain_rpc_url=anvil.rpc_url,
        agents_file=Path(__file__).parents[2] / "config" / "agents.yaml",
        **extra,
    )


@pytest.fixture
def chain_settings(temporal_server: TemporalServer, redis_server, anvil: Anvil, data_dir: Path, deployment) -> Settings:
    return _settings(temporal_server, redis_server.url, anvil, data_dir)


@pytest.fixture
def delayed_settings(
    temporal_server: TemporalServer, redis_server, anvil: Anvil, data_dir: Path, deployment
) -> Settings:
    """A 3 s undo window for every transfer."""
    return _settings(
        temporal_server, redis_server.url, anvil, data_dir, transfer_delay_seconds=3, transfer_delay_min_usd=0
    )


def _sessions(client: Client, settings: Settings) -> SessionService:
    registry = load_tools(settings.tool_modules)
    return SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))


@pytest.fixture
def sessions(client: Client, chain_settings: Settings) -> SessionService:
    return _sessions(client, chain_settings)


@pytest.fixture
async def worker(client: Client, chain_settings: Settings, cache: Cache):
    chain = ChainAccess(chain_settings)
    async with build_worker(
        client,
        chain_settings,
        load_tools(chain_settings.tool_modules),
        cache,
        WorkerDeps(settings=chain_settings, cache=cache, chain=chain),
    ):
        yield
    await chain.close()


async def owner_call(anvil: Anvil, vault: str, fn: str, *args: Any) -> dict[str, Any]:
    """A transaction from the owner's wallet (anvil account 0, unlocked), mined; its receipt."""
    data = make_web3(anvil.rpc_url).eth.contract(abi=load_artifact("AgentVaultV3").abi).encode_abi(fn, list(args))
    tx = await anvil_rpc(anvil, "eth_sendTransaction", {"from": OWNER, "to": vault, "data": data})
    receipt = await anvil_rpc(anvil, "eth_getTransactionReceipt", tx)
    assert receipt["status"] == "0x1", (fn, receipt)
    return receipt


async def paused(anvil: Anvil, vault: str) -> bool:
    return int(await anvil_rpc(anvil, "eth_call", {"to": vault, "data": "0x5c975abb"}, "latest"), 16) == 1


async def ask(sessions: SessionService, sid: str, amount: str) -> Any:
    asked = await sessions.send("local", sid, f"send {amount} ETH to {RECIPIENT}", wait=60)
    assert asked.status == "awaiting_approval", asked
    [pending] = (await sessions.get("local", sid)).pending_approvals
    return pending


async def test_a_v1_vault_holding_funds_upgrades_to_v3_in_place(
    anvil: Anvil, data_dir: Path, deployment: dict[str, Any]
):
    """Balances, limits, today's spending and used references survive; gas per spend before/after."""
    from chain.accounts import anvil_signer

    w3 = make_web3(anvil.rpc_url)
    try:
        vault = VaultService(w3, deployment, anvil_signer(1))
        assert (await vault.status()).version == "1" and await vault.paused() is None
        spent = await vault.spend(b"\x01" * 32, "ETH", RECIPIENT, "0.01")
        # measured on a second spend of the day, as the V3 one is (the first one's limit slot is new)
        steady = await vault.spend(b"\x06" * 32, "ETH", RECIPIENT, "0.01")
        GAS["v1_spend"] = (await w3.eth.get_transaction_receipt(HexStr(steady.tx_hash)))["gasUsed"]
        before = await vault.status()
        result = await upgrade(anvil.rpc_url, data_dir, implementation="AgentVaultV3")
        assert result["version"] == "3" and result["upgraded"] is True and result["vault"] == deployment["vault"]
        after = await vault.status()
        assert after.tokens == before.tokens  # balances, limits and spent today, token by token
        assert after.version == "3" and after.paused is False and after.owner == before.owner == OWNER
        assert await vault.reference_used(b"\x01" * 32)
        again = await vault.spend(b"\x01" * 32, "ETH", RECIPIENT, "0.01")  # the used reference is found
        assert again.already_sent and again.tx_hash == spent.tx_hash
        fresh = await vault.spend(b"\x02" * 32, "ETH", RECIPIENT, "0.01")
        GAS["v3_spend"] = (await w3.eth.get_transaction_receipt(HexStr(fresh.tx_hash)))["gasUsed"]
        print(f"\ngas per ETH spend: V1 {GAS['v1_spend']}, V3 {GAS['v3_spend']}")
        assert GAS["v3_spend"] > 0
    finally:
        await close_web3(w3)


async def test_v3_time_lock_queues_large_spends_and_the_owner_cancels(anvil: Anvil, deployment: dict[str, Any]):
    from chain.accounts import anvil_signer
    from chain.tx import transact
    from core.errors import ChainRevertError

    w3 = make_web3(anvil.rpc_url)
    vault_address = deployment["vault"]
    v3 = w3.eth.contract(address=vault_address, abi=load_artifact("AgentVaultV3").abi)
    operator = anvil_signer(1)
    try:
        await owner_call(anvil, vault_address, "setQueueRule", ETH_ADDRESS, WEI // 10, 3600)
        with pytest.raises(ChainRevertError, match="MustQueue"):
            await VaultService(w3, deployment, operator).spend(b"\x03" * 32, "ETH", RECIPIENT, "0.2")

        async def op(fn: str, *args: Any) -> Any:
            return await transact(w3, operator, {"to": vault_address, "data": v3.encode_abi(fn, list(args))}, action=fn)

        before = await balance(anvil, RECIPIENT)
        await op("queueSpend", b"\x04" * 32, ETH_ADDRESS, RECIPIENT, WEI // 5)
        with pytest.raises(ChainRevertError, match="TooEarly"):
            await op("executeQueued", b"\x04" * 32)
        await owner_call(anvil, vault_address, "cancelQueued", b"\x04" * 32)
        await anvil_rpc(anvil, "evm_increaseTime", 3601)
        await anvil_rpc(anvil, "evm_mine")
        with pytest.raises(ChainRevertError, match="NotQueued"):
            await op("executeQueued", b"\x04" * 32)
        await op("queueSpend", b"\x05" * 32, ETH_ADDRESS, RECIPIENT, WEI // 5)
        await anvil_rpc(anvil, "evm_increaseTime", 3601)
        await anvil_rpc(anvil, "evm_mine")
        await op("executeQueued", b"\x05" * 32)
        assert await balance(anvil, RECIPIENT) - before == WEI // 5
    finally:
        await owner_call(anvil, vault_address, "setQueueRule", ETH_ADDRESS, 0, 0)
        await close_web3(w3)


async def test_the_simulation_shown_is_what_the_chain_does(
    sessions: SessionService, worker: None, anvil: Anvil, deployment: dict[str, Any]
):
    sid = await sessions.create("local", "assistant")
    pending = await ask(sessions, sid, "0.05")
    sim = pending.simulation
    assert sim is not None and sim["will_revert"] is False and sim["display"]["amount"] == "0.05 ETH"
    assert int(sim["vault_balance_before"]) == await balance(anvil, deployment["vault"])
    assert int(sim["recipient_balance_before"]) == await balance(anvil, RECIPIENT)
    assert int(sim["vault_balance_after"]) == int(sim["vault_balance_before"]) - 5 * WEI // 100
    assert int(sim["fee_wei"]) > 0 and sim["fee_usd"]
    binding = pending.binding
    assert binding and binding["to"] == RECIPIENT and binding["amount"] == str(5 * WEI // 100)
    assert binding["vault"] == deployment["vault"] and binding["chain_id"] == 31337
    record = decided(await sessions.decide("local", sid, pending.call_id, approve=True))
    assert record.status == "ok", record
    assert await balance(anvil, RECIPIENT) == int(sim["recipient_balance_after"])
    assert await balance(anvil, deployment["vault"]) == int(sim["vault_balance_after"])


@pytest.mark.parametrize(
    ("to", "amount", "says"),
    [
        (RECIPIENT, "0.0000000000000000001", "more than 18 decimal places"),
        ("0x" + "0" * 40, "0.01", "zero address"),
    ],
)
async def test_a_transfer_that_cannot_succeed_is_refused_before_anyone_is_asked(
    sessions: SessionService, worker: None, to: str, amount: str, says: str
):
    sid = await sessions.create("local", "assistant")
    r = done(await sessions.send("local", sid, f"send {amount} ETH to {to}", wait=60))
    assert says in r.reply and "E-" not in r.reply, r.reply
    assert (await sessions.get("local", sid)).pending_approvals == []


async def test_a_stale_simulation_refuses_the_approval(
    sessions: SessionService, worker: None, anvil: Anvil, deployment: dict[str, Any]
):
    """Another transfer uses up the limit between showing and approving: 409, nothing sent, still pending."""
    vault = deployment["vault"]
    w3 = make_web3(anvil.rpc_url)
    try:
        spent = await VaultService(w3, deployment).status()
        eth = next(t for t in spent.tokens if t.symbol == "ETH")
        room = int(eth.spent_today * WEI) + 3 * WEI // 10  # 0.3 ETH left today
        await owner_call(anvil, vault, "setDailyLimit", ETH_ADDRESS, room)
        first, second = await sessions.create("local", "assistant"), await sessions.create("local", "assistant")
        shown = await ask(sessions, first, "0.2")
        other = await ask(sessions, second, "0.2")
        assert decided(await sessions.decide("local", second, other.call_id, approve=True)).status == "ok"
        before = await balance(anvil, RECIPIENT)
        with pytest.raises(ConflictError, match="approval refused: 0.2 ETH exceeds your vault's daily limit"):
            await sessions.decide("local", first, shown.call_id, approve=True)
        assert await balance(anvil, RECIPIENT) == before
        [still] = (await sessions.get("local", first)).pending_approvals
        assert still.call_id == shown.call_id and still.simulation and still.simulation["will_revert"] is True
        assert decided(await sessions.decide("local", first, shown.call_id, approve=False)).status == "rejected"
    finally:
        await owner_call(anvil, vault, "setDailyLimit", ETH_ADDRESS, 50 * WEI)
        await close_web3(w3)


async def test_undo_window_cancelled_sends_nothing_and_left_alone_sends_once(
    client: Client, delayed_settings: Settings, cache: Cache, anvil: Anvil, deployment: dict[str, Any]
):
    sessions = _sessions(client, delayed_settings)
    chain = ChainAccess(delayed_settings)
    deps = WorkerDeps(settings=delayed_settings, cache=cache, chain=chain)
    async with build_worker(client, delayed_settings, load_tools(delayed_settings.tool_modules), cache, deps):
        sid = await sessions.create("local", "assistant")
        before = await balance(anvil, RECIPIENT)
        pending = await ask(sessions, sid, "0.01")
        record = decided(await sessions.decide("local", sid, pending.call_id, approve=True))
        assert record.status == "scheduled" and record.executes_at is not None
        assert [t.call_id for t in (await sessions.get("local", sid)).scheduled_transfers] == [pending.call_id]
        cancelled = await sessions.cancel_transfer("local", sid, pending.call_id)
        assert cancelled.status == "cancelled" and "nothing was sent" in (cancelled.result or "")
        await asyncio.sleep(5)
        assert await balance(anvil, RECIPIENT) == before
        view = await wait_for_turns(sessions, sid, 1, timeout=30)
        assert "cancelled" in view.messages[-1].content

        spends = len(await spent_logs(anvil, deployment))
        pending = await ask(sessions, sid, "0.02")
        record = decided(await sessions.decide("local", sid, pending.call_id, approve=True))
        assert record.status == "scheduled"
        assert await balance(anvil, RECIPIENT) == before  # not yet: the window is open
        view = await wait_for_turns(sessions, sid, 2, timeout=60)
        assert "transaction 0x" in view.messages[-1].content
        assert await balance(anvil, RECIPIENT) - before == 2 * WEI // 100
        assert len(await spent_logs(anvil, deployment)) == spends + 1
    await chain.close()


async def test_a_worker_killed_inside_the_undo_window_sends_once_after_it(
    client: Client,
    delayed_settings: Settings,
    anvil: Anvil,
    deployment: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("IMPRESSOX_TRANSFER_DELAY_SECONDS", "4")
    monkeypatch.setenv("IMPRESSOX_TRANSFER_DELAY_MIN_USD", "0")
    sessions = _sessions(client, delayed_settings)
    first = worker_process(delayed_settings, delayed_settings.data_dir / "f1.ready")
    second = None
    try:
        for _ in range(300):
            if (delayed_settings.data_dir / "f1.ready").exists():
                break
            await asyncio.sleep(0.1)
        sid = await sessions.create("local", "assistant")
        pending = await ask(sessions, sid, "0.03")
        before, spends = await balance(anvil, RECIPIENT), len(await spent_logs(anvil, deployment))
        record = decided(await sessions.decide("local", sid, pending.call_id, approve=True))
        assert record.status == "scheduled"
        os.killpg(first.pid, signal.SIGKILL)  # inside the window
        first.wait()
        second = worker_process(delayed_settings, delayed_settings.data_dir / "f2.ready")
        view = await wait_for_turns(sessions, sid, 1, timeout=120)
        assert "transaction 0x" in view.messages[-1].content
        assert await balance(anvil, RECIPIENT) - before == 3 * WEI // 100
        assert len(await spent_logs(anvil, deployment)) == spends + 1
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)


async def test_freeze_withdraws_pending_approvals_and_only_the_owner_unfreezes(
    client: Client, sessions: SessionService, chain_settings: Settings, worker: None, anvil: Anvil, deployment
):
    vault = deployment["vault"]
    vaults = VaultRegistryService(client, chain_settings)
    try:
        sid = await sessions.create("local", "assistant")
        pending = await ask(sessions, sid, "0.01")
        before = await balance(anvil, RECIPIENT)
        assert (await vaults.freeze("local")).startswith("0x")
        assert await paused(anvil, vault)
        assert await sessions.withdraw_approvals("local", "the vault was frozen") >= 1
        view = await wait_for_turns(sessions, sid, 1, timeout=30)
        assert view.pending_approvals == [] and view.messages[-1].tool_calls[0].status == "withdrawn"
        # a new transfer is refused in words, nobody is asked
        r = done(await sessions.send("local", sid, f"send 0.01 ETH to {RECIPIENT}", wait=60))
        assert "the vault is frozen; only its owner wallet can unfreeze it" in r.reply
        assert (await sessions.get("local", sid)).pending_approvals == []
        # the platform's operator key cannot unpause (a stolen key stops money, never restarts it)
        data = "0x3f4ba83a"
        with pytest.raises(AssertionError):
            await anvil_rpc(anvil, "eth_call", {"from": ANVIL_ACCOUNTS[1].address, "to": vault, "data": data})
        await owner_call(anvil, vault, "unpause")
        assert not await paused(anvil, vault)
        pending = await ask(sessions, sid, "0.01")
        assert decided(await sessions.decide("local", sid, pending.call_id, approve=True)).status == "ok"
        assert await balance(anvil, RECIPIENT) - before == WEI // 100
    finally:
        if await paused(anvil, vault):
            await owner_call(anvil, vault, "unpause")
        await vaults.close()


async def test_the_audit_bundle_verifies_and_a_tampered_one_does_not(
    sessions: SessionService, chain_settings: Settings, worker: None, anvil: Anvil
):
    sid = await sessions.create("local", "assistant")
    pending = await ask(sessions, sid, "0.01")
    assert decided(await sessions.decide("local", sid, pending.call_id, approve=True)).status == "ok"
    w3 = make_web3(anvil.rpc_url)
    try:
        doc = await build_bundle(chain_settings, sid, await sessions.audit("local", sid), w3)
        [call] = doc["bundle"]["calls"]
        assert call["simulation"]["display"]["amount"] == "0.01 ETH"
        assert call["decision"]["decided_by"] == "local" and call["decision"]["client"] == "api"
        assert call["chain"]["status"] == 1 and call["chain"]["spent_events"][0]["to"].lower() == RECIPIENT.lower()
        assert await verify_bundle(doc, w3) == []
        tampered = {**doc, "bundle": {**doc["bundle"], "calls": [{**call, "args": {**call["args"], "amount": "9"}}]}}
        assert any("not by the platform" in p for p in await verify_bundle(tampered, w3))
        forged_chain = {**call, "chain": {**call["chain"], "block_number": call["chain"]["block_number"] + 1}}
        assert any(
            "block_number" in p
            for p in await verify_bundle(
                {**doc, "bundle": {**doc["bundle"], "calls": [forged_chain]}}, w3, doc["signer"]
            )
        )
    finally:
        await close_web3(w3)
