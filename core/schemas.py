"""Typed contracts at every boundary: workflow input, signals, updates, queries, activities.

These are persisted in Temporal history: evolve them by adding optional fields only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Role = Literal["user", "assistant", "tool", "system"]
ToolStatus = Literal["ok", "error", "rejected", "expired", "awaiting_approval"]
#: "queued_behind_approval": the message waits in the inbox while an earlier turn awaits a human
TurnStatus = Literal["done", "awaiting_approval", "failed", "queued_behind_approval"]


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    #: what the calls cost in USD (litellm's cost map, the model_prices setting; 0 for a cache hit)
    cost_usd: float = 0.0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
        )


class ToolCallRequest(BaseModel):
    """A tool call the model asked for."""

    call_id: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class UserPrompt(BaseModel):
    """Conversation message: what the user said."""

    kind: Literal["user"] = "user"
    content: str


class AssistantReply(BaseModel):
    """Conversation message: what the model answered, text and/or tool calls."""

    kind: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)


class ToolReturn(BaseModel):
    """Conversation message: a tool call's result, for the call with ``call_id``."""

    kind: Literal["tool_result"] = "tool_result"
    call_id: str
    name: str
    content: str


#: provider-neutral conversation (pydantic-ai's ModelMessage is the model); the LLM node
#: turns it into the provider's wire format, the workflow never builds provider dicts
ModelMessage = Annotated[UserPrompt | AssistantReply | ToolReturn, Field(discriminator="kind")]


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
    #: how the turn ended (assistant messages; None in transcripts recorded before it was kept)
    status: TurnStatus | None = None


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
    #: models tried in order when ``model`` fails in a way retries do not fix (outage, auth, timeout)
    fallbacks: list[str] = Field(default_factory=list)
    tools: list[ToolSpec] = Field(default_factory=list)
    max_steps: int = 6
    context_messages: int = 20
    approval_timeout_seconds: float = 3600.0
    continue_as_new_after_turns: int = 100
    transcript_window: int = 200
    llm_timeout_seconds: float = 60.0

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


class ReplyAddress(BaseModel):
    """Where a chat bot wants a turn's reply delivered (the session's ``deliver`` activity)."""

    #: "telegram" or "discord": the reply goes out on the task queue ``impressox-<platform>``
    platform: str
    chat_id: str
    #: the platform's id of the message to answer (threads the reply), if any
    reply_to: str | None = None
    #: the chat user who sent the message (approval buttons answer only them)
    user_id: str | None = None
    #: Discord: the interaction whose response the reply edits (slash commands)
    interaction_token: str | None = None


class UserMessage(BaseModel):
    """Signal: a chat message. Durable the moment Temporal accepts the signal."""

    message_id: str
    text: str
    sent_at: datetime | None = None
    #: set by the chat bots: the session delivers the reply there (web and CLI callers wait instead)
    reply_to: ReplyAddress | None = None
    #: the sender's trace context (W3C headers, core/telemetry/tracing.py): the turn joins its trace
    trace: dict[str, str] | None = None


class TurnResult(BaseModel):
    message_id: str
    turn: int
    reply: str
    status: TurnStatus = "done"
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    #: the model that wrote the answer (a fallback's when the first model failed)
    model: str | None = None
    #: the trace the turn belongs to (when traces are on)
    trace_id: str | None = None


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
    #: the session service's HMAC of this decision (core/approvals.py); a money-moving
    #: tool refuses to run without a valid one, so decisions sent around the API move nothing
    signature: str | None = None


class SessionState(BaseModel):
    """The compact state carried across continue-as-new."""

    turn_count: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)
    messages: list[ChatMessage] = Field(default_factory=list)
    inbox: list[UserMessage] = Field(default_factory=list)
    results: list[TurnResult] = Field(default_factory=list)
    #: message id -> turn of every answered message still indexed (bounded, oldest dropped):
    #: a late ``wait_turn`` for one whose full result was dropped is answered from this
    answered: dict[str, int] = Field(default_factory=dict)


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
    #: names of the tools the model may call; the node looks their schemas up in the worker's registry
    tool_names: list[str] = Field(default_factory=list)
    #: the recent conversation, typed and provider-neutral (bounded by the plan's context window)
    conversation: list[ModelMessage] | None = None
    timeout_seconds: float = 60.0
    #: the message this turn answers: names the turn's event stream (None: nothing is streamed)
    message_id: str | None = None
    #: the agent (usage is recorded per agent) and the models to try when ``model`` fails for good
    agent: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    #: before typed conversations: full tool specs and OpenAI wire dicts. Only read for activity
    #: tasks scheduled by an older worker and still in flight; never sent any more.
    tools: list[ToolSpec] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)


class NodeOutput(BaseModel):
    content: str | None = None
    tool_calls: list[ToolCallRequest] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    model: str | None = None
    #: the reply came from the LLM cache (deterministic models): it cost nothing
    cache_hit: bool = False


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
    #: the agent (usage is recorded per agent) and the models to try when ``model`` fails for good
    agent: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    #: the signed human decision that allowed this call (tools that require approval)
    approval: ApprovalDecision | None = None


class ToolOutput(BaseModel):
    output: str


class ToolCheck(BaseModel):
    """Result of ``tool.check``: the call's arguments, validated and normalised."""

    args: dict[str, Any] = Field(default_factory=dict)
