"""Request and response bodies of the public API (separate from workflow contracts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from core.schemas import TokenUsage, ToolCallRecord
from services.sessions import PendingTurn


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: str = Field(default="assistant", min_length=1, max_length=64)
    #: the front door the session is made from (the CLI says "cli")
    platform: Literal["web", "cli"] = "web"


class SessionRename(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)


class SessionRenamed(BaseModel):
    session_id: str
    title: str


class SessionCreated(BaseModel):
    session_id: str
    agent: str


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the message; may be left out when ``message_id`` names one sent before (fetches its reply)
    text: str | None = Field(default=None, min_length=1, max_length=100_000)
    #: optional idempotency key: the same id sent twice is answered once
    message_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")

    @model_validator(mode="after")
    def _text_or_id(self) -> MessageIn:
        if self.text is None and self.message_id is None:
            raise ValueError("send text (a new message) or the message_id of one sent before (its reply)")
        return self


class TurnOut(BaseModel):
    reply: str
    tool_calls: list[ToolCallRecord]
    turn: int
    status: str
    message_id: str
    usage: TokenUsage


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
