"""Request and response bodies of the public API (separate from workflow contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from core.schemas import Multitask, TokenUsage, ToolCallRecord
from services.sessions import PendingTurn


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(default="assistant", min_length=1, max_length=64)
    #: the front door the session is made from (the CLI says "cli")
    platform: Literal["web", "cli"] = "web"


class SessionCreated(BaseModel):
    session_id: str
    agent: str


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=100_000)
    #: optional idempotency key: the same id sent twice is answered once
    message_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    #: what this message does if a turn is still running: wait (enqueue), be refused with 409
    #: (reject), stop it and be answered next (interrupt), or that and drop the stopped turn from
    #: the transcript (rollback). Default: the agent's ``multitask:``, the platform's, enqueue
    multitask: Multitask | None = None


class TurnOut(BaseModel):
    reply: str
    tool_calls: list[ToolCallRecord]
    turn: int
    #: done, failed, awaiting_approval, or for a stopped turn cancelled / interrupted (the reply is
    #: then the answer as far as it was streamed, cut off)
    status: str
    message_id: str
    usage: TokenUsage
    #: a stopped turn: rolled back, or why a rollback degraded to an interrupt
    note: str | None = None
    #: the model that wrote the answer (a fallback's when the agent's model failed)
    model: str | None = None
    #: the turn's trace (when traces are on; also the X-Trace-Id response header)
    trace_id: str | None = None


#: the 202 body: one model with the session service's answer (no copy to keep in step)
TurnPending = PendingTurn


class ApprovalIn(BaseModel):
    # strict: a money-moving decision is a JSON true or false, never "yes", 1, "true" or null
    model_config = ConfigDict(extra="forbid", strict=True)
    approve: StrictBool


class ApprovalOut(BaseModel):
    call_id: str
    approved: bool
    status: str
    result: str | None = None
    #: status "scheduled": when the undo window ends and the transfer is sent (cancel before)
    executes_at: datetime | None = None


class ToolOut(BaseModel):
    name: str
    description: str
    parameters: dict
    requires_approval: bool
    side_effects: bool


class AgentOut(BaseModel):
    name: str
    description: str
    model: str
    tools: list[str]


class ErrorOut(BaseModel):
    error: str
    detail: str | list | None = None
