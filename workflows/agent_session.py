"""AgentSessionWorkflow: one durable workflow per conversation (id = the session id).

Messages arrive as signals (durable the moment Temporal accepts them, worker or not)
and are answered one by one in arrival order. Callers wait for a turn's answer with
the ``wait_turn`` update. Each LLM step runs as a ``node.<name>`` activity and each
tool call as a ``tool.<name>`` activity; tools that move money first wait for a
human approval (the ``decide_approval`` update). Long sessions continue-as-new with
a compact state so no run's history grows without bound.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ActivityCancellationType

from workflows import session_meta, summary
from workflows import turn_control as tc
from workflows.agent_calls import ask_agent, call_mcp_tool, freeze_mcp_tools
from workflows.delivery import deliver_to_chat, error_text
from workflows.telemetry import record_approval, record_turn, turn_trace
from workflows.transfers import RECHECK_ON_APPROVE, UNDO_WINDOW, TransferGuard, simulation_text

with workflow.unsafe.imports_passed_through():
    from core import approvals
    from core.activity_names import TOOL_CHECK, node_activity, tool_activity
    from core.bots import ApprovalButton, Delivery
    from core.policies import CHECK_ATTEMPTS, NODE_HEARTBEAT_SECONDS, NODE_RETRY, retry_policy
    from core.schemas import (
        AgentPlan,
        ApprovalDecision,
        AssistantReply,
        AuditEntry,
        ChatMessage,
        CurrentTurn,
        ModelMessage,
        NodeInput,
        NodeOutput,
        PendingApproval,
        SessionStart,
        SessionState,
        SessionView,
        StopTurn,
        TokenUsage,
        ToolCallRecord,
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

#: full results kept for late ``wait_turn`` callers (the reply of an older one is in the transcript)
RESULTS_KEPT = 50
#: answered message ids indexed (id -> turn), carried across continue-as-new: a caller may
#: wait for any of these, however late its wait arrives (~50 bytes each in the compact state)
ANSWERED_KEPT = 5000
#: patch: a wait for a message queued behind a turn that awaits approval answers at once
QUEUED_BEHIND_APPROVAL = "queued-behind-approval"
#: patch: a message with a reply address (a chat bot's) gets its reply and approval prompts
#: delivered by the bot's ``deliver`` activity on the bot's own task queue
BOT_DELIVERY = "bot-delivery"
#: patch: each turn records the session's last activity and (first message) title outside history
SESSION_META = "session-meta"
#: patch: a session idle for ``idle_close_seconds`` completes its run (sending to it reopens it)
IDLE_CLOSE = "idle-close"
#: patch: a session idle for ``idle_compact_seconds`` after a turn continues-as-new with its compact
#: state, so when the worker's cache has evicted it its next turn replays one workflow task, not
#: every task of its last run (bench/idle_sessions.py measures the difference)
IDLE_COMPACT = "idle-compact"
#: patch: call ids carry a tag of their session, so `impressox approve <id>` names one call anywhere
CALL_IDS_PER_SESSION = "call-ids-per-session"
#: patch: a plan naming MCP servers lists their tools (``mcp.list_tools``) before its first turn
MCP_TOOLS = "mcp-tools"
#: patch: what leaves the model's context is folded into a running summary (``node.summarise``)
SUMMARISE = "summarise"


@workflow.defn
class AgentSessionWorkflow:
    @workflow.init
    def __init__(self, start: SessionStart) -> None:
        self._start = start
        self._plan: AgentPlan = start.agent
        self._state: SessionState = start.state or SessionState()
        self._results: dict[str, TurnResult] = {r.message_id: r for r in self._state.results}
        self._current: UserMessage | None = None
        self._current_calls: list[ToolCallRecord] = []
        self._pending: dict[str, PendingApproval] = {}
        self._decisions: dict[str, bool] = {}
        #: the decisions as sent (with their signatures), handed to the tool that moves money
        self._signed: dict[str, ApprovalDecision] = {}
        self._finished_calls: dict[str, ToolCallRecord] = {}
        self._turns_this_run = 0
        #: the model whose reply the current turn used last (a fallback's when the first failed)
        self._answering_model: str | None = None
        # turn control (workflows/turn_control.py): the running turn's task, why it is being
        # stopped, how many shielded tool runs are under way, the call being worked on, what
        # the turn has streamed and used so far, and queued messages stopped before their turn
        self._turn_task: asyncio.Task[tuple[str, TokenUsage]] | None = None
        self._stop: tc.StopRequest | None = None
        self._shielded = 0
        self._open_call: ToolCallRecord | None = None
        self._turn_usage = TokenUsage()
        self._dropped: dict[str, str] = {}
        #: the money path: simulation shown and re-checked, undo window, freeze, audit
        self._guard = TransferGuard(self._state)
        #: token usage of this turn's child agents and summary fold (joins the turn's usage)
        self._extra_usage = TokenUsage()
        self._agent_calls = 0

    # ---------------------------------------------------------------- main loop
    @workflow.run
    async def run(self, start: SessionStart) -> TurnResult | None:
        while True:
            if self._start.one_shot and self._results:
                # a child agent's run: its one turn answered, the parent gets the result
                return next(reversed(self._results.values()))
            timeout, compacting = self._idle_wait()
            try:
                await workflow.wait_condition(lambda: bool(self._state.inbox) or self._should_roll(), timeout=timeout)
            except TimeoutError:
                if not compacting:  # nothing to do for idle_close_seconds: close (a message reopens it)
                    await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._state.inbox))
                    if not self._state.inbox:
                        return None
                # else idle for idle_compact_seconds after a turn: a new run below sheds this one's history
            if self._state.inbox:
                await self._take_turn(self._state.inbox[0])
                continue
            # idle and due for a new run: let in-flight update handlers return first
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._state.inbox))
            if not self._state.inbox:
                workflow.continue_as_new(self._compact_start())

    def _idle_timeout(self) -> timedelta | None:
        idle = self._start.idle_close_seconds
        return timedelta(seconds=idle) if idle and workflow.patched(IDLE_CLOSE) else None

    def _idle_wait(self) -> tuple[timedelta | None, bool]:
        """How long to wait for a message, and whether the wait ends in compaction (a new run with
        the compact state) rather than in closing. A run that took no turn has nothing to shed."""
        close = self._idle_timeout()
        compact = self._start.idle_compact_seconds
        if (
            compact
            and self._turns_this_run > 0
            and (close is None or compact < close.total_seconds())
            and workflow.patched(IDLE_COMPACT)
        ):
            return timedelta(seconds=compact), True
        return close, False

    def _should_roll(self) -> bool:
        return (
            self._turns_this_run >= self._plan.continue_as_new_after_turns
            or workflow.info().is_continue_as_new_suggested()
        )

    def _compact_start(self) -> SessionStart:
        state = self._state.model_copy(
            update={
                "messages": self._state.messages[-self._plan.transcript_window :],
                "results": list(self._results.values())[-RESULTS_KEPT:],
            }
        )
        return self._start.model_copy(update={"state": state})

    # ---------------------------------------------------------------- handlers
    @workflow.signal
    def send_message(self, message: UserMessage) -> None:
        """A chat message; the same message id arriving twice is answered once."""
        if self._known(message.message_id):
            return
        if message.multitask == "reject" and self._busy():
            return  # a refused message (its update was rejected; a signal of it is dropped alike)
        if message.multitask in ("interrupt", "rollback") and self._current is not None:
            self._request_stop(tc.StopRequest("interrupted", rollback=message.multitask == "rollback"))
        self._state.inbox.append(message)

    @workflow.update
    async def send_and_wait(self, message: UserMessage) -> TurnResult:
        """Deliver a message and wait for its turn: what a waiting caller sends.

        Accepted, the update is in history with its message, so the message is durable. A
        caller whose update gets no answer signals the same message (durable even with no
        worker running): whichever arrives first enqueues it, the other is a duplicate, so the
        order in which Temporal delivers them never matters.
        """
        self.send_message(message)
        return await self._wait(message.message_id)

    @send_and_wait.validator
    def _validate_send(self, message: UserMessage) -> None:
        if message.multitask == "reject" and not self._known(message.message_id) and self._busy():
            raise ApplicationError(
                f"the session is answering turn {self._state.turn_count + 1}; this message was not queued",
                {"status": "busy", "turn": self._state.turn_count + 1},
                type="SessionBusy",
                non_retryable=True,
            )

    @workflow.update
    async def cancel_turn(self, stop: StopTurn) -> TurnResult:
        """Stop the turn answering ``stop.message_id``; returns its result once it has ended
        (``cancelled`` / ``interrupted``, or ``done`` when it finished before the stop took)."""
        mid = stop.message_id
        if self._current is not None and self._current.message_id == mid:
            self._request_stop(tc.StopRequest(stop.reason, stop.rollback))
        elif self._answered_result(mid) is None:
            self._dropped.setdefault(mid, stop.reason)  # still queued: ends without a model call
        await workflow.wait_condition(lambda: self._answered_result(mid) is not None)
        result = self._answered_result(mid)
        assert result is not None
        return result

    @cancel_turn.validator
    def _validate_cancel_turn(self, stop: StopTurn) -> None:
        ended = self._answered_result(stop.message_id)
        if ended is not None:
            raise ApplicationError(
                f"turn {ended.turn} already ended ({ended.status})",
                {"status": ended.status, "turn": ended.turn},
                type="TurnEnded",
                non_retryable=True,
            )
        if not self._known(stop.message_id):
            raise ApplicationError(f"unknown message {stop.message_id!r} in this session", type="UnknownMessage")

    def _busy(self) -> bool:
        return self._current is not None or bool(self._state.inbox)

    def _request_stop(self, stop: tc.StopRequest) -> None:
        """Stop the running turn: its task is cancelled at once unless a shielded tool runs (or a
        transfer was just approved): then the turn ends as soon as that tool has finished."""
        if self._stop is None:
            self._stop = stop
        why = f"its turn was {stop.reason}"
        call = self._open_call
        if call is not None and call.call_id in self._guard.scheduled:
            self._guard.cancel(call.call_id, why)  # in its undo window: cancelled whole, nothing sent
            return
        # an approval being decided (re-checked on approve) counts as approved: it is not cut either
        approved = call is not None and (
            self._decisions.get(call.call_id) is True or call.call_id in self._guard.deciding
        )
        if call is not None and call.call_id in self._pending and not approved and call.call_id not in self._decisions:
            self._guard.withdrawn[call.call_id] = why  # before any decision: a late approve is refused
            self._decisions[call.call_id] = False
            return
        task = self._turn_task
        if task is not None and not task.done() and self._shielded == 0 and not approved:
            task.cancel()

    @workflow.update
    async def wait_turn(self, message_id: str) -> TurnResult:
        """Wait for the answer to a message the session already has (or for it to need an
        approval, or to be queued behind another turn's approval)."""
        return await self._wait(message_id)

    async def _wait(self, message_id: str) -> TurnResult:
        early = workflow.patched(QUEUED_BEHIND_APPROVAL)
        await workflow.wait_condition(
            lambda: (
                self._answered_result(message_id) is not None
                or self._awaiting_approval(message_id)
                or (early and self._queued_behind_approval(message_id))
            )
        )
        if (result := self._answered_result(message_id)) is not None:
            return result
        if self._awaiting_approval(message_id):
            return self._provisional_result()
        return self._queued_result(message_id)

    @wait_turn.validator
    def _validate_wait_turn(self, message_id: str) -> None:
        if not self._known(message_id):
            raise ValueError(f"unknown message {message_id!r} in this session")

    @workflow.update
    async def decide_approval(self, decision: ApprovalDecision) -> ToolCallRecord:
        """A human approves or rejects a pending tool call; returns the call's outcome (or the
        transfer scheduled in its undo window)."""
        cid = decision.call_id
        pending = self._pending[cid]
        if decision.approve and pending.binding is not None and workflow.patched(RECHECK_ON_APPROVE):
            # the chain must still match what the human saw; else the update fails (409), still pending
            await self._guard.recheck(self._pending, cid, self._tool_input(pending.as_call(), pending.turn))
            if cid not in self._pending or cid in self._decisions:
                raise ValueError(f"no pending approval with call id {cid!r}")
        self._decisions[cid] = decision.approve
        self._signed[cid] = decision
        self._guard.decided(decision)
        message_id = self._current.message_id if self._current else ""
        # answer once the turn has its reply (or stops at another approval), or once scheduled
        await workflow.wait_condition(
            lambda: (
                (cid in self._finished_calls and (message_id in self._results or bool(self._pending)))
                or cid in self._guard.scheduled
            )
        )
        if cid not in self._finished_calls:
            return self._guard.scheduled[cid].model_copy()
        return self._finished_calls[cid]

    @decide_approval.validator
    def _validate_decision(self, decision: ApprovalDecision) -> None:
        if (
            decision.call_id not in self._pending
            or decision.call_id in self._decisions
            or decision.call_id in self._guard.deciding
        ):
            raise ValueError(f"no pending approval with call id {decision.call_id!r}")
        # a decision sent past the API (Temporal's CLI or Web UI) is refused before it is accepted,
        # so it cannot use up the pending approval. Validators never run on replay: the key, set
        # at worker start (core.approvals), is read here and never enters history.
        key = approvals.verifying_key(workflow.info().task_queue)
        pending = self._pending[decision.call_id]
        if key is None or not approvals.verify(
            key,
            decision.signature,
            self._start.session_id,
            decision.call_id,
            pending.args,
            decision.approve,
            pending.binding,  # a transfer's decision is signed over its on-chain effect too
        ):
            raise ValueError("this decision is not signed by the platform: approve or reject through the API")

    @workflow.update
    async def cancel_transfer(self, call_id: str) -> ToolCallRecord:
        """Cancel an approved transfer inside its undo window (or a pending one): nothing is sent."""
        if call_id in self._pending:
            self._guard.cancel(call_id, "cancelled by you")
            self._decisions[call_id] = False
        else:
            self._guard.cancel(call_id, "cancelled by you")
        await workflow.wait_condition(lambda: call_id in self._finished_calls)
        return self._finished_calls[call_id]

    @cancel_transfer.validator
    def _validate_cancel(self, call_id: str) -> None:
        if call_id not in self._guard.scheduled and (call_id not in self._pending or call_id in self._decisions):
            raise ValueError(f"no transfer with call id {call_id!r} waiting for approval or in its undo window")

    @workflow.signal
    def withdraw_approvals(self, reason: str) -> None:
        """The vault was frozen: withdraw every pending approval and cancel every scheduled transfer."""
        self._guard.withdraw_all(self._pending, self._decisions, reason)

    @workflow.query
    def audit(self) -> list[AuditEntry]:
        """Every money-moving call of the session (GET /v1/sessions/{id}/audit signs and enriches it)."""
        return list(self._state.audit)

    @workflow.update
    def rename(self, title: str) -> str:
        """Give the session a title (shown in session lists instead of its first message)."""
        session_meta.set_title(self._state, title)
        return self._state.title or ""

    @rename.validator
    def _validate_rename(self, title: str) -> None:
        if not title.strip():
            raise ValueError("a title must not be empty")

    @workflow.query
    def snapshot(self) -> SessionStart:
        """The compact start a new run continues from (what reopening an ended session uses)."""
        return self._compact_start()

    @workflow.query
    def view(self) -> SessionView:
        if self._pending:
            status = "awaiting_approval"
        elif self._current or self._state.inbox:
            status = "working"
        else:
            status = "idle"
        return SessionView(
            session_id=self._start.session_id,
            owner=self._start.owner,
            agent=self._plan.name,
            platform=self._start.platform,
            status=status,
            turn_count=self._state.turn_count,
            usage=self._state.usage,
            messages=self._state.messages,
            pending_approvals=list(self._pending.values()),
            # behind the turn being answered (the inbox holds that one too)
            queued_messages=len(self._state.inbox) - (1 if self._current is not None else 0),
            created_at=self._start.created_at,
            title=self._state.title,
            last_active_at=self._state.last_active_at,
            current_turn=(
                CurrentTurn(message_id=self._current.message_id, turn=self._state.turn_count + 1)
                if self._current
                else None
            ),
            scheduled_transfers=list(self._guard.scheduled.values()),
        )

    def _known(self, message_id: str) -> bool:
        return (
            message_id in self._results
            or message_id in self._state.answered
            or any(m.message_id == message_id for m in self._state.inbox)
            or (self._current is not None and self._current.message_id == message_id)
        )

    def _awaiting_approval(self, message_id: str) -> bool:
        return bool(self._pending) and self._current is not None and self._current.message_id == message_id

    def _answered_result(self, message_id: str) -> TurnResult | None:
        """The result of an answered message: kept in full, or rebuilt from the transcript."""
        if message_id in self._results:
            return self._results[message_id]
        turn = self._state.answered.get(message_id)
        if turn is None:
            return None
        reply = next(
            (m for m in reversed(self._state.messages) if m.role == "assistant" and m.message_id == message_id), None
        )
        if reply is None:  # older than the transcript this run keeps
            return TurnResult(message_id=message_id, turn=turn, reply="(answered; the reply is no longer kept)")
        return TurnResult(
            message_id=message_id,
            turn=turn,
            reply=reply.content,
            status=reply.status or "done",
            tool_calls=reply.tool_calls,
        )

    def _queued_behind_approval(self, message_id: str) -> bool:
        return (
            bool(self._pending)
            and (self._current is None or self._current.message_id != message_id)
            and any(m.message_id == message_id for m in self._state.inbox)
        )

    def _queued_result(self, message_id: str) -> TurnResult:
        position = next(i for i, m in enumerate(self._state.inbox) if m.message_id == message_id)
        asks = "; ".join(p.summary for p in self._pending.values())
        return TurnResult(
            message_id=message_id,
            # each message in the inbox takes the next turn in order
            turn=self._state.turn_count + 1 + position,
            reply=f"Queued behind a turn that awaits your approval: {asks}.",
            status="queued_behind_approval",
        )

    def _provisional_result(self) -> TurnResult:
        assert self._current is not None
        asks = "; ".join(p.summary for p in self._pending.values())
        return TurnResult(
            message_id=self._current.message_id,
            turn=self._state.turn_count + 1,
            reply=f"This needs your approval: {asks}.",
            status="awaiting_approval",
            tool_calls=list(self._current_calls),
        )

    # ---------------------------------------------------------------- one turn
    async def _take_turn(self, message: UserMessage) -> None:
        self._current, self._current_calls = message, []
        self._extra_usage, self._agent_calls = TokenUsage(), 0
        turn = self._state.turn_count + 1
        if workflow.patched(SESSION_META):
            session_meta.note_message(self._state, message.text)
        if self._plan.mcp_servers and not self._plan.mcp_listed and workflow.patched(MCP_TOOLS):
            self._plan = await freeze_mcp_tools(self._plan)
            self._start = self._start.model_copy(update={"agent": self._plan})  # continue-as-new keeps it
        if self._plan.summarise and workflow.patched(SUMMARISE):
            self._extra_usage = await summary.fold(self._start.session_id, self._plan, self._state)
        conversation: list[ModelMessage] = [*self._conversation(), UserPrompt(content=message.text)]
        self._state.messages.append(
            ChatMessage(role="user", content=message.text, turn=turn, message_id=message.message_id, at=workflow.now())
        )
        self._answering_model = None
        note: str | None = None
        with turn_trace(message.trace):  # the turn's activities join the sender's trace
            try:
                if workflow.patched(tc.TURN_CONTROL):
                    reply, usage, status, note = await self._controlled_answer(message, turn, conversation)
                else:
                    reply, usage = await self._answer(turn, conversation)
                    status = "done"
            except tc.TurnStopped as stopped:  # a turn begun before turn control, stopped at a step's end
                reply, usage, status, note = self._stopped(stopped.partial)
            except ActivityError as err:
                reply, usage, status = f"Sorry, this turn failed: {error_text(err)}", TokenUsage(), "failed"
        usage = usage + self._extra_usage
        self._finish_turn(
            message,
            turn,
            TurnResult(
                message_id=message.message_id,
                turn=turn,
                reply=reply,
                status=status,
                tool_calls=self._current_calls,
                usage=usage,
                note=note,
                model=self._answering_model,
                trace_id=_trace_id(message.trace),
            ),
        )
        record_turn(self._plan.name, self._start.platform, status, message.sent_at, self._answering_model)
        if note is not None and note.startswith("rolled back"):
            self._state.messages = tc.without_turn(self._state.messages, message.message_id)
        if message.reply_to is not None and workflow.patched(BOT_DELIVERY):
            # after the turn is recorded (waiters answered): the next turn starts once the chat has it
            text = reply if status not in ("cancelled", "interrupted") else f"{reply}\n\n({status})".lstrip()
            await deliver_to_chat(Delivery(address=message.reply_to, text=text, key=f"{message.message_id}/reply"))

    async def _controlled_answer(
        self, message: UserMessage, turn: int, conversation: list[ModelMessage]
    ) -> tuple[str, TokenUsage, str, str | None]:
        """The turn as a cancellable task: (reply, usage, status, note). A stop ends it with the text
        streamed so far and every side effect reported; a failure raises ActivityError as before."""
        self._stop, self._turn_usage, self._open_call = None, TokenUsage(), None
        if message.message_id in self._dropped:  # stopped while it was still queued
            return "", TokenUsage(), self._dropped.pop(message.message_id), None
        self._turn_task = asyncio.create_task(self._answer(turn, conversation))
        partial = ""
        try:
            reply, usage = await self._turn_task
            return reply, usage, "done", None
        except tc.TurnStopped as stopped:
            partial = stopped.partial
        except asyncio.CancelledError:
            if self._stop is None:  # the workflow itself is being cancelled
                raise
        except ActivityError:
            if self._stop is None:
                raise
        finally:
            self._turn_task = None
        return self._stopped(partial)

    def _stopped(self, partial: str) -> tuple[str, TokenUsage, str, str | None]:
        """A stopped turn's outcome: the streamed text and what every side effect did."""
        if self._open_call is not None:  # stopped before it ran: withdrawn, nothing was done
            call, self._open_call = self._open_call, None
            call.status = "withdrawn" if call.status in ("ok", "awaiting_approval") else "cancelled"
            call.result = f"The {call.name} was stopped with its turn before it ran; nothing was done."
            self._current_calls.append(call)
            self._finished_calls[call.call_id] = call
        stop = self._stop or tc.StopRequest("cancelled")
        note = None
        if stop.rollback:
            _, note = tc.rollback_note(self._plan, self._current_calls)
        return tc.stopped_reply(partial, self._current_calls, self._plan), self._turn_usage, stop.reason, note

    async def _answer(self, turn: int, conversation: list[ModelMessage]) -> tuple[str, TokenUsage]:
        """LLM steps and tool calls until the model answers (or the step budget runs out)."""
        usage = TokenUsage()
        for step in range(1, self._plan.max_steps + 1):
            out = await self._node("llm", turn, step, conversation)
            usage = usage + out.usage
            self._answering_model = out.model or self._answering_model
            self._turn_usage = usage
            if out.stopped and self._stop is None:  # the node saw the stop flag before any update came
                self._stop = tc.stop_from_node(out.stopped)
            if out.stopped or (self._stop is not None and out.tool_calls):
                raise tc.TurnStopped(out.content or "")
            if not out.tool_calls:
                # finished before a stop took: the whole answer stands (the stop answers 409 done)
                return out.content or "", usage
            if workflow.patched(CALL_IDS_PER_SESSION):
                # model call ids repeat (cached or deterministic replies), and turn numbers repeat
                # across sessions: the session's tag makes a printed `impressox approve <id>` unambiguous
                tag = session_meta.call_tag(self._start.session_id)
                calls = [c.model_copy(update={"call_id": f"{tag}t{turn}s{step}-{c.call_id}"}) for c in out.tool_calls]
                out = out.model_copy(update={"tool_calls": calls})
            elif workflow.patched("session-unique-call-ids"):
                # model call ids repeat (cached or deterministic replies): an old approval
                # must never match a new call, so ids are made unique within the session
                calls = [c.model_copy(update={"call_id": f"t{turn}s{step}-{c.call_id}"}) for c in out.tool_calls]
                out = out.model_copy(update={"tool_calls": calls})
            conversation.append(AssistantReply(content=out.content, tool_calls=out.tool_calls))
            for call in out.tool_calls:
                record = await self._tool(call, turn)
                self._open_call = None
                self._current_calls.append(record)
                self._finished_calls[record.call_id] = record
                conversation.append(ToolReturn(call_id=call.call_id, name=call.name, content=record.result or ""))
                if self._stop is not None:  # a shielded tool ran to its end: now the turn stops
                    raise tc.TurnStopped()
        return f"I stopped after {self._plan.max_steps} steps without a final answer.", usage

    def _finish_turn(self, message: UserMessage, turn: int, result: TurnResult) -> None:
        self._state.messages.append(
            ChatMessage(
                role="assistant",
                content=result.reply,
                turn=turn,
                message_id=message.message_id,
                at=workflow.now(),
                tool_calls=result.tool_calls,
                status=result.status,
            )
        )
        # keep the transcript bounded inside a run too
        window = self._plan.transcript_window
        if len(self._state.messages) > 2 * window:
            self._state.messages = self._state.messages[-window:]
        self._state.turn_count = turn
        self._state.usage = self._state.usage + result.usage
        self._state.inbox.pop(0)
        self._results[message.message_id] = result
        while len(self._results) > RESULTS_KEPT:
            self._results.pop(next(iter(self._results)))
        self._state.answered[message.message_id] = turn
        while len(self._state.answered) > ANSWERED_KEPT:
            self._state.answered.pop(next(iter(self._state.answered)))
        self._current, self._current_calls = None, []
        self._turns_this_run += 1

    def _conversation(self) -> list[ModelMessage]:
        """The recent transcript as the model sees it (tool calls of past turns left out)."""
        recent = self._state.messages[-self._plan.context_messages :]
        return [
            UserPrompt(content=m.content)
            if m.role == "user"
            else AssistantReply(content=m.content + (tc.CUT_OFF_MARK if m.status in tc.STOPPED else ""))
            for m in recent
            if m.role in ("user", "assistant")
        ]

    async def _node(self, name: str, turn: int, step: int, conversation: list[ModelMessage]) -> NodeOutput:
        # the input shape changed (typed conversation, tool names) but the command did not:
        # the same activity type is scheduled, so no patch is needed; old in-flight tasks
        # still carry ``messages``/``tools`` and the node reads those
        return await workflow.execute_activity(
            node_activity(name),
            NodeInput(
                session_id=self._start.session_id,
                turn=turn,
                step=step,
                model=self._plan.model,
                persona=self._plan.persona,
                tool_names=[t.name for t in self._plan.tools],
                tool_specs=[t for t in self._plan.tools if t.mcp_server or t.agent],
                summary=self._state.summary,
                conversation=list(conversation),
                timeout_seconds=self._plan.llm_timeout_seconds,
                message_id=self._current.message_id if self._current else None,
                agent=self._plan.name,
                fallbacks=list(self._plan.fallbacks),
            ),
            result_type=NodeOutput,
            # each model of the chain may take its whole timeout (fallbacks are tried in one attempt)
            start_to_close_timeout=timedelta(
                seconds=self._plan.llm_timeout_seconds * (1 + len(self._plan.fallbacks)) + 5
            ),
            heartbeat_timeout=timedelta(seconds=NODE_HEARTBEAT_SECONDS),
            retry_policy=NODE_RETRY,
            # a stopped node returns the text it streamed: wait for it (only a stop cancels a node)
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        )

    async def _tool(self, call: ToolCallRequest, turn: int) -> ToolCallRecord:
        record = ToolCallRecord(call_id=call.call_id, name=call.name, args=call.args)
        self._open_call = record
        spec = self._plan.tool(call.name)
        if spec is None:
            record.status, record.result = "error", f"Error: this agent has no tool named {call.name!r}."
            return record
        if spec.agent or (spec.requires_approval and self._start.one_shot):
            return await self._agent_call(call, spec, record)
        approval: ApprovalDecision | None = None
        started = False  # the tool's own activity (not its check) was scheduled
        checked: ToolCheck | None = None
        out: ToolOutput | None = None
        try:
            if spec.requires_approval:
                # validate first, so nobody is asked to approve a call that cannot succeed
                # (an MCP tool is checked by its server, when it runs)
                if workflow.patched("check-before-approval") and spec.mcp_server is None:
                    checked = await workflow.execute_activity(
                        TOOL_CHECK,
                        self._tool_input(call, turn),
                        result_type=ToolCheck,
                        start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=retry_policy(CHECK_ATTEMPTS),
                    )
                    call = call.model_copy(update={"args": checked.args})
                    record.args = checked.args
                approved = await self._approval(call, spec, turn, checked)
                approval = self._signed.pop(call.call_id, None)
                if approved is not True:
                    self._guard.refusal(record, approved)
                    return record
                # the undo window: the last step before the send, so a cancel withdraws it whole
                if checked and checked.undo_seconds > 0 and workflow.patched(UNDO_WINDOW):
                    if not await self._guard.undo_window(record, checked.undo_seconds):
                        return record
            # a side effect under way is never cut: a stop waits for it (workflows/turn_control.py)
            shield = tc.shielded(self._plan, call.name)
            self._shielded += shield
            started = True
            try:
                if spec.mcp_server:
                    record.result = (await call_mcp_tool(spec, self._tool_input(call, turn, approval))).output
                    return record
                out = await workflow.execute_activity(
                    tool_activity(call.name),
                    self._tool_input(call, turn, approval),
                    result_type=ToolOutput,
                    start_to_close_timeout=timedelta(seconds=spec.timeout_seconds),
                    heartbeat_timeout=(
                        timedelta(seconds=spec.heartbeat_timeout_seconds) if spec.heartbeat_timeout_seconds else None
                    ),
                    retry_policy=retry_policy(spec.max_attempts),
                )
            finally:
                self._shielded -= shield
            record.result = out.output
        except ActivityError as err:
            if self._stop is not None and not (started and tc.shielded(self._plan, call.name)):
                record.status, record.result = "cancelled", f"stopped while it ran: {error_text(err)}"
            else:
                record.status, record.result = "error", f"Error: {error_text(err)}"
        finally:
            if spec.requires_approval:
                self._guard.finished(record, out.receipt if out else None)
        return record

    async def _agent_call(self, call: ToolCallRequest, spec: ToolSpec, record: ToolCallRecord) -> ToolCallRecord:
        """``ask_<agent>``: the agent runs as a child workflow; its usage joins this turn's."""
        plan = self._plan.agents.get(spec.agent or "")
        message = str(call.args.get("message") or "").strip()
        record.status = "error"
        if plan is None:  # a tool needing approval, asked for inside a child agent
            record.result = f"Error: {call.name} needs a human's approval, which an agent asked by another cannot get."
        elif not message:
            record.result = f"Error: {call.name} needs a message for the {spec.agent} agent."
        elif self._agent_calls >= self._plan.max_agent_calls_per_turn:
            record.result = f"Error: this turn already asked {self._agent_calls} agents, the most one turn may ask."
        else:
            self._agent_calls += 1
            try:
                result = await ask_agent(self._start, plan, call.call_id, message)
            except ChildWorkflowError as err:
                record.result = f"Error: the {spec.agent} agent failed: {error_text(err)}"
                return record
            self._extra_usage = self._extra_usage + result.usage
            record.result = result.reply
            record.status = "ok" if result.status == "done" else "error"
        return record

    def _tool_input(self, call: ToolCallRequest, turn: int, approval: ApprovalDecision | None = None) -> ToolInput:
        return ToolInput(
            call_id=call.call_id,
            name=call.name,
            args=call.args,
            session_id=self._start.session_id,
            owner=self._start.owner,
            # stable across retries and replays: the side effect's once-only key
            idempotency_key=f"{workflow.info().workflow_id}/t{turn}/{call.call_id}",
            message_id=self._current.message_id if self._current else None,
            # the tool verifies its signature before it sends anything
            approval=approval,
        )

    async def _approval(
        self, call: ToolCallRequest, spec: ToolSpec, turn: int, checked: ToolCheck | None = None
    ) -> bool | None:
        """Wait for a human decision; None when it expired. Only the update decides."""
        now = workflow.now()
        timeout = timedelta(seconds=self._plan.approval_timeout_seconds)
        base = PendingApproval(
            call_id=call.call_id,
            tool=call.name,
            args=call.args,
            summary=_summary(spec, call),
            reason=(
                f"{call.name} is marked as needing approval by its MCP server's configuration"
                if spec.mcp_server
                else f"{call.name} moves funds and needs your approval"
            ),
            turn=turn,
            requested_at=now,
            expires_at=now + timeout,
        )
        self._pending[call.call_id] = self._guard.pending(base, checked)
        self._guard.asked(self._pending[call.call_id])
        asker = self._current.reply_to if self._current else None
        if asker is not None and workflow.patched(BOT_DELIVERY):
            await deliver_to_chat(
                Delivery(
                    address=asker,
                    text=f"This needs your approval: {self._pending[call.call_id].summary}."
                    + simulation_text(self._pending[call.call_id].simulation),
                    kind="approval",
                    approval=ApprovalButton(
                        session_id=self._start.session_id,
                        call_id=call.call_id,
                        summary=self._pending[call.call_id].summary,
                    ),
                    key=f"{self._current.message_id if self._current else ''}/{call.call_id}",
                )
            )
        try:
            await workflow.wait_condition(lambda: call.call_id in self._decisions, timeout=timeout)
            decided = self._decisions.pop(call.call_id)
            record_approval(call.name, "approved" if decided else "rejected")
            return decided
        except TimeoutError:
            record_approval(call.name, "expired")
            return None
        finally:
            self._pending.pop(call.call_id, None)


def _trace_id(carrier: dict[str, str] | None) -> str | None:
    """The trace id of a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    parts = (carrier or {}).get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _summary(spec: ToolSpec, call: ToolCallRequest) -> str:
    template = spec.approval_template
    if template:
        return template.format_map(defaultdict(lambda: "?", {k: str(v) for k, v in call.args.items()}))
    args = ", ".join(f"{k}={v}" for k, v in call.args.items())
    return f"{call.name}({args})"
