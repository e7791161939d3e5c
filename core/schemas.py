"""Typed contracts at every boundary: workflow input, signals, updates, queries, activities.

These are persisted in Temporal history: evolve them by adding optional fields only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Role = Literal["user", "assistant", "tool", "system"]
ToolStatus = Literal["ok", "error", "rejected", "expired", "awaiting_approval"]
TurnStatus = Literal["done", "awaiting_approval", "failed"]


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
        )


class ToolCallRequest(BaseModel):
    """A tool call the model asked for."""

    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class ToolCallRecord(BaseModel):
    """A tool call as the session remembers it (what the user sees)."""

    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: str | None = None
    status: ToolStatus = "ok"


class ChatMessage(BaseModel):
    role: Role
    content: str
    turn: int
    message_id: str | None = None
    at: datetime | None = None
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)


class ToolSpec(BaseModel):
    """What the workflow and the model need to know about a tool (no code)."""

    name: str
    description: str
    parameters: dict[str, Any]
    requires_approval: bool = False
    side_effects: bool = False
    timeout_seconds: float = 30.0
    heartbeat_timeout_seconds: float | None = None
    max_attempts: int = 5
    #: how an approval request reads, e.g. "send {amount} {token} to {to}"
    approval_template: str | None = None


class AgentPlan(BaseModel):
    """The run plan the agent factory builds from YAML and a session workflow receives."""

    name: str
    persona: str
    model: str
    tools: list[ToolSpec] = Field(default_factory=list)
    nodes: list[str] = Field(default_factory=lambda: ["llm"])
    max_steps: int = 6
    context_messages: int = 20
    approval_timeout_seconds: float = 3600.0
    continue_as_new_after_turns: int = 100
    transcript_window: int = 200
    llm_timeout_seconds: float = 60.0

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


class UserMessage(BaseModel):
    """Signal: a chat message. Durable the moment Temporal accepts the signal."""

    message_id: str
    text: str
    sent_at: datetime | None = None


class TurnResult(BaseModel):
    message_id: str
    turn: int
    reply: str
    status: TurnStatus = "done"
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)


class PendingApproval(BaseModel):
    call_id: str
    tool: str
    args: dict[str, Any]
    summary: str
    reason: str
    turn: int
    requested_at: datetime
    expires_at: datetime


class ApprovalDecision(BaseModel):
    """Update: a human's decision on a pending approval."""

    call_id: str
    approve: bool
    decided_by: str | None = None


class SessionState(BaseModel):
    """The compact state carried across continue-as-new."""

    turn_count: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)
    messages: list[ChatMessage] = Field(default_factory=list)
    inbox: list[UserMessage] = Field(default_factory=list)
    results: list[TurnResult] = Field(default_factory=list)
    runs: int = 1


class SessionStart(BaseModel):
    """Workflow input of AgentSessionWorkflow."""

    session_id: str
    owner: str
    platform: str = "web"
    agent: AgentPlan
    created_at: datetime | None = None
    state: SessionState | None = None


class SessionView(BaseModel):
    """Query result: what GET /v1/sessions/{id} shows."""

    session_id: str
    owner: str
    agent: str
    platform: str
    status: Literal["idle", "working", "awaiting_approval"]
    turn_count: int
    usage: TokenUsage
    messages: list[ChatMessage]
    pending_approvals: list[PendingApproval]
    queued_messages: int
    created_at: datetime | None = None


class NodeInput(BaseModel):
    """Input of every node activity (one contract for all nodes)."""

    session_id: str
    turn: int
    step: int
    model: str
    persona: str
    tools: list[ToolSpec] = Field(default_factory=list)
    #: the recent conversation in OpenAI chat format (bounded by the plan's context window)
    messages: list[dict[str, Any]] = Field(default_factory=list)
    timeout_seconds: float = 60.0
    #: the message this turn answers: names the turn's event stream (None: nothing is streamed)
    message_id: str | None = None


class NodeOutput(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    model: str | None = None


class ToolInput(BaseModel):
    """Input of a ``tool.<name>`` activity."""

    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    session_id: str
    owner: str
    #: stable across retries and replays: derived from the workflow id and the call id
    idempotency_key: str
    #: the message this turn answers: names the turn's event stream (None: nothing is streamed)
    message_id: str | None = None


class ToolOutput(BaseModel):
    output: str
    data: dict[str, Any] = Field(default_factory=dict)
    cached: bool = False


class ToolCheck(BaseModel):
    """Result of ``tool.check``: the call's arguments, validated and normalised."""

    args: dict[str, Any] = Field(default_factory=dict)
