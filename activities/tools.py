"""``tool.<name>`` activities: validate args, consult the cache, run the tool, heartbeat.

Each call also appears on the turn's event stream: ``tool_call`` when it starts,
``tool_result`` when it ends (``error`` for an attempt Temporal will retry).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core.cache import Cache, cache_key
from core.schemas import ToolCheck, ToolInput, ToolOutput
from core.streams import TurnPublisher, TurnStreams
from core.tools import Tool, ToolContext, ToolRegistry, ToolResult


class ToolActivities:
    def __init__(
        self, registry: ToolRegistry, cache: Cache, deps: Any = None, streams: TurnStreams | None = None
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.deps = deps
        self.streams = streams

    def activities(self) -> list[Callable[..., Any]]:
        return [self._activity(tool) for tool in self.registry] + [self.check]

    @activity.defn(name="tool.check")
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
            if not (self.streams and inp.message_id):
                return await permanent_errors_not_retried(self.execute(tool, inp))
            events = TurnPublisher(self.streams, inp.session_id, inp.message_id)
            call = {"call_id": inp.call_id, "name": inp.name}
            attempt = activity.info().attempt
            if attempt == 1:
                events.emit("tool_call", **call, args=inp.args)
            try:
                out = await permanent_errors_not_retried(self.execute(tool, inp))
            except ApplicationError as exc:
                if exc.non_retryable:
                    events.emit("tool_result", **call, status="error", result=f"Error: {exc.message}")
                else:
                    events.emit("error", **call, attempt=attempt, message=exc.message)
                raise
            except Exception as exc:
                events.emit("error", **call, attempt=attempt, message=str(exc))
                raise
            else:
                events.emit("tool_result", **call, status="ok", result=out.output)
            finally:
                await events.flush()
            return out

        return activity.defn(name=f"tool.{tool.name}")(run_tool)

    async def execute(self, tool: Tool, inp: ToolInput) -> ToolOutput:
        args = tool.args_model.model_validate(inp.args)
        key = None
        if tool.cache_ttl_seconds and not tool.side_effects:
            key = cache_key(f"tool:{tool.name}", args.model_dump(mode="json"))
            if hit := await self.cache.get(key):
                return ToolOutput(**json.loads(hit), cached=True)
        ctx = self._context(inp)
        async with heartbeating(tool.heartbeat_timeout_seconds):
            result = await tool.func(args, ctx)
        if isinstance(result, str):
            result = ToolResult(output=result)
        out = ToolOutput(output=result.output, data=result.data)
        if key:
            await self.cache.set(key, out.model_dump_json(exclude={"cached"}), tool.cache_ttl_seconds)
        return out
