"""Nodes: the steps of a session that run as ``node.<kind>`` activities (template method).

``BaseNode.run`` fixes the order: ``prepare`` the request from the kind's input, ``execute`` it,
``finish`` into the kind's output. Each kind declares its own ``input_type``/``output_type``
(the activity's contract) and lives in a module of its own: ``llm`` here (the next step: an
answer or tool calls), ``summarise`` in core/summarise_node.py (folds old messages into the
running summary). The third kind of step, another agent, runs as a child workflow
(workflows/agent_calls.py), not an activity.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel

from core.llm.gateway import LLMGateway, LLMReply, OnChunk
from core.llm.messages import to_openai_messages, to_openai_tools
from core.llm.offline_summary import SUMMARY_HEADING
from core.schemas import NodeInput, NodeOutput, ToolSpec
from core.tools import ToolRegistry


class BaseNode(ABC):
    name: ClassVar[str]
    #: the activity's input and result types (NodeInput -> NodeOutput unless a kind says otherwise)
    input_type: ClassVar[type[BaseModel]] = NodeInput
    output_type: ClassVar[type[BaseModel]] = NodeOutput

    async def run(self, inp: Any, on_chunk: OnChunk | None = None) -> Any:
        """``on_chunk`` receives streamed text as it is produced (None: no streaming)."""
        request = self.prepare(inp)
        raw = await self.execute(inp, request, on_chunk)
        return self.finish(inp, raw)

    @abstractmethod
    def prepare(self, inp: Any) -> Any: ...

    @abstractmethod
    async def execute(self, inp: Any, request: Any, on_chunk: OnChunk | None = None) -> Any: ...

    @abstractmethod
    def finish(self, inp: Any, raw: Any) -> Any: ...


class LLMNode(BaseNode):
    """Ask the agent's model for the next step: an answer or tool calls."""

    name = "llm"

    def __init__(self, gateway: LLMGateway, registry: ToolRegistry) -> None:
        self.gateway = gateway
        #: the worker's tools: node inputs carry only tool names, the schemas are looked up here
        self.registry = registry
        self._spec_cache: dict[str, ToolSpec] = {}

    def prepare(self, inp: NodeInput) -> dict[str, Any]:
        if inp.conversation is None:
            # an activity task scheduled before typed conversations (still in flight after a deploy)
            system = {"role": "system", "content": inp.persona}
            return {"messages": [system, *inp.messages], "tools": to_openai_tools(inp.tools)}
        persona = inp.persona
        if inp.summary:
            persona = f"{persona}\n\n{SUMMARY_HEADING}\n{inp.summary}"
        return {
            "messages": to_openai_messages(persona, inp.conversation),
            "tools": to_openai_tools(self._specs(inp.tool_names) + inp.tool_specs),
        }

    def _specs(self, names: list[str]) -> list[ToolSpec]:
        # a tool this worker lacks is left out: the model cannot call it (and the workflow
        # would answer such a call with an error anyway); MCP and agent tools come with their specs
        return [self._spec(n) for n in names if n in self.registry]

    def _spec(self, name: str) -> ToolSpec:
        # a JSON schema is rebuilt on every ``spec()``; tools do not change while a worker runs
        if name not in self._spec_cache:
            self._spec_cache[name] = self.registry.get(name).spec()
        return self._spec_cache[name]

    async def execute(self, inp: NodeInput, request: dict[str, Any], on_chunk: OnChunk | None = None) -> LLMReply:
        return await self.gateway.complete(
            inp.model,
            request["messages"],
            request["tools"],
            timeout=inp.timeout_seconds,
            on_chunk=on_chunk,
            fallbacks=inp.fallbacks,
            # the activity's chunk sink resets the stream and counts the switch (activities/nodes.py)
            on_fallback=getattr(on_chunk, "on_fallback", None),
        )

    def finish(self, inp: NodeInput, raw: LLMReply) -> NodeOutput:
        # a call to a tool the agent lacks is kept: the workflow answers it with an error
        return NodeOutput(
            content=raw.content, tool_calls=raw.tool_calls, usage=raw.usage, model=raw.model, cache_hit=raw.cache_hit
        )
