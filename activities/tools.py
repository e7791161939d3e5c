"""``tool.<name>`` activities: validate args, consult the cache, run the tool, heartbeat.

A tool that requires approval runs only with the session service's signature of an
approving decision over exactly these arguments (core/approvals.py): a decision sent to
the workflow around the platform (Temporal CLI, Web UI, any client) moves nothing.

Each call also appears on the turn's event stream: ``tool_call`` when it starts,
``tool_result`` when it ends (``error`` for an attempt Temporal will retry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.accounting import Accounting
from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core import approvals
from core.activity_names import TOOL_CHECK, TOOL_RECHECK, tool_activity
from core.cache import Cache, cache_key
from core.errors import PermanentError
from core.schemas import ToolCheck, ToolInput, ToolOutput
from core.streams import TurnPublisher, TurnStreams
from core.telemetry import metrics
from core.telemetry.tracing import span
from core.tools import Tool, ToolContext, ToolRegistry, ToolResult
from core.turn_events import ErrorEvent, ToolCallEvent, ToolResultEvent
from services.tools.deps import WorkerDeps


class ToolActivities:
    def __init__(
        self,
        registry: ToolRegistry,
        cache: Cache,
        deps: WorkerDeps | None = None,
        approval_key: bytes | None = None,
        streams: TurnStreams | None = None,
        accounting: Accounting | None = None,
    ) -> None:
        self.registry = registry
        self.cache = cache
        self.deps = deps
        #: None: no approval can be verified, so no tool that requires one runs
        self.approval_key = approval_key
        self.streams = streams
        #: counts the gas of the transactions tools send (ToolResult.gas); None: not counted
        self.accounting = accounting

    def activities(self) -> list[Callable[..., Any]]:
        return [self._activity(tool) for tool in self.registry] + [self.check, self.recheck]

    @activity.defn(name=TOOL_CHECK)
    async def check(self, inp: ToolInput) -> ToolCheck:
        """Validate a call before a human is asked to approve it; returns the normalised args."""
        return await permanent_errors_not_retried(self._check(inp))

    @activity.defn(name=TOOL_RECHECK)
    async def recheck(self, inp: ToolInput) -> ToolCheck:
        """At approval time: the same check again, its refusal returned (``refused``) instead of
        raised, so the session can refuse the approval with the reason and keep asking."""
        try:
            return await self._check(inp)
        except PermanentError as exc:
            return ToolCheck(args=inp.args, refused=str(exc))

    async def _check(self, inp: ToolInput) -> ToolCheck:
        tool = self.registry.get(inp.name)
        args = tool.args_model.model_validate(inp.args)
        found = await tool.precheck(args, self._context(inp)) if tool.precheck else None
        return ToolCheck(args=args.model_dump(mode="json"), **(found or {}))

    def _context(self, inp: ToolInput) -> ToolContext:
        return ToolContext(
            call_id=inp.call_id,
            session_id=inp.session_id,
            owner=inp.owner,
            idempotency_key=inp.idempotency_key,
            deps=self.deps,
            binding=inp.approval.binding if inp.approval else None,
        )

    def _verify_approval(self, inp: ToolInput, normalised: dict[str, Any]) -> None:
        """Before anything is sent: the approval must be the platform's, for exactly this call."""
        decision = inp.approval
        signature = decision.signature if decision else None
        valid = (
            decision is not None
            and self.approval_key is not None
            and decision.approve is True
            and decision.call_id == inp.call_id
            # the arguments about to be used, as normalised by tool.check (what the human saw);
            # the raw arguments are accepted too: they validate to the very same call
            and any(
                approvals.verify(
                    self.approval_key, signature, inp.session_id, inp.call_id, args, True, decision.binding
                )
                for args in (normalised, inp.args)
            )
        )
        if not valid:
            activity.logger.warning("refused %s call %s: no valid platform approval", inp.name, inp.call_id)
            raise ApplicationError(
                f"the approval of this {inp.name} is not valid (it did not come through the platform's API), "
                "so nothing was sent",
                type="ApprovalNotValid",
                non_retryable=True,
            )

    def _activity(self, tool: Tool) -> Callable[..., Any]:
        async def run_tool(inp: ToolInput) -> ToolOutput:
            try:
                out = await self._traced(tool, inp)
            except Exception:
                metrics.TOOL_CALLS.labels(tool.name, "error").inc()
                raise
            metrics.TOOL_CALLS.labels(tool.name, "ok").inc()
            return out

        return activity.defn(name=tool_activity(tool.name))(run_tool)

    async def _traced(self, tool: Tool, inp: ToolInput) -> ToolOutput:
        with span(f"tool {tool.name}", **{"impressox.session_id": inp.session_id, "impressox.tool": tool.name}):
            return await self._run_with_events(tool, inp)

    async def _run_with_events(self, tool: Tool, inp: ToolInput) -> ToolOutput:
        if not (self.streams and inp.message_id):
            return await permanent_errors_not_retried(self.execute(tool, inp))
        events = TurnPublisher(self.streams, inp.session_id, inp.message_id)
        call = {"call_id": inp.call_id, "name": inp.name}
        attempt = activity.info().attempt
        if attempt == 1:
            events.emit(ToolCallEvent(**call, args=inp.args))
        try:
            out = await permanent_errors_not_retried(self.execute(tool, inp))
        except ApplicationError as exc:
            if exc.non_retryable:
                events.emit(ToolResultEvent(**call, status="error", result=f"Error: {exc.message}"))
            else:
                events.emit(ErrorEvent(**call, attempt=attempt, message=exc.message))
            raise
        except Exception as exc:
            events.emit(ErrorEvent(**call, attempt=attempt, message=str(exc)))
            raise
        else:
            events.emit(ToolResultEvent(**call, status="ok", result=out.output))
        finally:
            await events.flush()
        return out

    async def execute(self, tool: Tool, inp: ToolInput) -> ToolOutput:
        args = tool.args_model.model_validate(inp.args)
        if tool.requires_approval:
            self._verify_approval(inp, args.model_dump(mode="json"))
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
        if result.gas is not None and self.accounting is not None:
            await self.accounting.gas_paid(inp.session_id, inp.message_id, inp.agent, result.gas)
        # ``result.data`` stays in the process (tests, future structured UIs): the workflow only needs the text
        out = ToolOutput(output=result.output, receipt=result.data or None if tool.requires_approval else None)
        if key:
            await self.cache.set(key, out.model_dump_json(), tool.cache_ttl_seconds)
        return out
