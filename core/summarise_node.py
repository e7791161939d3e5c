"""The ``summarise`` node kind: folds messages that left the model's view into the running summary.

It asks the session's own model with a fixed instruction; the offline model recognises the
instruction (``SUMMARY_MARKER``) and answers with a deterministic summary that keeps the facts it
can parse (numbers, addresses, names), so a session recalls them long after the window.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from core.llm.gateway import LLMGateway, LLMReply, OnChunk
from core.llm.offline_summary import SUMMARY_MARKER
from core.nodes import BaseNode
from core.schemas import SummariseInput, SummariseOutput

INSTRUCTION = (
    f"{SUMMARY_MARKER}\n"
    "You keep a running summary of a conversation whose older messages are no longer shown to the assistant. "
    "Fold the new messages into the summary. Keep every fact the user gave (names, numbers, amounts, "
    "addresses, dates, preferences) and what was decided; drop small talk. Answer with the summary only."
)
#: a summary longer than this is cut (its oldest lines first)
MAX_SUMMARY_CHARS = 6000


class SummariseNode(BaseNode):
    name = "summarise"
    input_type: ClassVar[type[BaseModel]] = SummariseInput
    output_type: ClassVar[type[BaseModel]] = SummariseOutput

    def __init__(self, gateway: LLMGateway) -> None:
        self.gateway = gateway

    def prepare(self, inp: SummariseInput) -> list[dict[str, Any]]:
        lines = [f"turn {m.turn} {m.role}: {m.content}" for m in inp.messages if m.role in ("user", "assistant")]
        previous = inp.summary or "(empty)"
        text = f"Summary so far:\n{previous}\n\nNew messages:\n" + "\n".join(lines)
        return [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": text}]

    async def execute(self, inp: SummariseInput, request: Any, on_chunk: OnChunk | None = None) -> LLMReply:
        # not streamed: nobody reads a summary as it is written
        return await self.gateway.complete(inp.model, request, [], timeout=inp.timeout_seconds)

    def finish(self, inp: SummariseInput, raw: LLMReply) -> SummariseOutput:
        summary = (raw.content or inp.summary or "").strip()
        if len(summary) > MAX_SUMMARY_CHARS:
            summary = summary[-MAX_SUMMARY_CHARS:].split("\n", 1)[-1]
        return SummariseOutput(summary=summary, usage=raw.usage, model=raw.model)
