"""``node.<kind>`` activities: one per node kind, each with its kind's input -> output contract.

While the model streams, its text goes to the turn's event stream (``token`` events), never
into the activity result's history beyond the final text. A retried attempt first emits
``reset`` so clients drop what the failed attempt showed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import permanent_errors_not_retried
from activities.heartbeat import heartbeating
from core.activity_names import node_activity
from core.llm.gateway import OnChunk
from core.nodes import BaseNode
from core.streams import TurnPublisher, TurnStreams

#: heartbeat after this many streamed chunks, so a cancel reaches a long streaming call
#: (the SDK throttles heartbeats, so this costs no round trip per chunk)
HEARTBEAT_EVERY_CHUNKS = 8


class NodeActivities:
    def __init__(self, nodes: list[BaseNode], streams: TurnStreams | None = None) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.streams = streams

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
                    return await permanent_errors_not_retried(node.run(inp, _on_chunk(events, step)))
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


def _on_chunk(events: TurnPublisher | None, step: int) -> OnChunk:
    chunks = 0

    async def on_chunk(text: str) -> None:
        nonlocal chunks
        chunks += 1
        if chunks % HEARTBEAT_EVERY_CHUNKS == 0:
            activity.heartbeat()
        if text and events:
            events.emit("token", text=text, step=step)

    return on_chunk
