"""PeriodicTaskWorkflow: the action of a ``@tasks.periodic`` schedule (``task:<name>``)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.activity_names import task_activity
    from core.automations import PeriodicTaskInput


@workflow.defn
class PeriodicTaskWorkflow:
    @workflow.run
    async def run(self, inp: PeriodicTaskInput) -> str | None:
        return await workflow.execute_activity(
            task_activity(inp.name),
            inp,
            result_type=str,
            start_to_close_timeout=timedelta(seconds=inp.timeout_seconds),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
