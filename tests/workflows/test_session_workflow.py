"""AgentSessionWorkflow's own rules, on the time-skipping test server with fake activities."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

import workflows.agent_session as agent_session
from core.approvals import sign
from core.schemas import ApprovalDecision, AssistantReply, ToolReturn, UserPrompt
from tests.workflows.conftest import TEST_APPROVAL_KEY, Session
from workflows.agent_session import AgentSessionWorkflow

Start = Callable[..., Any]


async def pending_call(session: Session) -> str:
    view = await session.handle.query(AgentSessionWorkflow.view)
    [pending] = view.pending_approvals
    return pending.call_id


async def decide(session: Session, call_id: str, approve: bool) -> Any:
    """As the session service does: signed over the call's arguments as the session shows them."""
    view = await session.handle.query(AgentSessionWorkflow.view)
    args = next((p.args for p in view.pending_approvals if p.call_id == call_id), {})
    signature = sign(TEST_APPROVAL_KEY, session.handle.id, call_id, args, approve)
    decision = ApprovalDecision(call_id=call_id, approve=approve, decided_by="local", signature=signature)
    return await session.handle.execute_update(AgentSessionWorkflow.decide_approval, decision)


async def test_the_node_gets_a_typed_conversation_and_tool_names_only(start_session: Start) -> None:
    session = await start_session()
    assert (await session.ask("hello")).reply == "echo: hello"
    result = await session.ask("/tool calc")
    assert result.reply == "tool said: 42" and result.turn == 2
    last = session.fakes.model.inputs[-1]
    assert last.tool_names == ["pay", "calc"] and last.tools == [] and last.messages == []
    assert [type(m) for m in last.conversation or []] == [
        UserPrompt,
        AssistantReply,
        UserPrompt,
        AssistantReply,
        ToolReturn,
    ]
    assert last.conversation[-2].tool_calls[0].call_id == "t2s1-c1"


async def test_an_approved_payment_runs_once_after_its_check(start_session: Start) -> None:
    session = await start_session()
    waiting = await session.ask("/tool pay amount=1 to=bob")
    assert waiting.status == "awaiting_approval" and "pay 1 to bob" in waiting.reply
    record = await decide(session, await pending_call(session), approve=True)
    assert record.status == "ok" and record.result == "paid 1 to bob"
    assert len(session.fakes.checked) == 1 and len(session.fakes.paid) == 1
    assert session.fakes.paid[0].args["checked"] == "yes"  # the checked (normalised) args are what runs


async def test_a_rejected_payment_never_runs(start_session: Start) -> None:
    session = await start_session()
    first = await session.ask("/tool pay amount=1 to=bob")
    assert first.status == "awaiting_approval"
    mid = first.message_id
    record = await decide(session, await pending_call(session), approve=False)
    assert record.status == "rejected" and session.fakes.paid == []
    assert (await session.wait(mid)).status == "done"


async def test_an_unanswered_approval_expires_and_never_runs(start_session: Start, env: WorkflowEnvironment) -> None:
    session = await start_session(approval_timeout_seconds=3600)
    first = await session.ask("/tool pay amount=1 to=bob")
    assert first.status == "awaiting_approval"
    mid = first.message_id
    await env.sleep(timedelta(hours=1, minutes=1))  # skipped, not waited
    result = await session.wait(mid)
    assert [c.status for c in result.tool_calls] == ["expired"] and session.fakes.paid == []


async def test_a_duplicate_message_id_is_answered_once(start_session: Start) -> None:
    session = await start_session()
    first = await session.ask("hello", message_id="m1")
    again = await session.ask("hello again", message_id="m1")
    assert first == again and first.turn == 1
    view = await session.handle.query(AgentSessionWorkflow.view)
    assert view.turn_count == 1 and len(session.fakes.model.inputs) == 1


async def test_a_queue_survives_continue_as_new_and_every_message_stays_answerable(
    start_session: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_session, "RESULTS_KEPT", 2)  # full results for the last 2 only
    session = await start_session(continue_as_new_after_turns=2)
    ids = [await session.send(f"message {i}", message_id=f"q{i}") for i in range(7)]
    results = await asyncio.gather(*(session.send_and_wait(f"message {i}", mid) for i, mid in enumerate(ids)))
    assert [r.turn for r in results] == list(range(1, 8))
    assert (await session.ask("one more")).turn == 8  # taken by the next run, after the queue
    latest = await session.client.get_workflow_handle(session.handle.id).describe()
    assert latest.run_id != session.handle.first_execution_run_id  # the session continued as new
    # the first message's full result was dropped long ago: it is answered from the index
    late = await session.client.get_workflow_handle(session.handle.id).execute_update(
        AgentSessionWorkflow.wait_turn, "q0"
    )
    assert late.turn == 1 and late.message_id == "q0"


async def test_a_wait_for_a_message_never_sent_is_refused(start_session: Start) -> None:
    session = await start_session()
    with pytest.raises(WorkflowUpdateFailedError):
        await session.wait("never-sent")


async def test_a_call_to_a_tool_the_agent_lacks_is_answered_with_an_error(start_session: Start) -> None:
    session = await start_session()
    result = await session.ask("/tool nope")
    [call] = result.tool_calls
    assert call.status == "error" and "no tool named 'nope'" in (call.result or "")
    assert result.reply.startswith("tool said: Error:")


async def test_the_step_budget_ends_a_turn(start_session: Start) -> None:
    session = await start_session(max_steps=3)
    result = await session.ask("/loop")
    assert result.reply == "I stopped after 3 steps without a final answer." and len(result.tool_calls) == 3


async def test_a_message_behind_an_approval_is_answered_at_once_as_queued(start_session: Start) -> None:
    session = await start_session()
    await session.ask("/tool pay amount=1 to=bob")
    queued = await session.ask("hello", message_id="behind")
    assert queued.status == "queued_behind_approval" and queued.turn == 2
    await decide(session, await pending_call(session), approve=True)
    assert (await session.wait("behind")).reply == "echo: hello"


# ---------------------------------------------------------------- both sides of each patch
async def test_old_sessions_wait_behind_an_approval(start_session: Start, unpatched: Callable[[str], None]) -> None:
    unpatched(agent_session.QUEUED_BEHIND_APPROVAL)
    session = await start_session()
    await session.ask("/tool pay amount=1 to=bob")
    mid = await session.send("hello")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(session.send_and_wait("hello", mid)), timeout=2)
    await decide(session, await pending_call(session), approve=True)
    assert (await session.wait(mid)).reply == "echo: hello"


@pytest.mark.parametrize("patched", [True, False])
async def test_call_ids_are_made_unique_only_in_patched_sessions(
    start_session: Start, unpatched: Callable[[str], None], patched: bool
) -> None:
    if not patched:
        unpatched("session-unique-call-ids")
    session = await start_session()
    [call] = (await session.ask("/tool calc")).tool_calls
    assert call.call_id == ("t1s1-c1" if patched else "c1")


@pytest.mark.parametrize("patched", [True, False])
async def test_payments_are_checked_before_approval_only_in_patched_sessions(
    start_session: Start, unpatched: Callable[[str], None], patched: bool
) -> None:
    if not patched:
        unpatched("check-before-approval")
    session = await start_session()
    await session.ask("/tool pay amount=1 to=bob")
    record = await decide(session, await pending_call(session), approve=True)
    assert record.status == "ok"
    assert len(session.fakes.checked) == (1 if patched else 0)
    assert ("checked" in session.fakes.paid[0].args) is patched


async def test_the_waiting_update_delivers_its_message_even_ahead_of_the_signal(start_session: Start) -> None:
    session = await start_session()
    result = await session.send_and_wait("hello", "ahead")  # no signal yet: the update alone
    await session.send("hello", "ahead")  # the late signal is a duplicate
    assert result.reply == "echo: hello" and (await session.ask("again")).turn == 2
