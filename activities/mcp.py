"""MCP activities: ``mcp.list_tools`` (a session freezes the list into its plan) and one activity
per call, typed ``mcp.<server>.<tool>`` so the Temporal UI names the server and tool of each.

The call activity is registered as the worker's dynamic activity: a server's tools are known
only once it is asked, and a session lists them long after the worker started. A tool's error
(``isError``) is final and reaches the model as a tool error; a server that is down or dies
mid-call is retried by Temporal (the pool starts a stdio server again).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core import approvals
from core.schemas import McpListInput, McpListOutput, ToolInput, ToolOutput
from core.streams import TurnPublisher, TurnStreams
from core.turn_events import ErrorEvent, ToolCallEvent, ToolResultEvent
from services.mcp import McpPool, McpUnavailable

MCP_LIST_TOOLS = "mcp.list_tools"
MCP_PREFIX = "mcp."


class McpActivities:
    def __init__(self, pool: McpPool, approval_key: bytes | None = None, streams: TurnStreams | None = None) -> None:
        self.pool = pool
        self.approval_key = approval_key
        self.streams = streams

    def activities(self) -> list[Callable[..., Any]]:
        return [self.list_tools, self.call]

    @activity.defn(name=MCP_LIST_TOOLS)
    async def list_tools(self, inp: McpListInput) -> McpListOutput:
        out = McpListOutput()
        for server in inp.servers:
            try:
                out.tools += await self.pool.list_tools(server)
            except Exception as exc:  # noqa: BLE001 - one server down leaves the others' tools usable
                out.errors[server] = str(exc)
        if out.errors and not out.tools and activity.info().attempt < 3:
            # nothing listed at all: worth Temporal's retry (a server still starting)
            raise ApplicationError("; ".join(out.errors.values()), type="McpUnavailable")
        return out

    @activity.defn(dynamic=True)
    async def call(self, args: Sequence[RawValue]) -> ToolOutput:
        kind = activity.info().activity_type
        if not kind.startswith(MCP_PREFIX) or kind.count(".") < 2:
            raise ApplicationError(f"no activity {kind!r} on this worker", type="NotFound", non_retryable=True)
        server, tool = kind[len(MCP_PREFIX) :].split(".", 1)
        inp = activity.payload_converter().from_payload(args[0].payload, ToolInput)
        events = (
            TurnPublisher(self.streams, inp.session_id, inp.message_id) if self.streams and inp.message_id else None
        )
        call = {"call_id": inp.call_id, "name": inp.name}
        attempt = activity.info().attempt
        if events and attempt == 1:
            events.emit(ToolCallEvent(**call, args=inp.args))
        try:
            self._verify_approval(inp)
            async with heartbeating():
                result = await permanent_errors_not_retried(self.pool.call(server, tool, inp.args))
        except ApplicationError as exc:
            if events and exc.non_retryable:
                events.emit(ToolResultEvent(**call, status="error", result=f"Error: {exc.message}"))
            elif events:
                events.emit(ErrorEvent(**call, attempt=attempt, message=exc.message))
            raise
        except McpUnavailable as exc:
            if events:
                events.emit(ErrorEvent(**call, attempt=attempt, message=str(exc)))
            raise ApplicationError(str(exc), type="McpUnavailable") from None
        else:
            if events:
                events.emit(ToolResultEvent(**call, status="ok", result=result.text))
        finally:
            if events:
                await events.flush()
        return ToolOutput(output=result.text)

    def _verify_approval(self, inp: ToolInput) -> None:
        """A call that needed approval runs only with the platform's signature over these arguments."""
        if inp.approval is None:
            return  # the workflow asks for approval only where the plan says so; see _needs
        decision = inp.approval
        if not (
            self.approval_key is not None
            and decision.approve is True
            and decision.call_id == inp.call_id
            and approvals.verify(self.approval_key, decision.signature, inp.session_id, inp.call_id, inp.args, True)
        ):
            raise ApplicationError(
                f"the approval of this {inp.name} is not valid (it did not come through the platform's API), "
                "so nothing was called",
                type="ApprovalNotValid",
                non_retryable=True,
            )
