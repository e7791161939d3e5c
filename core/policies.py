"""Retry policies and timeouts of the session's activities: Temporal owns retries (litellm's are off).

Imported by the workflow (which schedules the activities); activities read their heartbeat
interval from ``activity.info()`` instead, so they need nothing from here.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

#: node activities heartbeat; a worker that dies mid-LLM-call is noticed after this long
NODE_HEARTBEAT_SECONDS = 10.0
#: attempts of an LLM step (transient errors: timeouts, rate limits, outages)
NODE_ATTEMPTS = 5
#: attempts of ``tool.check`` (it only validates; a permanent error is not retried anyway)
CHECK_ATTEMPTS = 3


def retry_policy(max_attempts: int) -> RetryPolicy:
    """The one backoff every activity of a session uses; only the attempt count differs."""
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=max_attempts,
    )


NODE_RETRY = retry_policy(NODE_ATTEMPTS)
