"""``tool.<name>`` activities: validate args, consult the cache, run the tool, heartbeat."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core.activity_names import TOOL_CHECK, tool_activity
from core.cache import Cache, cache_key
from core.deps import WorkerDeps
from core.schemas import ToolCheck, ToolInput, ToolOutput
from core.tools import Tool, ToolContext, ToolRegistry, ToolResult


class ToolActivities:
    def __init__(self, registry: ToolRegistry, cache: Cache, deps: WorkerDeps | None = None) -> None:
        self.registry = registry
        self.cache = cache
        self.deps = deps

    def activities(self) -> list[Callable[..., Any]]:
        return [self._activity(tool) for tool in self.registry] + [self.check]

    @activity.defn(name=TOOL_CHECK)
    async def check(self, inp: ToolInput) -> ToolCheck:
        """Validate a call before a human is asked to approve it; returns the normalised args."""
        return await permanent_errors_not_retried(self._check(inp))

    async def _check(self, inp: ToolInput) -> ToolCheck:
        tool = self.registry.get(inp.name)
        args = tool.args_model.model_validate(inp.args)
        if tool.precheck:
            await tool.precheck(args, self._context(inp))
        return ToolCheck(args=args.model_dump(mode="json"))

    def _context(self, inp: ToolInput) -> ToolContext:
        return ToolContext(
            call_id=inp.call_id,
            session_id=inp.session_id,
            owner=inp.owner,
            idempotency_key=inp.idempotency_key,
            deps=self.deps,
        )

    def _activity(self, tool: Tool) -> Callable[..., Any]:
        async def run_tool(inp: ToolInput) -> ToolOutput:
            return await permanent_errors_not_retried(self.execute(tool, inp))

        return activity.defn(name=tool_activity(tool.name))(run_tool)

    async def execute(self, tool: Tool, inp: ToolInput) -> ToolOutput:
        args = tool.args_model.model_validate(inp.args)
        key = None
        if tool.cache_ttl_seconds and not tool.side_effects:
            key = cache_key(f"tool:{tool.name}", args.model_dump(mode="json"))
            if hit := await self.cache.get(key):
                # only ``output`` is read: entries written before ``data``/``cached`` were dropped still parse
                return ToolOutput.model_validate_json(hit)
        ctx = self._context(inp)
        async with heartbeating():  # the interval follows the heartbeat timeout the workflow set
            result = await tool.func(args, ctx)
        if isinstance(result, str):
            result = ToolResult(output=result)
        # ``result.data`` stays in the process (tests, future structured UIs): the workflow only needs the text
        out = ToolOutput(output=result.output)
        if key:
            await self.cache.set(key, out.model_dump_json(), tool.cache_ttl_seconds)
        return out
