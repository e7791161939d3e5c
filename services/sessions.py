"""Session service: what the API and the CLI share to talk to agent sessions.

A session id embeds its platform and owner (``web:<owner>:<suffix>``), so the owner of
every request is checked without a round trip; a foreign session is reported as unknown.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import uuid
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Literal

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateHandle,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core import approvals
from core.agents import AgentFactory
from core.errors import (
    BadInputError,
    ConflictError,
    NotFoundError,
    SessionExistsError,
    TurnConflictError,
    UnavailableError,
)
from core.names import USER_NAME
from core.quotas import int_quota, quota, refusal
from core.schemas import (
    ApprovalDecision,
    AuditEntry,
    Multitask,
    ReplyAddress,
    SessionStart,
    SessionView,
    ToolCallRecord,
    TurnResult,
    UserMessage,
)
from core.settings import Settings
from core.streams import TurnStreams
from core.telemetry import tracing
from core.temporal.search_attributes import LAST_ACTIVE as LAST_ACTIVE_ATTR
from core.temporal.search_attributes import session_attributes
from services import session_reopen
from services.budgets import BudgetGate
from services.tenants import TenantRegistry
from services.turn_control import TurnControl, busy_info
from workflows.agent_session import AgentSessionWorkflow
from workflows.session_meta import LAST_ACTIVE, TITLE

log = logging.getLogger(__name__)
NAME = USER_NAME  # owners and platforms share the user-name shape
QUERY_TIMEOUT = timedelta(seconds=5)
#: sessions whose last "active" mark this process remembers (a forgotten one is marked again)
TOUCHED_KEPT = 10_000
#: how long a new session waits for the owner's registry (a worker) to grant its slot
REGISTRY_ANSWER_SECONDS = 10.0
#: a message's signal is sent again this often when the server is busy (same id: answered once)
SIGNAL_ATTEMPTS = 3
_BUSY = (
    RPCStatusCode.RESOURCE_EXHAUSTED,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.CANCELLED,
)


class PendingTurn(BaseModel):
    """A message accepted (durable in the session) whose turn has no reply yet: the API's 202 body.

    ``pending``: not answered within the wait; ``queued_behind_approval``: an earlier turn
    awaits a human's approval and this message is answered after it.
    """

    message_id: str
    status: Literal["pending", "queued_behind_approval"] = "pending"
    #: the turn that will answer it, when the session said (queued behind an approval)
    turn: int | None = None
    detail: str | None = None


class SessionSummary(BaseModel):
    session_id: str
    agent: str | None
    platform: str | None
    status: str
    started_at: datetime | None
    #: the first message (clipped) or the title it was renamed to; None before the first message
    title: str | None = None
    #: when it last took a message (None: never, or it ran before this was recorded)
    last_active_at: datetime | None = None


async def _memo_text(wf: WorkflowExecution, key: str) -> str | None:
    try:
        value = await wf.memo_value(key, None)
    except ValueError:  # a memo this process cannot decode (another codec key): still listed
        return None
    return value if isinstance(value, str) else None


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def owner_of(session_id: str) -> str | None:
    parts = session_id.split(":")
    return parts[1] if len(parts) == 3 and NAME.match(parts[1]) else None


class SessionService:
    def __init__(
        self, client: Client, settings: Settings, agents: AgentFactory, streams: TurnStreams | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.agents = agents
        self.budget = BudgetGate(settings)
        self.tenants = TenantRegistry(client, settings)
        #: when each session was last marked active in its owner's registry (loop time)
        self._touched: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        #: stop a turn, double-texting policies (services/turn_control.py)
        self.turns = TurnControl(self, streams)

    # ------------------------------------------------------------------ create
    async def create(
        self,
        owner: str,
        agent: str,
        platform: str = "web",
        session_id: str | None = None,
        *,
        restart_ended: bool = False,
    ) -> str:
        """Start a session; ``session_id`` names it (default: a random suffix). An id that ran
        before is refused unless ``restart_ended`` (a new run of an ended session's id, as a
        schedule does); a running one always is (SessionExistsError)."""
        for label, value in (("owner", owner), ("platform", platform)):
            if not NAME.match(value):
                raise BadInputError(f"invalid {label} {value!r}")
        plan = self.agents.build(agent)
        sid = f"{platform}:{owner}:{session_id or uuid.uuid4().hex[:12]}"
        await self.take_session_slot(owner, sid)
        now = datetime.now(UTC)
        start = SessionStart(
            session_id=sid,
            owner=owner,
            platform=platform,
            agent=plan,
            created_at=now,
            idle_close_seconds=session_reopen.idle_close_seconds(self),
            idle_compact_seconds=session_reopen.idle_compact_seconds(self),
        )
        try:
            await self.client.start_workflow(
                AgentSessionWorkflow.run,
                start,
                id=sid,
                task_queue=self.settings.task_queue,
                id_reuse_policy=(
                    WorkflowIDReusePolicy.ALLOW_DUPLICATE if restart_ended else WorkflowIDReusePolicy.REJECT_DUPLICATE
                ),
                search_attributes=session_attributes(owner, plan.name, platform, now),
                static_summary=f"{plan.name} session of {owner} ({platform})",
            )
        except WorkflowAlreadyStartedError:
            raise SessionExistsError(f"session {sid} already exists") from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.ALREADY_EXISTS:
                raise SessionExistsError(f"session {sid} already exists") from None
            await self.release_session_slot(owner, sid)
            raise
        return sid

    # ------------------------------------------------------------------ messages
    async def send(
        self,
        owner: str,
        session_id: str,
        text: str,
        wait: float,
        message_id: str | None = None,
        reply_to: ReplyAddress | None = None,
        multitask: Multitask | None = None,
    ) -> TurnResult | PendingTurn:
        """Durably deliver a message, then wait up to ``wait`` seconds for its turn.

        A waiting caller sends the message as the ``send_and_wait`` update alone: one RPC and one
        workflow task, where a signal followed by the update cost two of each. The update is in
        history once the session accepts it, which it must have done before it answers; every
        other outcome (no answer in time, a busy or failing server) signals the message before
        anything is answered, so an acknowledged message (200 or 202) is always durable. The
        session answers a message id once, so an update and a signal of the same message never
        make two turns. ``wait <= 0``: the signal alone (durable at once, worker or not).

        ``multitask`` (else the agent's, the platform's, enqueue) says what the message does to a
        turn still running: ``reject`` is refused (TurnConflictError, busy) by the update's validator,
        ``interrupt`` / ``rollback`` stop that turn first (services/turn_control.py).
        """
        text = text.strip()
        if not text:
            raise BadInputError("text must not be empty")
        if len(text) > self.settings.max_message_chars:
            raise BadInputError(f"text is longer than {self.settings.max_message_chars} characters")
        handle = self._handle(owner, session_id)
        self._touch(owner, session_id)
        policy = await self.turns.policy(owner, session_id, multitask)
        msg = UserMessage(
            message_id=message_id or uuid.uuid4().hex,
            text=text,
            sent_at=datetime.now(UTC),
            reply_to=reply_to,
            multitask=None if policy == "enqueue" else policy,
            trace=tracing.current_carrier() or None,
        )
        await self.budget.admit(owner, msg.message_id)  # BudgetExceededError: the day's budget is spent
        try:
            return await self._deliver(owner, handle, msg, session_id, wait, policy)
        except NotFoundError:
            # an ended session (idle-closed or DELETEd) reopens when sent to, its history kept
            if not await session_reopen.reopen(self, owner, session_id):
                raise
        return await self._deliver(owner, self._handle(owner, session_id), msg, session_id, wait, policy)

    async def _deliver(
        self, owner: str, handle: WorkflowHandle, msg: UserMessage, session_id: str, wait: float, policy: Multitask
    ) -> TurnResult | PendingTurn:
        if policy in ("interrupt", "rollback"):
            await self.turns.before_interrupt(owner, session_id, policy)
        if wait <= 0 and policy == "reject":  # refused now if busy: the update's validator answers
            return await self._offer(handle, msg, session_id)
        if wait <= 0:
            await self._signal_message(handle, msg, session_id)
            return PendingTurn(message_id=msg.message_id)
        result = await self._deliver_and_wait(handle, msg, session_id, wait, signalled=False)
        if isinstance(result, TurnResult):
            await self.budget.release(owner, msg.message_id)
        return result

    async def _deliver_and_wait(
        self, handle: WorkflowHandle, msg: UserMessage, session_id: str, wait: float, *, signalled: bool
    ) -> TurnResult | PendingTurn:
        """The ``send_and_wait`` update; unless the message was ``signalled`` already, any outcome
        but the update's answer signals it before returning or raising."""
        deadline = asyncio.get_running_loop().time() + wait
        try:
            result = await asyncio.wait_for(handle.execute_update(AgentSessionWorkflow.send_and_wait, msg), wait)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            if not signalled:  # the update may not have been accepted yet
                await self._signal_message(handle, msg, session_id)
            return PendingTurn(message_id=msg.message_id)  # its reply will appear in the session
        except WorkflowUpdateFailedError as exc:  # refused or failed by the session: a 409, nothing acknowledged
            if (busy := busy_info(exc)) is not None:
                raise TurnConflictError(f"session {session_id} is busy: {exc.cause}", busy) from None
            raise ConflictError(f"message {msg.message_id}: {exc.cause or exc}") from None
        except RPCError as exc:
            if not signalled:  # NotFoundError from here when the session is gone
                await self._signal_message(handle, msg, session_id)
                if exc.status == RPCStatusCode.NOT_FOUND:
                    # the run the update went to continued as new before accepting it, and the
                    # signal went to the new run: wait there for what is left of the wait
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining > 0:
                        return await self._deliver_and_wait(handle, msg, session_id, remaining, signalled=True)
                    return PendingTurn(message_id=msg.message_id)
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise _not_found_or(exc, session_id) from None
            # the message is safe in history: busy, slow, or a session whose workflow task is
            # failing and being retried ("Workflow Task in failed state", from attempt 3 on: an
            # overloaded worker, a bad deploy) is no failure; its reply comes when the session runs
            return PendingTurn(message_id=msg.message_id)
        if result.status == "queued_behind_approval":
            return PendingTurn(message_id=msg.message_id, status=result.status, turn=result.turn, detail=result.reply)
        return result

    async def _offer(self, handle: WorkflowHandle, msg: UserMessage, session_id: str) -> PendingTurn:
        """The ``send_and_wait`` update, waited for until accepted only (the reject policy's send)."""
        try:
            await handle.start_update(
                AgentSessionWorkflow.send_and_wait, msg, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
        except WorkflowUpdateFailedError as exc:
            if (busy := busy_info(exc)) is not None:
                raise TurnConflictError(f"session {session_id} is busy: {exc.cause}", busy) from None
            raise ConflictError(f"message {msg.message_id}: {exc.cause or exc}") from None
        except RPCError:  # not accepted in time: the signal is durable (and dropped if the session is busy)
            await self._signal_message(handle, msg, session_id)
        return PendingTurn(message_id=msg.message_id)

    async def _signal_message(self, handle: WorkflowHandle, msg: UserMessage, session_id: str) -> None:
        """Signal the message; a busy server gets it again (the workflow answers an id once)."""
        for attempt in range(SIGNAL_ATTEMPTS):
            try:
                await handle.signal(AgentSessionWorkflow.send_message, msg)
                return
            except RPCError as exc:
                if exc.status not in _BUSY or attempt == SIGNAL_ATTEMPTS - 1:
                    raise _not_found_or(exc, session_id) from None
                await asyncio.sleep(0.2 * (attempt + 1))

    async def result_of(self, owner: str, session_id: str, message_id: str, wait: float) -> TurnResult | PendingTurn:
        """The reply to a message sent before (by its id alone), waiting up to ``wait`` seconds;
        NotFoundError when the session does not know the message."""
        update = await self.watch_turn(owner, session_id, message_id)
        try:
            result = await asyncio.wait_for(update.result(), max(wait, 1.0))  # an answered one: at once
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return PendingTurn(message_id=message_id)
        except WorkflowUpdateFailedError:
            raise NotFoundError(f"no message {message_id!r} in session {session_id!r}") from None
        if result.status == "queued_behind_approval":
            return PendingTurn(message_id=message_id, status=result.status, turn=result.turn, detail=result.reply)
        return result

    async def watch_turn(self, owner: str, session_id: str, message_id: str) -> WorkflowUpdateHandle[TurnResult]:
        """A ``wait_turn`` update accepted by the session: ``await h.result()`` gives the turn's
        result (or the provisional one while it awaits an approval). NotFoundError when the
        session does not know the message."""
        handle = self._handle(owner, session_id)
        try:
            update = await handle.start_update(
                AgentSessionWorkflow.wait_turn, message_id, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
            # a rejected update comes back as a handle with a known (failed) outcome: reading it
            # costs no round trip then; a running one times out at once and is polled later
            await update.result(rpc_timeout=timedelta(milliseconds=1))
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            pass
        except WorkflowUpdateFailedError:
            raise NotFoundError(f"no message {message_id!r} in session {session_id!r}") from None
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None
        return update

    # ------------------------------------------------------------------ reads
    async def get(self, owner: str, session_id: str) -> SessionView:
        handle = self._handle(owner, session_id)
        try:
            return await handle.query(AgentSessionWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None

    async def list(self, owner: str, limit: int = 100) -> list[SessionSummary]:
        """The owner's ``limit`` most recently active sessions, newest first.

        Running and closed sessions are listed by two queries: visibility (SQL, no ORDER BY) returns
        every running workflow before any closed one, so with one query a user with ``limit``
        running sessions would never see the one they ended a minute ago."""
        if not NAME.match(owner):
            raise BadInputError(f"invalid owner {owner!r}")
        mine = f"WorkflowType='AgentSessionWorkflow' AND ImpressoxOwner='{owner}'"
        out: dict[str, SessionSummary] = {}
        for state in ("ExecutionStatus='Running'", "ExecutionStatus!='Running' AND ExecutionStatus!='ContinuedAsNew'"):
            async for wf in self.client.list_workflows(f"{mine} AND {state}", limit=limit):
                if wf.id in out:  # an older run of a reopened session: the running or newest one came first
                    continue
                attrs = wf.typed_search_attributes
                out[wf.id] = SessionSummary(
                    session_id=wf.id,
                    agent=next((p.value for p in attrs if p.key.name == "ImpressoxAgent"), None),
                    platform=next((p.value for p in attrs if p.key.name == "ImpressoxPlatform"), None),
                    status=wf.status.name.lower() if wf.status else "unknown",
                    started_at=wf.start_time,
                    title=await _memo_text(wf, TITLE),
                    last_active_at=_when(await _memo_text(wf, LAST_ACTIVE))
                    or attrs.get(LAST_ACTIVE_ATTR)
                    or wf.start_time,
                )
        never = datetime.min.replace(tzinfo=UTC)
        newest = sorted(out.values(), key=lambda s: s.last_active_at or s.started_at or never, reverse=True)
        return newest[:limit]

    async def rename(self, owner: str, session_id: str, title: str) -> str:
        """Give a running session a title; answers the title as kept (clipped)."""
        handle = self._handle(owner, session_id)
        try:
            return await handle.execute_update(AgentSessionWorkflow.rename, title)
        except WorkflowUpdateFailedError as exc:
            raise BadInputError(str(getattr(exc.cause, "message", None) or exc.cause or exc)) from None
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None

    # ------------------------------------------------------------------ approvals
    async def decide(
        self, owner: str, session_id: str, call_id: str, approve: bool, wait: float = 60, client: str = "api"
    ) -> ToolCallRecord | None:
        """Approve or reject a pending tool call; returns its outcome (None if still running).

        The decision is signed over the call's arguments as the session shows them and, for a
        transfer, over its binding (chain id, vault, token, recipient, amount, reference, expiry);
        the tool verifies that signature over the arguments and the spend it is about to make. A
        transfer whose re-simulation no longer matches what was shown is refused (ConflictError).
        """
        handle = self._handle(owner, session_id)
        view = await self.get(owner, session_id)
        pending = next((p for p in view.pending_approvals if p.call_id == call_id), None)
        if pending is None:
            decided = next((c for m in view.messages for c in m.tool_calls if c.call_id == call_id), None)
            if decided is not None and decided.status in ("withdrawn", "cancelled"):  # e.g. its turn was stopped
                raise TurnConflictError(
                    f"the approval {call_id!r} is no longer pending ({decided.status}): {decided.result}",
                    {"status": decided.status, "call_id": call_id},
                )
            raise NotFoundError(f"no pending approval with call id {call_id!r}")
        signature = approvals.sign(self._approval_key, session_id, call_id, pending.args, approve, pending.binding)
        decision = ApprovalDecision(
            call_id=call_id,
            approve=approve,
            decided_by=owner,
            signature=signature,
            binding=pending.binding,
            decided_at=datetime.now(UTC),
            client=client,
        )
        try:
            return await asyncio.wait_for(
                handle.execute_update(AgentSessionWorkflow.decide_approval, decision), timeout=wait
            )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            return None
        except WorkflowUpdateFailedError as exc:
            raise _update_refused(exc) from None
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None

    async def cancel_transfer(self, owner: str, session_id: str, call_id: str, wait: float = 30) -> ToolCallRecord:
        """Cancel a transfer in its undo window (or still awaiting approval): nothing is sent."""
        handle = self._handle(owner, session_id)
        try:
            return await asyncio.wait_for(handle.execute_update(AgentSessionWorkflow.cancel_transfer, call_id), wait)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            raise UnavailableError(f"session {session_id} did not confirm the cancel in time") from None
        except WorkflowUpdateFailedError as exc:
            raise _update_refused(exc) from None
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None

    async def withdraw_approvals(self, owner: str, reason: str) -> int:
        """Every running session of ``owner`` withdraws its pending approvals and scheduled transfers."""
        count = 0
        for summary in await self.list(owner):
            if summary.status != "running":
                continue
            try:
                await self._handle(owner, summary.session_id).signal(AgentSessionWorkflow.withdraw_approvals, reason)
                count += 1
            except RPCError:
                pass  # ended meanwhile: nothing left to withdraw
        return count

    async def audit(self, owner: str, session_id: str) -> builtins.list[AuditEntry]:
        handle = self._handle(owner, session_id)
        try:
            return await handle.query(AgentSessionWorkflow.audit, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None

    @cached_property
    def _approval_key(self) -> bytes:
        return approvals.approval_key(self.settings)

    # ------------------------------------------------------------------ limits
    async def take_session_slot(self, owner: str, session_id: str) -> None:
        """Count ``session_id`` among the owner's active sessions, or refuse (QuotaExceededError)
        when they hold max_running_sessions_per_user active ones already. Exact under concurrency:
        the owner's registry workflow grants slots one at a time. Taking a held slot again (a
        restarted schedule session, a retry) is granted."""
        cap = int_quota(self.settings, owner, "max_running_sessions_per_user")
        window = quota(self.settings, owner, "session_active_window_seconds")
        try:
            got = await asyncio.wait_for(
                self.tenants.reserve(owner, "session", session_id, cap, window_seconds=window), REGISTRY_ANSWER_SECONDS
            )
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            # no worker answers the registry (none runs yet, or all restart): a session is durable
            # without one, so it is created all the same and its slot recorded by a signal, counted
            # once a worker runs. The cap is exact whenever a worker does.
            log.warning("no worker answered the session registry of %s: %s counted without a check", owner, session_id)
            await self.tenants.claim(owner, "session", session_id)
            return
        if not got.granted:
            raise refusal(
                owner,
                "running sessions",
                cap,
                "max_running_sessions_per_user",
                "end one first (DELETE /v1/sessions/{id}); a session idle for session_active_window_seconds "
                f"({window:g} s) no longer counts",
            )
        self._touched[session_id] = asyncio.get_running_loop().time()

    async def release_session_slot(self, owner: str, session_id: str) -> None:
        """Free the session's slot (it was ended, or closed itself); call it once the session
        workflow is gone. Harmless for a session that holds none."""
        self._touched.pop(session_id, None)
        await self.tenants.release(owner, "session", session_id)

    def _touch(self, owner: str, session_id: str) -> None:
        """Mark the session active in the owner's registry, at most every quarter window per
        process (one signal, sent in the background: a turn never waits for it)."""
        loop = asyncio.get_running_loop()
        window = quota(self.settings, owner, "session_active_window_seconds")
        last = self._touched.get(session_id)
        if last is not None and loop.time() - last < window / 4:
            return
        self._touched[session_id] = loop.time()
        while len(self._touched) > TOUCHED_KEPT:  # a long-lived process forgets the oldest first
            self._touched.pop(next(iter(self._touched)))
        task = loop.create_task(self._send_touch(owner, session_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _send_touch(self, owner: str, session_id: str) -> None:
        try:
            await self.tenants.touch(owner, session_id)
        except Exception as exc:  # noqa: BLE001 - best effort: the session stays counted until its window ends
            log.warning("could not mark session %s active: %s", session_id, exc)

    async def end(self, owner: str, session_id: str) -> None:
        """End a session for good (its history stays readable in Temporal)."""
        handle = self._handle(owner, session_id)
        await self.turns.stop_for_end(owner, session_id)  # its model call stops now, not at a heartbeat
        try:
            await handle.terminate(reason=f"ended by {owner}")
        except RPCError as exc:
            raise _not_found_or(exc, session_id) from None
        await self.release_session_slot(owner, session_id)

    def check_owner(self, owner: str, session_id: str) -> None:
        """NotFoundError unless ``owner`` owns the session (a foreign session looks unknown)."""
        if owner_of(session_id) != owner:
            raise NotFoundError(f"no session {session_id!r}")

    def _handle(self, owner: str, session_id: str) -> WorkflowHandle:
        self.check_owner(owner, session_id)
        return self.client.get_workflow_handle(session_id)


def _update_refused(exc: WorkflowUpdateFailedError) -> Exception:
    """A refused decision or cancel: 409 when the chain no longer matches the approval shown, else 404."""
    cause = exc.cause
    message = str(getattr(cause, "message", None) or cause or exc)
    if isinstance(cause, ApplicationError) and cause.type == "ApprovalStale":
        return ConflictError(message)
    return NotFoundError(message)


def _not_found_or(exc: RPCError, session_id: str) -> Exception:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no running session {session_id!r}")
    if exc.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.CANCELLED):
        return UnavailableError(f"session {session_id} did not answer in time (is a worker running?)")
    return exc
