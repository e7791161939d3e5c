"""Activities of the automations subsystem: deliver alert/schedule notifications, run a scheduled
turn, run a periodic task. Thin adapters over the services."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from automations.tasks import PeriodicTask, TaskContext
from core.activity_names import ALERTS_NOTIFY, SCHEDULE_RUN_TURN, task_activity
from core.automations import NotifyBatch, PeriodicTaskInput, ScheduledTurnRequest, ScheduledTurnResult
from core.errors import BudgetExceededError, NotFoundError, SessionExistsError
from core.telemetry import metrics
from services.notifications import NotificationService
from services.sessions import SessionService

#: inbox signals sent at once by one alerts.notify activity
NOTIFY_CONCURRENCY = 64


class AutomationActivities:
    def __init__(
        self,
        notifications: NotificationService,
        sessions: SessionService | None,
        task_context: TaskContext | None = None,
        periodic: list[PeriodicTask] | None = None,
    ) -> None:
        self.notifications = notifications
        self.sessions = sessions
        self.task_context = task_context
        self.periodic = periodic or []
        # scheduled turns yield to interactive ones: one at a time per user, a few at once per
        # worker (settings schedule_concurrent_turns), so a schedule storm never slows a chat
        limit = sessions.settings.schedule_concurrent_turns if sessions is not None else 1
        self._scheduled_turns = asyncio.Semaphore(limit)
        self._user_turns: dict[str, asyncio.Semaphore] = {}

    def activities(self) -> list[Callable[..., Any]]:
        out: list[Callable[..., Any]] = [self.notify]
        if self.sessions is not None:
            out.append(self.run_turn)
        out += [self._task_activity(t) for t in self.periodic]
        return out

    @activity.defn(name=ALERTS_NOTIFY)
    async def notify(self, batch: NotifyBatch) -> int:
        """Hand each notification to its user's inbox (keys make a retried batch harmless)."""
        gate = asyncio.Semaphore(NOTIFY_CONCURRENCY)
        by_user: dict[str, list[Any]] = {}
        for item in batch.items:
            by_user.setdefault(item.user, []).append(item.notification)

        async def deliver(user: str, notes: list[Any]) -> None:
            async with gate:  # one user's notifications in one signal, in order; users in parallel
                await self.notifications.notify_many(user, notes)

        async with heartbeating():  # the interval follows the heartbeat timeout the workflow set
            await asyncio.gather(*(deliver(u, n) for u, n in by_user.items()))
        for item in batch.items:  # alerts (price, transfer, deposit ...), not the schedules' answers
            if item.notification.kind != "schedule":
                metrics.ALERTS_FIRED.labels(item.notification.kind).inc()
        return len(batch.items)

    @activity.defn(name=SCHEDULE_RUN_TURN)
    async def run_turn(self, req: ScheduledTurnRequest) -> ScheduledTurnResult:
        with counted_run():
            return await permanent_errors_not_retried(self._run_turn(req))

    async def _run_turn(self, req: ScheduledTurnRequest) -> ScheduledTurnResult:
        sessions = self.sessions
        assert sessions is not None
        suffix = req.schedule_id.rsplit(":", 1)[-1]
        sid = f"schedule:{req.owner}:{suffix}"
        send = functools.partial(sessions.send, req.owner, sid, req.prompt, req.wait_seconds, req.message_id)
        user_gate = self._user_turns.setdefault(req.owner, asyncio.Semaphore(1))
        async with heartbeating(), user_gate, self._scheduled_turns:
            try:
                turn = await send()
            except NotFoundError:
                # the first firing, or the user ended the schedule's session: a fresh run of
                # the same id; a user at the running-session cap learns it from the failure
                try:
                    await sessions.create(
                        req.owner, req.agent, platform="schedule", session_id=suffix, restart_ended=True
                    )
                except SessionExistsError:
                    pass  # started meanwhile (an earlier attempt of this activity)
                turn = await send()
        reply = getattr(turn, "reply", None) or f"The scheduled turn is still running (see session {sid})."
        return ScheduledTurnResult(
            schedule_id=req.schedule_id,
            fired_at=req.fired_at,
            session_id=sid,
            status=getattr(turn, "status", "running"),
            reply=reply,
        )

    def _task_activity(self, task: PeriodicTask) -> Callable[..., Any]:
        async def run_task(inp: PeriodicTaskInput) -> str | None:
            if self.task_context is None:
                raise ApplicationError("periodic tasks need a task context on this worker", non_retryable=True)
            return await task.func(self.task_context)

        return activity.defn(name=task_activity(task.name))(run_task)


@contextlib.contextmanager
def counted_run() -> Iterator[None]:
    """A scheduled turn's run in ``impressox_schedule_runs`` (``refused``: the owner's budget is spent)."""
    try:
        yield
    except ApplicationError as exc:  # permanent: the run fails (a spent budget among the reasons)
        metrics.SCHEDULE_RUNS.labels("refused" if exc.type == BudgetExceededError.__name__ else "failed").inc()
        raise
    except Exception:
        metrics.SCHEDULE_RUNS.labels("failed").inc()
        raise
    metrics.SCHEDULE_RUNS.labels("ok").inc()
