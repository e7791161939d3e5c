"""Named retry policies and timeouts: Temporal owns retries (litellm's are off)."""

from datetime import timedelta

from temporalio.common import RetryPolicy

#: node activities heartbeat; a worker that dies mid-LLM-call is noticed after this long
NODE_HEARTBEAT_SECONDS = 10.0

NODE_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
)


def tool_retry(max_attempts: int) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=30),
        maximum_attempts=max_attempts,
    )
