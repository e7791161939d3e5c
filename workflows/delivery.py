"""Handing a text to a chat bot: the one way every workflow runs the bots' ``deliver`` activity."""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from core.bots import DELIVER, DELIVERY_ATTEMPT_TIMEOUT, DELIVERY_DEADLINE, DELIVERY_RETRY, Delivery, bot_task_queue


def error_text(err: BaseException) -> str:
    """An activity failure's own message (its cause), not Temporal's wrapper text."""
    cause = err.cause if isinstance(err, ActivityError) and err.cause else err
    return getattr(cause, "message", None) or str(cause)


async def deliver_to_chat(delivery: Delivery) -> None:
    """Run ``deliver`` on the platform bot's task queue. It waits in Temporal while the bot is
    down and retries with backoff; a chat unreachable past DELIVERY_DEADLINE loses this text
    (logged), and the caller goes on."""
    try:
        await workflow.execute_activity(
            DELIVER,
            delivery,
            task_queue=bot_task_queue(delivery.address.platform, workflow.info().task_queue),
            start_to_close_timeout=DELIVERY_ATTEMPT_TIMEOUT,
            schedule_to_close_timeout=DELIVERY_DEADLINE,
            retry_policy=DELIVERY_RETRY,
        )
    except ActivityError as err:
        workflow.logger.warning("delivery %s failed: %s", delivery.key, error_text(err))
