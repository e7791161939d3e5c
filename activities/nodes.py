"""``node.<kind>`` activities: one per node kind, each with its kind's input -> output contract.

While the model streams, its text goes to the turn's event stream (``token`` events), never
into the activity result's history beyond the final text. A retried attempt first emits
``reset`` so clients drop what the failed attempt showed.

A stopped turn (Stop, an interrupting message, an ended session) stops the model call at once:
the node polls the turn's stop flag (core/streams.py) while it runs, and a Temporal cancel
(which arrives with a heartbeat) does the same. Either way the node returns the text streamed
so far as ``NodeOutput(stopped=...)``, so the partial answer reaches the workflow through
history (replay-safe) and the workflow keeps it, marked as cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from core.streams import STREAM_ERRORS, TurnPublisher, TurnStreams
from core.telemetry import metrics
from core.telemetry.tracing import span
from core.turn_events import ErrorEvent, ResetEvent, TokenEvent

#: heartbeat after this many streamed chunks, so a cancel reaches a long streaming call
#: (the SDK throttles heartbeats, so this costs no round trip per chunk)
HEARTBEAT_EVERY_CHUNKS = 8
#: how often a running node checks its turn's stop flag (one Redis GET each)
STOP_POLL_SECONDS = 0.05


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
                events.emit(ResetEvent(step=step, attempt=attempt))
            streamed: list[str] = []
            # an answer can be stopped mid-stream (kinds answering NodeOutput and naming their turn)
            stoppable = self.streams is not None and message_id is not None and node.output_type is NodeOutput
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
                        sink = _on_chunk(events, step, str(getattr(inp, "model", "")), streamed)
                        call = permanent_errors_not_retried(node.run(inp, sink))
                        if not stoppable or self.streams is None or message_id is None:
                            out = await call
                        else:
                            out = await _stoppable(call, self.streams, inp.session_id, message_id, streamed)
                        if isinstance(out, NodeOutput | SummariseOutput):
                            if self.accounting is not None:
                                out = await self.accounting.llm_call(inp, out)
                            s.set_attributes(_span_attributes(out))
                    return out
                except asyncio.CancelledError:
                    details = activity.cancellation_details()
                    if not stoppable or details is None or not details.cancel_requested:
                        raise  # a worker shutting down or a timeout: Temporal retries the step
                    # the workflow stopped the turn: hand back what was streamed
                    return NodeOutput(content="".join(streamed), stopped="cancelled")
                except Exception as exc:
                    if events:
                        final = isinstance(exc, ApplicationError) and exc.non_retryable
                        events.emit(ErrorEvent(step=step, attempt=attempt, message=str(exc), final=final))
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


async def _stoppable(
    call: Any, streams: TurnStreams, session_id: str, message_id: str, streamed: list[str]
) -> NodeOutput:
    """Run the node's call until it ends or the turn's stop flag is raised (then: the text so far)."""
    work: asyncio.Task[NodeOutput] = asyncio.ensure_future(call)
    ended = asyncio.Event()
    watch = asyncio.create_task(_stop_flag(streams, session_id, message_id, ended))
    try:
        await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            return work.result()
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        return NodeOutput(content="".join(streamed), stopped=watch.result())
    finally:
        ended.set()  # the poller's own way out: a cancel can be lost (below)
        for task in (work, watch):
            task.cancel()


async def _stop_flag(streams: TurnStreams, session_id: str, message_id: str, ended: asyncio.Event) -> str:
    """The stop flag's reason, once it is raised (Redis errors: the Temporal cancel still works);
    "" once ``ended`` is set. redis-py 8 sometimes swallows a cancel that arrives during a
    command (redis/redis-py#2028, #2551): a poller relying on cancel alone kept polling Redis 20
    times a second for ever after about one node call in a hundred."""
    while not ended.is_set():
        await asyncio.sleep(STOP_POLL_SECONDS)
        try:
            reason = await streams.stop_requested(session_id, message_id)
        except STREAM_ERRORS:
            await asyncio.sleep(1.0)
            continue
        if reason:
            return reason
    return ""


def _on_chunk(events: TurnPublisher | None, step: int, model: str, streamed: list[str] | None = None) -> OnChunk:
    return _ChunkSink(events, step, model, streamed)


class _ChunkSink:
    """Streamed text to the turn's events (heartbeating every few chunks, timing the first); a
    switch to a fallback model resets what the failed one showed."""

    def __init__(self, events: TurnPublisher | None, step: int, model: str, streamed: list[str] | None) -> None:
        self.events, self.step, self.model = events, step, model
        #: the text so far (a stopped turn keeps it)
        self.streamed = streamed
        self.chunks = 0
        self.started = time.monotonic()

    async def __call__(self, text: str) -> None:
        if text and self.started:
            metrics.FIRST_TOKEN.labels(self.model).observe(time.monotonic() - self.started)
            self.started = 0.0
        self.chunks += 1
        if self.chunks % HEARTBEAT_EVERY_CHUNKS == 0:
            activity.heartbeat()
        if text and self.streamed is not None:
            self.streamed.append(text)
        if text and self.events:
            self.events.emit(TokenEvent(text=text, step=self.step))

    async def on_fallback(self, model: str, reason: str, shown: bool) -> None:
        metrics.LLM_FALLBACKS.labels(model, reason).inc()
        if self.streamed:
            self.streamed.clear()  # the failed model's text is no part of the answer
        if shown and self.events:  # clients drop the text shown so far, as after a retried attempt
            self.events.emit(ResetEvent(step=self.step, reason="fallback", failed_model=model))
