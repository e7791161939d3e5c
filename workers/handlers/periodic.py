"""Platform periodic tasks (``@tasks.periodic``), reconciled into Temporal Schedules at worker start."""

from __future__ import annotations

from datetime import timedelta

from workers.tasks import TaskContext, tasks


@tasks.periodic("watch-census", every=timedelta(hours=1), timeout_seconds=60)
async def watch_census(ctx: TaskContext) -> str:
    """Count the running watch workflows and their rules (shown as the run's result in the Web UI)."""
    from workflows.watch import WatchWorkflow

    targets = rules = 0
    async for wf in ctx.client.list_workflows("WorkflowType='WatchWorkflow' AND ExecutionStatus='Running'"):
        targets += 1
        try:
            rules += await ctx.client.get_workflow_handle(wf.id).query(WatchWorkflow.rule_count)
        except Exception:  # noqa: BLE001 - a target that just continued as new is counted next hour
            continue
    return f"{targets} watched targets, {rules} rules"
