"""Turn control on the service side: stop a turn, resolve a message's double-texting policy.

The session workflow decides (``cancel_turn``, the message's ``multitask``); this side adds
what the workflow cannot do itself: raise the turn's stop flag in Redis, which the streaming
node polls, so a Stop stops the model within a poll instead of at the node's next heartbeat
(the SDK throttles those to seconds), and map the workflow's refusals to 409 / 404.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from core.errors import NotFoundError, TurnConflictError
from core.schemas import Multitask, SessionView, StopTurn, TurnResult
from core.streams import TurnStreams
from workflows.agent_session import AgentSessionWorkflow

if TYPE_CHECKING:
    from services.sessions import SessionService

log = logging.getLogger(__name__)

#: sessions whose agent is remembered (to find the agent's default policy without a query)
AGENTS_REMEMBERED = 10_000


class TurnControl:
    def __init__(self, sessions: SessionService, streams: TurnStreams | None = None) -> None:
        self.sessions = sessions
        self._streams = streams
        self._agents: dict[str, str] = {}

    @property
    def streams(self) -> TurnStreams:
        if self._streams is None:  # a service built without the app's streams (bots, CLI)
            self._streams = TurnStreams.from_settings(self.sessions.settings)
        return self._streams

    # ------------------------------------------------------------------ policy
    async def policy(self, owner: str, session_id: str, asked: Multitask | None) -> Multitask:
        """The message's own policy, else its agent's (``multitask:``), else its platform's, else enqueue."""
        if asked:
            return asked
        definitions = self.sessions.agents.definitions
        if any(d.multitask for d in definitions.values()):
            agent = self._agents.get(session_id)
            if agent is None:
                agent = (await self.sessions.get(owner, session_id)).agent
                if len(self._agents) >= AGENTS_REMEMBERED:
                    self._agents.clear()
                self._agents[session_id] = agent
            chosen = definitions[agent].multitask if agent in definitions else None
            if chosen:
                return chosen
        platform = session_id.split(":", 1)[0]
        return self.sessions.settings.multitask_defaults.get(platform, "enqueue")

    async def before_interrupt(self, owner: str, session_id: str, policy: Multitask) -> None:
        """An interrupting message is about to be sent: stop the running turn's model call now."""
        try:
            view = await self.sessions.get(owner, session_id)
        except NotFoundError:
            return  # the send reports it
        if view.current_turn is not None:
            reason = "rollback" if policy == "rollback" else "interrupted"
            await self.streams.request_stop(session_id, view.current_turn.message_id, reason)

    # ------------------------------------------------------------------ cancel
    async def cancel(
        self, owner: str, session_id: str, message_id: str | None = None, reason: str = "cancelled"
    ) -> TurnResult:
        """Stop the running turn (``message_id`` None) or the named one; its result once it ended.

        TurnConflictError (409) when it had already ended, with its status; NotFoundError for
        another user's session or an unknown message."""
        handle = self.sessions._handle(owner, session_id)
        if message_id is None:
            view = await self.sessions.get(owner, session_id)
            if view.current_turn is None:
                raise _nothing_running(view)
            message_id = view.current_turn.message_id
        stop = StopTurn(
            message_id=message_id,
            reason="interrupted" if reason == "interrupted" else "cancelled",
            requested_by=owner,
        )
        try:
            update = await handle.start_update(
                AgentSessionWorkflow.cancel_turn, stop, wait_for_stage=WorkflowUpdateStage.ACCEPTED
            )
        except WorkflowUpdateFailedError as exc:
            raise _refused(exc, session_id, message_id) from None
        except RPCError as exc:
            raise _rpc(exc, session_id) from None
        # accepted: the workflow has cancelled the turn; the flag stops a streaming model at once
        await self.streams.request_stop(session_id, message_id, stop.reason)
        try:
            result = await update.result()
        except WorkflowUpdateFailedError as exc:
            raise _refused(exc, session_id, message_id) from None
        if result.status not in ("cancelled", "interrupted"):
            # the turn finished on its own before the stop took: one outcome, the answer stands
            raise TurnConflictError(
                f"turn {result.turn} already ended ({result.status})", {"status": result.status, "turn": result.turn}
            )
        return result

    async def stop_for_end(self, owner: str, session_id: str) -> None:
        """A session is being ended: stop its streaming model call (the workflow is terminated)."""
        try:
            view = await self.sessions.get(owner, session_id)
        except Exception:  # noqa: BLE001 - ending must not depend on a query answering
            return
        if view.current_turn is not None:
            await self.streams.request_stop(session_id, view.current_turn.message_id, "ended")


def _nothing_running(view: SessionView) -> TurnConflictError:
    last = next((m for m in reversed(view.messages) if m.role == "assistant"), None)
    if last is None:
        return TurnConflictError("no turn is running in this session", {"status": "idle", "turn": view.turn_count})
    status = last.status or "done"
    return TurnConflictError(f"turn {last.turn} already ended ({status})", {"status": status, "turn": last.turn})


def busy_info(exc: WorkflowUpdateFailedError) -> dict[str, object] | None:
    """The ``{"status": "busy", "turn": N}`` of a message the session refused (reject policy)."""
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == "SessionBusy" and cause.details:
        detail = cause.details[0]
        return dict(detail) if isinstance(detail, dict) else None
    return None


def _refused(exc: WorkflowUpdateFailedError, session_id: str, message_id: str) -> Exception:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == "TurnEnded":
        detail = cause.details[0] if cause.details else {}
        return TurnConflictError(cause.message, dict(detail) if isinstance(detail, dict) else {})
    return NotFoundError(f"no message {message_id!r} in session {session_id!r}")


def _rpc(exc: RPCError, session_id: str) -> Exception:
    from services.sessions import _not_found_or

    return _not_found_or(exc, session_id)
