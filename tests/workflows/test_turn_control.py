"""Turn control in AgentSessionWorkflow (time-skipping test server, fake activities): stopping a
turn, double-texting policies, and the shield around side effects.

The fake model streams ``/slow N`` word by word, checking a stop flag as the real node does
(activities/nodes.py polls Redis), and hands back what it streamed when stopped; tools ``pay``
(approval, side effects), ``note`` (side effects) and ``sleepy`` (slow, none) run when asked.

A cancel racing the turn's own end is tested against the real dev server (tests/test_turn_control.py):
the time-skipping test server refuses a cancel request for an activity that completed while the
workflow task ran, where the real server records it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core import approvals
from core.activity_names import TOOL_CHECK, node_activity, tool_activity
from core.schemas import (
    ApprovalDecision,
    AssistantReply,
    Multitask,
    NodeInput,
    NodeOutput,
    SessionStart,
    SessionView,
    StopTurn,
    ToolCallRequest,
    ToolCheck,
    ToolInput,
    ToolOutput,
    ToolReturn,
    ToolSpec,
    TurnResult,
    UserMessage,
    UserPrompt,
)
from tests.workflows.conftest import CALC, PAY, TEST_APPROVAL_KEY, plan
from workflows.agent_session import AgentSessionWorkflow
from workflows.turn_control import CUT_OFF_MARK

NOTE = ToolSpec(name="note", description="write a note", parameters={"type": "object"}, side_effects=True)
SLEEPY = ToolSpec(name="sleepy", description="take long", parameters={"type": "object"}, timeout_seconds=120)
WORD_SECONDS = 0.05


@dataclass
class StreamingFakes:
    inputs: list[NodeInput] = field(default_factory=list)
    #: message id -> reason: the stop flag the session service raises (Redis in production)
    stops: dict[str, str] = field(default_factory=dict)
    streamed: dict[str, list[str]] = field(default_factory=dict)
    paid: list[ToolInput] = field(default_factory=list)
    noted: list[ToolInput] = field(default_factory=list)
    paying: asyncio.Event = field(default_factory=asyncio.Event)
    release_pay: asyncio.Event = field(default_factory=asyncio.Event)
    sleeping: asyncio.Event = field(default_factory=asyncio.Event)

    async def answer(self, inp: NodeInput) -> NodeOutput:
        self.inputs.append(inp)
        conversation = inp.conversation or []
        last_user = next(m for m in reversed(conversation) if isinstance(m, UserPrompt))
        words = last_user.content.split()
        returns = [m for m in conversation[conversation.index(last_user) :] if isinstance(m, ToolReturn)]
        if words[0] == "/tool" and not returns:
            args = dict(p.split("=", 1) for p in words[2:] if "=" in p)
            return NodeOutput(tool_calls=[ToolCallRequest(call_id="c1", name=words[1], args=args)])
        slow = next((int(w) for w in words if w.isdigit()), 0) if "/slow" in words or "slow" in words else 0
        if not slow:
            said = f"tool said: {returns[-1].content}" if returns else f"echo: {last_user.content}"
            return NodeOutput(content=said)
        mid = inp.message_id or ""
        out = self.streamed.setdefault(mid, [])
        try:
            for i in range(1, slow + 1):
                if mid in self.stops:
                    return NodeOutput(content=" ".join(out), stopped=self.stops[mid])
                out.append(f"w{i}")
                activity.heartbeat()
                await asyncio.sleep(WORD_SECONDS)
        except asyncio.CancelledError:  # the workflow's cancel, at a heartbeat
            return NodeOutput(content=" ".join(out), stopped="cancelled")
        return NodeOutput(content=" ".join(out))

    def activities(self) -> list[Callable[..., Any]]:
        @activity.defn(name=node_activity("llm"))
        async def llm(inp: NodeInput) -> NodeOutput:
            return await self.answer(inp)

        @activity.defn(name=tool_activity("pay"))
        async def pay(inp: ToolInput) -> ToolOutput:
            self.paying.set()
            await self.release_pay.wait()  # being signed and sent
            self.paid.append(inp)
            return ToolOutput(output=f"paid {inp.args.get('amount')} to {inp.args.get('to')}: tx 0xabc mined")

        @activity.defn(name=tool_activity("note"))
        async def note(inp: ToolInput) -> ToolOutput:
            self.noted.append(inp)
            return ToolOutput(output="noted")

        @activity.defn(name=tool_activity("sleepy"))
        async def sleepy(inp: ToolInput) -> ToolOutput:
            self.sleeping.set()
            await asyncio.sleep(60)
            return ToolOutput(output="slept")

        @activity.defn(name=tool_activity("calc"))
        async def calc(inp: ToolInput) -> ToolOutput:
            return ToolOutput(output="42")

        @activity.defn(name=TOOL_CHECK)
        async def check(inp: ToolInput) -> ToolCheck:
            return ToolCheck(args=inp.args)

        return [llm, pay, note, sleepy, calc, check]


@dataclass
class Session:
    handle: WorkflowHandle
    fakes: StreamingFakes

    async def send(self, text: str, multitask: Multitask | None = None, mid: str | None = None) -> str:
        mid = mid or uuid.uuid4().hex[:8]
        message = UserMessage(message_id=mid, text=text, multitask=multitask)
        await self.handle.signal(AgentSessionWorkflow.send_message, message)
        return mid

    async def ask(self, text: str, multitask: Multitask | None = None) -> TurnResult:
        message = UserMessage(message_id=uuid.uuid4().hex[:8], text=text, multitask=multitask)
        return await self.handle.execute_update(AgentSessionWorkflow.send_and_wait, message)

    async def wait(self, mid: str) -> TurnResult:
        return await self.handle.execute_update(AgentSessionWorkflow.wait_turn, mid)

    async def cancel(self, mid: str, flag: bool = True) -> TurnResult:
        """As the session service does: the update, accepted, then the stop flag, then its result."""
        update = await self.handle.start_update(
            AgentSessionWorkflow.cancel_turn, StopTurn(message_id=mid), wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        if flag:
            self.fakes.stops[mid] = "cancelled"
        return await update.result()

    async def view(self) -> SessionView:
        return await self.handle.query(AgentSessionWorkflow.view)

    def decision(self, call_id: str, approve: bool, args: dict[str, Any]) -> ApprovalDecision:
        """A decision signed as the session service signs it (the validator refuses unsigned ones)."""
        signature = approvals.sign(TEST_APPROVAL_KEY, self.handle.id, call_id, args, approve)
        return ApprovalDecision(call_id=call_id, approve=approve, decided_by="local", signature=signature)

    async def streaming(self, mid: str, words: int = 3) -> None:
        for _ in range(400):
            if len(self.fakes.streamed.get(mid, [])) >= words:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"{mid} never streamed {words} words")


Start = Callable[..., Any]


@pytest.fixture
async def start_session(env: WorkflowEnvironment) -> AsyncIterator[Start]:
    workers: list[Worker] = []

    async def start(**overrides: Any) -> Session:
        fakes = StreamingFakes()
        queue = f"tc-{uuid.uuid4().hex[:8]}"
        approvals.install_verifying_key(queue, TEST_APPROVAL_KEY)  # as build_worker does
        worker = Worker(
            env.client,
            task_queue=queue,
            workflows=[AgentSessionWorkflow],
            activities=fakes.activities(),
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        await worker.__aenter__()
        workers.append(worker)
        sid = f"web:local:{uuid.uuid4().hex[:8]}"
        agent = plan(tools=[PAY, CALC, NOTE, SLEEPY], **overrides)
        start_input = SessionStart(session_id=sid, owner="local", agent=agent, created_at=datetime.now(UTC))
        handle = await env.client.start_workflow(AgentSessionWorkflow.run, start_input, id=sid, task_queue=queue)
        return Session(handle, fakes)

    yield start
    for w in workers:
        await w.__aexit__(None, None, None)


def refusal(exc: WorkflowUpdateFailedError) -> tuple[str | None, Any]:
    cause = exc.cause
    assert isinstance(cause, ApplicationError), cause
    return cause.type, cause.details[0] if cause.details else None


async def test_a_cancelled_turn_keeps_its_streamed_text_and_the_next_turn_sees_it(start_session: Start) -> None:
    session = await start_session()
    mid = await session.send("/slow 400")
    await session.streaming(mid)
    result = await session.cancel(mid)
    kept = session.fakes.streamed[mid]
    assert result.status == "cancelled" and result.reply == " ".join(kept) and "w400" not in result.reply
    [_, answer] = (await session.view()).messages
    assert answer.status == "cancelled" and answer.content == result.reply
    assert (await session.ask("hello")).reply == "echo: hello"
    seen = session.fakes.inputs[-1].conversation or []
    assert AssistantReply(content=result.reply + CUT_OFF_MARK) in seen  # the model knows it was cut off


async def test_cancelling_an_ended_turn_is_refused_with_its_status(start_session: Start) -> None:
    session = await start_session()
    done = await session.ask("hello")
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await session.cancel(done.message_id, flag=False)
    assert refusal(refused.value) == ("TurnEnded", {"status": "done", "turn": 1})


async def test_reject_refuses_a_second_message_while_a_turn_runs_and_queues_nothing(start_session: Start) -> None:
    session = await start_session()
    mid = await session.send("/slow 400")
    await session.streaming(mid)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await session.ask("hello", multitask="reject")
    assert refusal(refused.value) == ("SessionBusy", {"status": "busy", "turn": 1})
    await session.send("hello again", multitask="reject")  # a signal of it is dropped alike
    view = await session.view()
    assert view.queued_messages == 0 and view.current_turn is not None and view.current_turn.message_id == mid
    await session.cancel(mid)
    assert (await session.ask("hello", multitask="reject")).reply == "echo: hello"  # idle: answered


async def test_enqueue_answers_both_messages_in_order(start_session: Start) -> None:
    session = await start_session()
    first = await session.send("/slow 5")
    await session.streaming(first, 1)
    second = await session.ask("hello", multitask="enqueue")
    assert (await session.wait(first)).reply == "w1 w2 w3 w4 w5" and second.reply == "echo: hello"
    assert second.turn == 2


async def test_interrupt_stops_the_running_turn_and_answers_with_the_partial_answer_in_context(
    start_session: Start,
) -> None:
    session = await start_session()
    mid = await session.send("/slow 400")
    await session.streaming(mid)
    session.fakes.stops[mid] = "interrupted"  # the service raises the flag before it sends
    answer = await session.ask("no, I meant hello", multitask="interrupt")
    old = await session.wait(mid)
    assert old.status == "interrupted" and old.reply and "w400" not in old.reply
    assert answer.reply == "echo: no, I meant hello" and answer.turn == 2
    seen = session.fakes.inputs[-1].conversation or []
    assert AssistantReply(content=old.reply + CUT_OFF_MARK) in seen


async def test_rollback_drops_the_interrupted_turn_from_the_transcript(start_session: Start) -> None:
    session = await start_session()
    mid = await session.send("/slow 400")
    await session.streaming(mid)
    session.fakes.stops[mid] = "rollback"
    answer = await session.ask("hello", multitask="rollback")
    old = await session.wait(mid)
    assert old.status == "interrupted" and old.note is not None and old.note.startswith("rolled back")
    assert [m.message_id for m in (await session.view()).messages] == [answer.message_id] * 2
    seen = session.fakes.inputs[-1].conversation or []
    assert [type(m) for m in seen] == [UserPrompt]  # the model never sees the rolled-back turn


async def test_rollback_after_a_side_effect_degrades_to_interrupt_and_says_so(start_session: Start) -> None:
    session = await start_session()
    mid = await session.send("/tool note then slow 400")
    await session.streaming(mid)
    session.fakes.stops[mid] = "rollback"
    await session.ask("hello", multitask="rollback")
    old = await session.wait(mid)
    assert old.status == "interrupted" and old.note is not None and "note already ran" in old.note
    assert "[note ran before the stop: noted]" in old.reply and len(session.fakes.noted) == 1
    assert mid in [m.message_id for m in (await session.view()).messages]


async def test_interrupt_while_a_tool_runs_ends_the_turn_at_once(start_session: Start) -> None:
    session = await start_session()
    mid = await session.send("/tool sleepy")
    await asyncio.wait_for(session.fakes.sleeping.wait(), 30)
    answer = await asyncio.wait_for(session.ask("hello", multitask="interrupt"), 30)
    old = await session.wait(mid)
    assert answer.reply == "echo: hello"
    assert old.status == "interrupted" and [c.status for c in old.tool_calls] == ["cancelled"]


async def test_a_stop_during_an_approved_payment_waits_for_it_and_reports_it(start_session: Start) -> None:
    session = await start_session()
    mid = await session.send("/tool pay amount=1 to=bob")
    for _ in range(200):
        if (view := await session.view()).pending_approvals:
            break
        await asyncio.sleep(0.05)
    [pending] = view.pending_approvals
    decision = session.decision(pending.call_id, True, pending.args)
    deciding = asyncio.create_task(session.handle.execute_update(AgentSessionWorkflow.decide_approval, decision))
    await asyncio.wait_for(session.fakes.paying.wait(), 30)  # the transfer is being sent
    cancelling = asyncio.create_task(session.cancel(mid))
    for _ in range(200):  # the cancel first (accepted), then the interrupt: the first stop names the turn's end
        if mid in session.fakes.stops:
            break
        await asyncio.sleep(0.05)
    interrupting = asyncio.create_task(session.ask("stop that!", multitask="interrupt"))
    await asyncio.sleep(1.0)
    assert not cancelling.done() and not interrupting.done()  # never cut mid-send
    session.fakes.release_pay.set()
    result = await asyncio.wait_for(cancelling, 30)
    assert result.status == "cancelled" and len(session.fakes.paid) == 1
    assert [(c.name, c.status) for c in result.tool_calls] == [("pay", "ok")]
    assert "pay ran before the stop: paid 1 to bob: tx 0xabc mined" in result.reply
    assert (await deciding).status == "ok"
    assert (await asyncio.wait_for(interrupting, 30)).reply == "echo: stop that!"


async def test_a_cancelled_approval_request_is_withdrawn_and_a_late_approval_is_refused(
    start_session: Start,
) -> None:
    session = await start_session()
    waiting = await session.ask("/tool pay amount=1 to=bob")
    assert waiting.status == "awaiting_approval"
    [pending] = (await session.view()).pending_approvals
    call_id = pending.call_id
    result = await session.cancel(waiting.message_id)
    assert result.status == "cancelled" and [c.status for c in result.tool_calls] == ["withdrawn"]
    assert "nothing was sent" in result.reply and (await session.view()).pending_approvals == []
    decision = session.decision(call_id, True, pending.args)  # signed: refused as no longer pending
    with pytest.raises(WorkflowUpdateFailedError):
        await session.handle.execute_update(AgentSessionWorkflow.decide_approval, decision)
    assert session.fakes.paid == []


async def test_a_queued_message_cancelled_before_its_turn_is_never_answered(start_session: Start) -> None:
    session = await start_session()
    first = await session.send("/slow 400")
    await session.streaming(first)
    second = await session.send("hello")
    cancelling = asyncio.create_task(session.cancel(second, flag=False))
    await session.cancel(first)
    result = await asyncio.wait_for(cancelling, 30)
    assert result.status == "cancelled" and result.reply == ""
    assert all("hello" not in str(i.conversation) for i in session.fakes.inputs)
