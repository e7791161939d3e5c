"""``node.<kind>`` activities: one per node kind, each with its kind's input -> output contract.

While the model streams, its text goes to the turn's event stream (``token`` events), never
into the activity result's history beyond the final text. A retried attempt first emits
``reset`` so clients drop what the failed attempt showed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.accounting import Accounting
from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core.activity_names import node_activity
from core.llm.gateway import OnChunk
from core.nodes import BaseNode
from core.schemas import NodeOutput, SummariseOutput
from core.streams import TurnPublisher, TurnStreams
from core.telemetry import metrics
from core.telemetry.tracing import span

#: heartbeat after this many streamed chunks, so a cancel reaches a long streaming call
#: (the SDK throttles heartbeats, so this costs no round trip per chunk)
HEARTBEAT_EVERY_CHUNKS = 8


class NodeActivities:
    def __init__(
        self, nodes: list[BaseNode], streams: TurnStreams | None = None, accounting: Accounting | None = None
    ) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.streams = streams
        #: prices the calls and records them (usage ledger, metrics); None: usage tokens only
        self.accounting = accounting

    def activities(self) -> list[Callable[..., Any]]:
        return [self._activity(node) for node in self.nodes.values()]

    def _activity(self, node: BaseNode) -> Callable[..., Any]:
        async def run_node(inp: Any) -> Any:
            message_id = getattr(inp, "message_id", None)  # kinds that stream name their turn
            step = getattr(inp, "step", 0)
            events = TurnPublisher(self.streams, inp.session_id, message_id) if self.streams and message_id else None
            attempt = activity.info().attempt
            if events and attempt > 1:
                events.emit("reset", step=step, attempt=attempt)
            async with heartbeating():  # LLM calls can take a while; interval from the activity's timeout
                try:
                    with span(
                        "llm.call",
                        **{
                            "impressox.session_id": inp.session_id,
                            "impressox.turn": getattr(inp, "turn", None),
                            "impressox.step": step,
                            "llm.request.model": getattr(inp, "model", None),
                        },
                    ) as s:
                        out = await permanent_errors_not_retried(
                            node.run(inp, _on_chunk(events, step, str(getattr(inp, "model", ""))))
                        )
                        if isinstance(out, NodeOutput | SummariseOutput):
                            if self.accounting is not None:
                                out = await self.accounting.llm_call(inp, out)
                            s.set_attributes(_span_attributes(out))
                    return out
                except Exception as exc:
                    if events:
                        final = isinstance(exc, ApplicationError) and exc.non_retryable
                        events.emit("error", step=step, attempt=attempt, message=str(exc), final=final)
                    raise
                finally:
                    if events:
                        await events.flush()

        # the kind's own contract: Temporal converts the payloads by these annotations
        run_node.__annotations__ = {"inp": node.input_type, "return": node.output_type}
        return activity.defn(name=node_activity(node.name))(run_node)


def _span_attributes(out: NodeOutput | SummariseOutput) -> dict[str, Any]:
    """The call's model, tokens, cost and cache hit: never its text."""
    return {
        "llm.response.model": out.model or "",
        "llm.usage.prompt_tokens": out.usage.prompt_tokens,
        "llm.usage.completion_tokens": out.usage.completion_tokens,
        "llm.cost_usd": out.usage.cost_usd,
        "llm.cache_hit": bool(getattr(out, "cache_hit", False)),
        "llm.tool_calls": len(getattr(out, "tool_calls", [])),
    }


def _on_chunk(events: TurnPublisher | None, step: int, model: str) -> OnChunk:
    return _ChunkSink(events, step, model)


class _ChunkSink:
    """Streamed text to the turn's events (heartbeating every few chunks, timing the first); a
    switch to a fallback model resets what the failed one showed."""

    def __init__(self, events: TurnPublisher | None, step: int, model: str) -> None:
        self.events, self.step, self.model = events, step, model
        self.chunks = 0
        self.started = time.monotonic()

    async def __call__(self, text: str) -> None:
        if text and self.started:
            metrics.FIRST_TOKEN.labels(self.model).observe(time.monotonic() - self.started)
            self.started = 0.0
        self.chunks += 1
        if self.chunks % HEARTBEAT_EVERY_CHUNKS == 0:
            activity.heartbeat()
        if text and self.events:
            self.events.emit("token", text=text, step=self.step)

    async def on_fallback(self, model: str, reason: str, shown: bool) -> None:
        metrics.LLM_FALLBACKS.labels(model, reason).inc()
        if shown and self.events:  # clients drop the text shown so far, as after a retried attempt
            self.events.emit("reset", step=self.step, reason="fallback", failed_model=model)
