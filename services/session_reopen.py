"""Reopening an ended session: a message to a session whose run has ended (idle-closed, or
ended with ``DELETE /v1/sessions/{id}``) starts a new run under the same id that continues
from the last run's state (transcript, title, answered ids), then takes the message.

The last run's state comes from its ``snapshot`` query: Temporal answers queries on closed
workflows by replaying their history on a worker, so nothing has to be saved when a session
ends, however it ends (a terminated run saves nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import BadInputError, ConflictError, NotFoundError, UnavailableError
from core.temporal.search_attributes import session_attributes
from workflows.agent_session import AgentSessionWorkflow
from workflows.session_meta import TITLE

if TYPE_CHECKING:
    from services.sessions import SessionService

#: a closed run's history is replayed to answer the snapshot query: allow a long one time
SNAPSHOT_TIMEOUT = timedelta(seconds=30)


def idle_close_seconds(service: SessionService) -> float | None:
    seconds = service.settings.session_idle_close_after.total_seconds()
    return seconds or None


def idle_compact_seconds(service: SessionService) -> float | None:
    seconds = service.settings.session_idle_compact_after.total_seconds()
    return seconds or None


async def reopen(service: SessionService, owner: str, session_id: str) -> bool:
    """Start a new run of the ended session ``session_id`` from its last state. False when there
    is no such session of ``owner`` (or it runs: nothing to reopen)."""
    if service_owner_mismatch(service, owner, session_id):
        return False
    handle = service.client.get_workflow_handle(session_id)
    try:
        described = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    if described.status == WorkflowExecutionStatus.RUNNING:
        return True  # reopened meanwhile (another message got there first): send to it
    if described.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
        return False
    try:
        last = await handle.query(AgentSessionWorkflow.snapshot, rpc_timeout=SNAPSHOT_TIMEOUT)
    except RPCError as exc:
        raise UnavailableError(
            f"session {session_id} has ended and could not be read to reopen it (is a worker running?): {exc.message}"
        ) from None
    await service.take_session_slot(owner, session_id)  # a reopened session runs again: it counts
    try:
        plan = service.agents.build(last.agent.name)  # today's configuration of its agent
    except BadInputError:  # the agent was removed from the configuration: keep the plan it ran with
        plan = last.agent
    start = last.model_copy(
        update={
            "agent": plan,
            "idle_close_seconds": idle_close_seconds(service),
            "idle_compact_seconds": idle_compact_seconds(service),
        }
    )
    title = start.state.title if start.state else None
    try:
        await service.client.start_workflow(
            AgentSessionWorkflow.run,
            start,
            id=session_id,
            task_queue=service.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=session_attributes(owner, plan.name, start.platform, datetime.now(UTC)),
            memo={TITLE: title} if title else None,
            static_summary=f"{plan.name} session of {owner} ({start.platform}), reopened",
        )
    except WorkflowAlreadyStartedError:
        return True  # a concurrent message reopened it
    except RPCError as exc:
        if exc.status == RPCStatusCode.ALREADY_EXISTS:
            return True
        raise ConflictError(f"session {session_id} has ended and could not be reopened: {exc.message}") from None
    return True


def service_owner_mismatch(service: SessionService, owner: str, session_id: str) -> bool:
    try:
        service.check_owner(owner, session_id)
    except NotFoundError:
        return True
    return False
