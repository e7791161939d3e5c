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


@workflow.defn
class BareUpdateWorkflow:
    """The floor of a chat turn: one update whose handler runs N no-op activities."""

    def __init__(self) -> None:
        self._stop = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._stop)

    @workflow.update
    async def steps(self, n: int) -> int:
        for i in range(n):
            await workflow.execute_activity(noop, i, start_to_close_timeout=timedelta(seconds=10))
        return n

    @workflow.signal
    def stop(self) -> None:
        self._stop = True
