"""A stop during an approved transfer, on a real anvil with a real worker process (issue 19).

The invariant (README, "Stopping and double-texting"): a transfer that was approved and is being
sent is never cut. A Stop (``cancel``) or an interrupting message waits until the transfer activity
has finished, then ends the turn, and the kept reply names the transaction. Here the transaction
sits unmined in anvil's mempool (automine off) while the stop is pending: the turn must not end
until it is mined, the reply must carry its hash, and the chain must show exactly one transaction,
also when the worker is killed -9 in the middle and another one finishes the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import PendingActivityState

from chain.accounts import ANVIL_ACCOUNTS
from core.activity_names import tool_activity
from core.errors import UnavailableError
from core.schemas import SessionView, ToolCallRecord, TurnResult
from core.settings import Settings
from devstack.anvil import Anvil
from devstack.processes import stop_process
from services.sessions import SessionService
from tests.chain.test_chain_agent_transfer import anvil_rpc, balance, spent_logs
from tests.conftest import worker_process
from tests.turns import decided, done

RECIPIENT = ANVIL_ACCOUNTS[3].address
WEI = 10**18
#: generous: the machine running the suite is loaded
WAIT = 180.0
TX = re.compile(r"transaction (0x[0-9a-f]{64})")


@contextlib.asynccontextmanager
async def worker(settings: Settings, name: str) -> AsyncIterator[subprocess.Popen]:
    """``impressox worker`` as its own process, ready to poll; stopped on the way out (if still alive)."""
    ready = settings.data_dir / f"{name}.ready"
    proc = worker_process(settings, ready)
    try:
        await until(lambda: _ready(proc, ready), f"worker {name} to start", WAIT)
        yield proc
    finally:
        stop_process(proc)


async def _ready(proc: subprocess.Popen, ready: Path) -> bool:
    assert proc.poll() is None, f"the worker exited with {proc.returncode}"
    return ready.exists()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.1)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        pytest.fail(f"waited {timeout:.0f}s for {what}")


@contextlib.asynccontextmanager
async def mempool(anvil: Anvil) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Automine off: a transaction sent now waits in the mempool until ``mine()`` (or the end)."""
    await anvil_rpc(anvil, "evm_setAutomine", False)
    mined = False

    async def mine() -> None:
        nonlocal mined
        await anvil_rpc(anvil, "evm_mine")
        await anvil_rpc(anvil, "evm_setAutomine", True)
        mined = True

    try:
        yield mine
    finally:
        if not mined:
            await anvil_rpc(anvil, "evm_mine")
            await anvil_rpc(anvil, "evm_setAutomine", True)


async def in_mempool(anvil: Anvil) -> int:
    return int((await anvil_rpc(anvil, "txpool_status"))["pending"], 16)


async def sent_by(anvil: Anvil, address: str) -> int:
    """Transactions the address ever sent (its nonce), mined ones only."""
    return int(await anvil_rpc(anvil, "eth_getTransactionCount", address, "latest"), 16)


class Chain:
    """What the chain says before and after: the recipient's balance, Spent events, operator sends."""

    def __init__(self, anvil: Anvil, deployment: dict[str, Any]) -> None:
        self.anvil, self.deployment = anvil, deployment

    async def snapshot(self) -> tuple[int, int, int]:
        return (
            await balance(self.anvil, RECIPIENT),
            len(await spent_logs(self.anvil, self.deployment)),
            await sent_by(self.anvil, self.deployment["operator"]),
        )

    async def assert_one_transfer(self, before: tuple[int, int, int], wei: int, tx_hash: str) -> None:
        paid, spends, sends = before
        assert await balance(self.anvil, RECIPIENT) - paid == wei
        logs = await spent_logs(self.anvil, self.deployment)
        assert len(logs) == spends + 1 and logs[-1]["transactionHash"] == tx_hash
        assert await sent_by(self.anvil, self.deployment["operator"]) == sends + 1  # no second send, even reverted
        receipt = await anvil_rpc(self.anvil, "eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x1"


async def ask(sessions: SessionService, sid: str, amount: str) -> tuple[str, str]:
    """The transfer asked for and waiting for approval: (message id of its turn, call id)."""
    asked = done(await sessions.send("local", sid, f"send {amount} ETH to {RECIPIENT}", wait=WAIT))
    assert asked.status == "awaiting_approval", asked
    [pending] = (await sessions.get("local", sid)).pending_approvals
    return asked.message_id, pending.call_id


async def approve_into_mempool(
    sessions: SessionService, anvil: Anvil, sid: str, call_id: str
) -> asyncio.Task[ToolCallRecord | None]:
    """Approve (the decision waits for the turn) and return once the transaction is in the mempool."""
    decision = asyncio.create_task(sessions.decide("local", sid, call_id, True, wait=2 * WAIT))

    async def sent() -> bool:
        assert not decision.done() or decision.exception() is None, decision
        return await in_mempool(anvil) > 0

    await until(sent, "the approved transfer to be sent")
    return decision


async def still_running(sessions: SessionService, sid: str, message_id: str, *waiting: asyncio.Task[Any]) -> None:
    """The turn is still being answered (the transfer is unmined) and nobody waiting got an answer."""
    view = await sessions.get("local", sid)
    assert view.current_turn is not None and view.current_turn.message_id == message_id, view.current_turn
    assert all(m.message_id != message_id for m in view.messages if m.role == "assistant"), view.messages
    for task in waiting:
        assert not task.done(), f"answered while the transfer is unmined: {task.exception() or task.result()}"


async def hold(sessions: SessionService, sid: str, message_id: str, *waiting: asyncio.Task[Any]) -> None:
    """A few seconds with the transaction unmined: the turn keeps waiting the whole time."""
    for _ in range(15):
        await still_running(sessions, sid, message_id, *waiting)
        await asyncio.sleep(0.2)


def tx_of(text: str) -> str:
    found = TX.findall(text)
    assert len(set(found)) == 1, text  # one transaction, named
    return found[0]


def reply_of(view: SessionView, message_id: str) -> str:
    [reply] = [m for m in view.messages if m.role == "assistant" and m.message_id == message_id]
    assert reply.status is not None
    return f"{reply.status}: {reply.content}"


def reports_the_transfer(result: TurnResult, status: str) -> str:
    """The stopped turn's reply says the transfer ran and names its transaction; its hash."""
    assert result.status == status, result
    assert [(c.name, c.status) for c in result.tool_calls] == [("transfer", "ok")], result.tool_calls
    assert "[transfer ran before the stop: Sent 0.0" in result.reply and RECIPIENT in result.reply, result.reply
    return tx_of(result.reply)


async def test_a_cancel_during_an_approved_transfer_waits_for_it_to_be_mined_and_reports_it(
    chain_sessions: SessionService, chain_settings: Settings, anvil: Anvil, deployment: dict[str, Any]
) -> None:
    chain = Chain(anvil, deployment)
    async with worker(chain_settings, "cancel"):
        sid = await chain_sessions.create("local", "assistant")
        mid, call_id = await ask(chain_sessions, sid, "0.01")
        before = await chain.snapshot()
        async with mempool(anvil) as mine:
            decision = await approve_into_mempool(chain_sessions, anvil, sid, call_id)
            cancel = asyncio.create_task(chain_sessions.turns.cancel("local", sid))
            # the service raises the stop flag once the session has accepted the cancel
            await until(
                lambda: _stop_raised(chain_sessions, sid, mid, cancel), "the cancel to be accepted by the session", WAIT
            )
            await hold(chain_sessions, sid, mid, cancel, decision)
            assert await in_mempool(anvil) == 1  # one transaction sent, and only one
            await mine()
        result = await asyncio.wait_for(cancel, WAIT)
        tx_hash = reports_the_transfer(result, "cancelled")
        record = decided(await asyncio.wait_for(decision, WAIT))
        assert record.status == "ok" and tx_of(record.result or "") == tx_hash
        view = await chain_sessions.get("local", sid)
        assert view.current_turn is None and reply_of(view, mid).startswith("cancelled: ")
        assert tx_hash in reply_of(view, mid)
        await chain.assert_one_transfer(before, WEI // 100, tx_hash)
        # the session goes on: the next message is answered as usual
        nxt = done(await chain_sessions.send("local", sid, "what is 6 * 7?", wait=WAIT))
        assert nxt.status == "done" and "42" in nxt.reply
        await chain.assert_one_transfer(before, WEI // 100, tx_hash)


async def _stop_raised(sessions: SessionService, sid: str, mid: str, cancel: asyncio.Task[Any]) -> bool:
    if cancel.done():  # a 409 or an early answer: show it
        raise AssertionError(f"the cancel answered before the transfer was mined: {cancel.result()}")
    return await sessions.turns.streams.stop_requested(sid, mid) is not None


async def test_an_interrupting_message_during_an_approved_transfer_waits_for_it_then_is_answered(
    chain_sessions: SessionService, chain_settings: Settings, anvil: Anvil, deployment: dict[str, Any]
) -> None:
    chain = Chain(anvil, deployment)
    async with worker(chain_settings, "interrupt"):
        sid = await chain_sessions.create("local", "assistant")
        mid, call_id = await ask(chain_sessions, sid, "0.02")
        before = await chain.snapshot()
        async with mempool(anvil) as mine:
            decision = await approve_into_mempool(chain_sessions, anvil, sid, call_id)
            interrupting = asyncio.create_task(
                chain_sessions.send("local", sid, "what is 6 * 7?", wait=2 * WAIT, multitask="interrupt")
            )

            async def queued() -> bool:  # the session holds the new message behind the running turn
                assert not interrupting.done(), interrupting
                return (await chain_sessions.get("local", sid)).queued_messages == 1

            await until(queued, "the interrupting message to be queued")
            await hold(chain_sessions, sid, mid, interrupting, decision)
            assert await in_mempool(anvil) == 1
            await mine()
        answer = done(await asyncio.wait_for(interrupting, WAIT))
        assert answer.status == "done" and "42" in answer.reply and answer.turn == 2, answer
        old = done(await chain_sessions.result_of("local", sid, mid, wait=WAIT))
        tx_hash = reports_the_transfer(old, "interrupted")
        record = decided(await asyncio.wait_for(decision, WAIT))
        assert record.status == "ok" and tx_of(record.result or "") == tx_hash
        view = await chain_sessions.get("local", sid)
        # in the transcript: the interrupted turn with its transaction, then the new message's answer
        assert [(m.role, m.message_id == mid) for m in view.messages] == [
            ("user", True),
            ("assistant", True),
            ("user", False),
            ("assistant", False),
        ]
        assert reply_of(view, mid).startswith("interrupted: ") and tx_hash in reply_of(view, mid)
        await chain.assert_one_transfer(before, 2 * WEI // 100, tx_hash)


async def test_a_worker_killed_while_the_transfer_is_unmined_and_a_cancel_pending_sends_once(
    chain_sessions: SessionService, chain_settings: Settings, anvil: Anvil, deployment: dict[str, Any]
) -> None:
    chain = Chain(anvil, deployment)
    async with worker(chain_settings, "doomed") as doomed:
        sid = await chain_sessions.create("local", "assistant")
        mid, call_id = await ask(chain_sessions, sid, "0.03")
        before = await chain.snapshot()
        async with mempool(anvil) as mine:
            decision = await approve_into_mempool(chain_sessions, anvil, sid, call_id)
            cancel = asyncio.create_task(chain_sessions.turns.cancel("local", sid))
            await until(
                lambda: _stop_raised(chain_sessions, sid, mid, cancel), "the cancel to be accepted by the session"
            )
            os.killpg(doomed.pid, signal.SIGKILL)  # between sending the transaction and seeing it mined
            doomed.wait()
            async with worker(chain_settings, "successor"):
                handle = chain_sessions.client.get_workflow_handle(sid)

                async def retried() -> bool:  # the successor runs the transfer's next attempt and has the session
                    assert not cancel.done(), cancel
                    pending = (await handle.describe()).raw_description.pending_activities
                    if not any(
                        a.activity_type.name == tool_activity("transfer")
                        and a.attempt >= 2
                        and a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                        for a in pending
                    ):
                        return False
                    try:  # a query goes to the dead worker's sticky queue until the server gives up on it
                        await chain_sessions.get("local", sid)
                    except UnavailableError:
                        return False
                    return True

                await until(retried, "the transfer to be retried on the new worker")
                await hold(chain_sessions, sid, mid, cancel, decision)
                assert await in_mempool(anvil) == 1  # the retry found the first transaction: nothing re-sent
                await mine()
                result = await asyncio.wait_for(cancel, WAIT)
                record = decided(await asyncio.wait_for(decision, WAIT))
                view = await chain_sessions.get("local", sid)
    tx_hash = reports_the_transfer(result, "cancelled")
    assert record.status == "ok" and tx_of(record.result or "") == tx_hash
    assert view.current_turn is None and reply_of(view, mid).startswith("cancelled: ")
    assert tx_hash in reply_of(view, mid)
    await chain.assert_one_transfer(before, 3 * WEI // 100, tx_hash)
