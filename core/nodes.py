"""Nodes: every LLM step follows one contract (template method) and runs as an activity.

``BaseNode.run`` fixes the order: ``prepare`` the request from the NodeInput,
``execute`` it, ``finish`` into a NodeOutput. Subclasses fill in the steps.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from core.llm.gateway import LLMGateway, LLMReply, OnChunk
from core.schemas import NodeInput, NodeOutput


class BaseNode(ABC):
    name: ClassVar[str]

    async def run(self, inp: NodeInput, on_chunk: OnChunk | None = None) -> NodeOutput:
        """``on_chunk`` receives streamed text as it is produced (None: no streaming)."""
        request = self.prepare(inp)
        raw = await self.execute(inp, request, on_chunk)
        return self.finish(inp, raw)

    @abstractmethod
    def prepare(self, inp: NodeInput) -> Any: ...

    @abstractmethod
    async def execute(self, inp: NodeInput, request: Any, on_chunk: OnChunk | None = None) -> Any: ...

    @abstractmethod
    def finish(self, inp: NodeInput, raw: Any) -> NodeOutput: ...


class LLMNode(BaseNode):
    """Ask the agent's model for the next step: an answer or tool calls."""

    name = "llm"

    def __init__(self, gateway: LLMGateway) -> None:
        self.gateway = gateway

    def prepare(self, inp: NodeInput) -> dict[str, Any]:
        tools = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in inp.tools
        ]
        system = {"role": "system", "content": inp.persona}
        return {"messages": [system, *inp.messages], "tools": tools}

    async def execute(self, inp: NodeInput, request: dict[str, Any], on_chunk: OnChunk | None = None) -> LLMReply:
        return await self.gateway.complete(
            inp.model, request["messages"], request["tools"], timeout=inp.timeout_seconds, on_chunk=on_chunk
        )

    def finish(self, inp: NodeInput, raw: LLMReply) -> NodeOutput:
        # a call to a tool the agent lacks is kept: the workflow answers it with an error
        return NodeOutput(content=raw.content, tool_calls=raw.tool_calls, usage=raw.usage, model=raw.model)
