"""The baseline of the benchmarks: a bare workflow running N no-op activities."""

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench.noop")
async def noop(i: int) -> int:
    return i


@workflow.defn
class BareWorkflow:
    @workflow.run
    async def run(self, steps: int) -> int:
        for i in range(steps):
            await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=10))
        return steps
