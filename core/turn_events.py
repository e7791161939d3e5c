"""A turn's stream events, typed: one pydantic discriminated union (on ``event``) and one fold.

The stream itself (core/streams.py) carries ``event`` + JSON ``data``; this module is what the data
means. The writers (activities/nodes.py, activities/tools.py, activities/mcp.py, services/streams.py)
emit these shapes; readers parse them with :func:`parse_event` and fold them with :class:`TurnFold`
(the bots' live replies and the CLI do). The API publishes the union in its OpenAPI schema as the
``TurnStreamEvent`` component of its SSE responses (api/routers/sessions.py), from which the web
client's types are generated; its fold is web/src/chat/turn.ts, the same rules.

Every model allows extra fields: a writer may add one (optional, as for every persisted contract)
without breaking an older reader. A new kind of event is one more model in ``StreamEvent``; a reader
that meets a kind it does not know gets None from :func:`parse_event` and skips it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Event(BaseModel):
    model_config = ConfigDict(extra="allow")


class TokenEvent(_Event):
    """Text of a model step, as it arrives."""

    event: Literal["token"] = "token"
    text: str = ""
    step: int = 0


class ResetEvent(_Event):
    """A model step is retried: the text of that step so far is void."""

    event: Literal["reset"] = "reset"
    step: int = 0
    attempt: int = 1
    #: "fallback": the model failed and the next of the agent's fallbacks answers instead
    reason: str | None = None
    failed_model: str | None = None


class ToolCallEvent(_Event):
    event: Literal["tool_call"] = "tool_call"
    call_id: str = ""
    name: str = ""
    args: dict[str, Any] = Field(default_factory=dict)


class ToolResultEvent(_Event):
    event: Literal["tool_result"] = "tool_result"
    call_id: str = ""
    name: str = ""
    status: str = "ok"
    result: str = ""


class ErrorEvent(_Event):
    """An attempt failed (Temporal retries it unless ``final``)."""

    event: Literal["error"] = "error"
    message: str = ""
    attempt: int = 1
    step: int | None = None
    call_id: str | None = None
    name: str | None = None
    final: bool = False


class ApprovalRequiredEvent(_Event):
    """The turn waits for a human decision; the body is the turn so far (a ``TurnResult``)."""

    event: Literal["approval_required"] = "approval_required"
    approvals: list[dict[str, Any]] = Field(default_factory=list)


class _Terminal(_Event):
    """The body of the non-streamed answer (a ``TurnResult``), exactly once per turn."""

    reply: str | None = None
    status: str | None = None


class DoneEvent(_Terminal):
    event: Literal["done"] = "done"


class CancelledEvent(_Terminal):
    event: Literal["cancelled"] = "cancelled"


class InterruptedEvent(_Terminal):
    event: Literal["interrupted"] = "interrupted"


StreamEvent = Annotated[
    TokenEvent
    | ResetEvent
    | ToolCallEvent
    | ToolResultEvent
    | ErrorEvent
    | ApprovalRequiredEvent
    | DoneEvent
    | CancelledEvent
    | InterruptedEvent,
    Field(discriminator="event"),
]
STREAM_EVENT: TypeAdapter[StreamEvent] = TypeAdapter(StreamEvent)
TERMINAL = (DoneEvent, CancelledEvent, InterruptedEvent)


def stream_event_schemas(ref_template: str = "#/components/schemas/{model}") -> dict[str, dict[str, Any]]:
    """JSON schemas of the union (``TurnStreamEvent``) and of each of its events, by name, with
    references made by ``ref_template`` (OpenAPI components by default)."""
    schema = STREAM_EVENT.json_schema(ref_template=ref_template)
    defs = schema.pop("$defs")
    schema["description"] = (
        "One event of a turn's stream: the SSE event's name as `event`, with its JSON data's fields."
    )
    return {**defs, "TurnStreamEvent": schema}


def parse_event(event: str, data: str | dict[str, Any]) -> StreamEvent | None:
    """The typed event of a stream entry, or None for a kind (or a body) this reader does not know."""
    try:
        body = json.loads(data) if isinstance(data, str) else dict(data)
        if not isinstance(body, dict):
            return None
        return STREAM_EVENT.validate_python({**body, "event": event})
    except (ValueError, ValidationError):
        return None


@dataclass
class TurnFold:
    """A turn's answer so far, from its events in order: the one fold every Python reader uses."""

    text: str = ""
    #: where each model step's tokens begin in ``text`` (a ``reset`` drops the step's tokens)
    starts: dict[int, int] = field(default_factory=dict)
    #: the tool running now, if any
    tool: str | None = None
    #: the terminal event, once it came
    end: DoneEvent | CancelledEvent | InterruptedEvent | None = None

    def apply(self, ev: StreamEvent | None) -> bool:
        """Take one event; True when the visible answer may have changed."""
        if isinstance(ev, TokenEvent):
            self.starts.setdefault(ev.step, len(self.text))
            self.text += ev.text
            self.tool = None
            return True
        if isinstance(ev, ResetEvent):
            if ev.step in self.starts:
                self.text = self.text[: self.starts[ev.step]]
                return True
            return False
        if isinstance(ev, ToolCallEvent):
            self.tool = ev.name or "a tool"
            return True
        if isinstance(ev, ToolResultEvent):
            self.tool = None
            return True
        if isinstance(ev, TERMINAL):  # the answer is the terminal body's: the text so far stays as it was
            self.end = ev
        return False
