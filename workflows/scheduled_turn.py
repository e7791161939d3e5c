"""ScheduledTurnWorkflow: the action of a user's schedule (one run per firing).

It runs the schedule's prompt as a turn of the owner's agent (in the schedule's own session
``schedule:<owner>:<id>``, where any approval it asks for can be given; one nobody gives
expires with the session's approval timeout, so a scheduled turn never moves money on its
own), then stores the answer as a ``schedule`` notification keyed by this run, so a retried
activity still shows it once. A turn that cannot run (the user is at the running-session cap,
the agent is gone) is a ``schedule`` notification too, with status ``failed`` and the reason,
and the run fails with that reason: a user learns why a schedule stays silent. A spent daily
budget fails every schedule of the user until it resets, so that reason is notified once a day.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.activity_names import ALERTS_NOTIFY, SCHEDULE_RUN_TURN
    from core.automations import (
        NotifyBatch,
        OwnedNotification,
        ScheduledTurnInput,
        ScheduledTurnRequest,
        ScheduledTurnResult,
    )
    from core.errors import BudgetExceededError
    from core.notifications import Notification

#: set by Temporal on workflows a schedule starts: the firing's nominal time
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
#: runs started before it name their message by the workflow id alone (replay keeps that)
PER_RUN_MESSAGE_ID = "schedule-message-id-per-run"
#: runs started before it notify every firing refused by a spent budget, not once a day
BUDGET_NOTICE_DAILY = "schedule-budget-notice-once-a-day"
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))


@workflow.defn
class ScheduledTurnWorkflow:
    @workflow.run
    async def run(self, inp: ScheduledTurnInput) -> ScheduledTurnResult:
        info = workflow.info()
        fired_at = info.typed_search_attributes.get(SCHEDULED_START) or info.start_time
        # one message (and notification) per run: a firing's retried activity sends it once. The
        # workflow id alone names the firing's second, which two "Run now" presses can share.
        firing = f"{info.workflow_id}/{info.run_id}" if workflow.patched(PER_RUN_MESSAGE_ID) else info.workflow_id
        message_id = "sched-" + hashlib.sha256(firing.encode()).hexdigest()[:24]
        request = ScheduledTurnRequest(
            schedule_id=inp.schedule_id,
            owner=inp.owner,
            agent=inp.agent,
            prompt=inp.prompt,
            message_id=message_id,
            fired_at=fired_at,
            wait_seconds=inp.wait_seconds,
        )
        try:
            result = await workflow.execute_activity(
                SCHEDULE_RUN_TURN,
                request,
                result_type=ScheduledTurnResult,
                start_to_close_timeout=timedelta(seconds=inp.wait_seconds + 60),
                heartbeat_timeout=timedelta(seconds=30),
                retry_policy=RETRY,
            )
        except ActivityError as err:  # only a permanent error ends the retries
            reason = err.cause.message if isinstance(err.cause, ApplicationError) else str(err.cause or err)
            failed = ScheduledTurnResult(
                schedule_id=inp.schedule_id,
                fired_at=fired_at,
                session_id="",
                status="failed",
                reply=f"The scheduled turn could not run: {reason}",
            )
            spent = isinstance(err.cause, ApplicationError) and err.cause.type == BudgetExceededError.__name__
            if spent and workflow.patched(BUDGET_NOTICE_DAILY):
                # every schedule of the user fails until the budget resets: one notification a
                # day says so (its key is the day's, so the inbox keeps the first), each run fails
                failed.reply += " Scheduled turns refused for the budget today are not notified again."
                await self._notify(inp, message_id, failed, key=f"schedule-budget:{workflow.now():%Y-%m-%d}")
            else:
                await self._notify(inp, message_id, failed)
            raise ApplicationError(failed.reply, type="ScheduledTurnFailed", non_retryable=True) from None
        await self._notify(inp, message_id, result)
        return result

    async def _notify(
        self, inp: ScheduledTurnInput, message_id: str, result: ScheduledTurnResult, key: str | None = None
    ) -> None:
        note = Notification(
            key=key or f"schedule:{message_id}",
            kind="schedule",
            text=result.reply,
            data={
                "schedule_id": inp.schedule_id,
                "fired_at": result.fired_at.isoformat(),
                "session_id": result.session_id,
                "status": result.status,
                "prompt": inp.prompt,
                "answer": result.reply,
            },
            at=workflow.now(),
        )
        await workflow.execute_activity(
            ALERTS_NOTIFY,
            NotifyBatch(items=[OwnedNotification(user=inp.owner, notification=note)]),
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=timedelta(seconds=10),
            retry_policy=RETRY,
        )
