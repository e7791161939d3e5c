"""Typed contracts at every boundary: workflow input, signals, updates, queries, activities.

These are persisted in Temporal history: evolve them by adding optional fields only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Role = Literal["user", "assistant", "tool", "system"]
#: "scheduled": approved, waiting out its undo window; "cancelled": cancelled in that window, or
#: stopped with its turn while it ran; "withdrawn": the approval was withdrawn (the vault was frozen,
#: or its turn was stopped) before anyone decided
ToolStatus = Literal["ok", "error", "rejected", "expired", "awaiting_approval", "scheduled", "cancelled", "withdrawn"]
#: "queued_behind_approval": the message waits in the inbox while an earlier turn awaits a human;
#: "cancelled" / "interrupted": stopped by the user / by a newer message (workflows/turn_control.py)
TurnStatus = Literal["done", "awaiting_approval", "failed", "queued_behind_approval", "cancelled", "interrupted"]
#: what a message does to a turn that is still running (double-texting): wait its turn, be refused,
#: stop the running turn and be answered next, or that and drop the stopped turn from the transcript
Multitask = Literal["enqueue", "reject", "interrupt", "rollback"]


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
    #: a scheduled transfer: when its undo window ends and it is sent
    executes_at: datetime | None = None


class ChatMessage(BaseModel):
    role: Role
    content: str
    turn: int
    message_id: str | None = None
    at: datetime | None = None
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    #: how the turn ended (assistant messages; None in transcripts recorded before it was kept);
    #: "cancelled" / "interrupted": the content is the answer as far as it was streamed (cut off)
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
    #: an MCP server's tool (``mcp.<server>.<tool>`` activity): the server and the tool's own name
    mcp_server: str | None = None
    mcp_tool: str | None = None
    #: ``ask_<agent>``: runs that agent (``AgentPlan.agents``) as a child workflow
    agent: str | None = None


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
    #: MCP servers whose tools the session lists once (``mcp.list_tools``) and adds to ``tools``
    mcp_servers: list[str] = Field(default_factory=list)
    #: True once the MCP tools are in ``tools`` (frozen: replay never asks a live server)
    mcp_listed: bool = False
    #: the agents this one may ask (``ask_<name>`` tools), each with its own frozen plan
    agents: dict[str, AgentPlan] = Field(default_factory=dict)
    #: child agents one turn may ask at most
    max_agent_calls_per_turn: int = 8
    #: fold what leaves the model's context into a running summary (the ``summarise`` node)
    summarise: bool = False
    #: messages folded at once (the fold runs when this many are out of the model's view)
    summary_batch: int = 10

    def tool(self, name: str) -> ToolSpec | None:
        return next((t for t in self.tools if t.name == name), None)


class ReplyAddress(BaseModel):
    """Where a chat bot wants a turn's reply delivered (the session's ``deliver`` activity)."""

    #: the chat platform's name (core/platforms.py): the reply goes out on its task queue ``impressox-<platform>``
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
    #: the double-texting policy the session service resolved for it (None: enqueue)
    multitask: Multitask | None = None
    #: the sender's trace context (W3C headers, core/telemetry/tracing.py): the turn joins its trace
    trace: dict[str, str] | None = None


class TurnResult(BaseModel):
    message_id: str
    turn: int
    reply: str
    status: TurnStatus = "done"
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    usage: TokenUsage = Field(default_factory=TokenUsage)
    #: a stopped turn: what happened to it (rolled back, or why a rollback degraded to an interrupt)
    note: str | None = None

    #: the model that wrote the answer (a fallback's when the first model failed)
    model: str | None = None
    #: the trace the turn belongs to (when traces are on)
    trace_id: str | None = None


class StopTurn(BaseModel):
    """Update ``cancel_turn``: stop the turn answering ``message_id`` (running or still queued)."""

    message_id: str
    reason: Literal["cancelled", "interrupted"] = "cancelled"
    #: interrupted with the rollback policy: the turn's messages leave the transcript if nothing ran
    rollback: bool = False
    requested_by: str | None = None


class CurrentTurn(BaseModel):
    """The turn a session is answering now (SessionView.current_turn)."""

    message_id: str
    turn: int


class PendingApproval(BaseModel):
    call_id: str
    tool: str
    args: dict[str, Any]
    summary: str
    reason: str
    turn: int
    requested_at: datetime
    expires_at: datetime
    #: a transfer's effect as the chain layer simulated it when the approval was asked for
    #: (chain/simulation.py: balances before/after in the token's smallest unit, fee, limit left)
    simulation: dict[str, Any] | None = None
    #: what an approving signature binds: chain id, vault, token, recipient, amount (smallest unit),
    #: reference and expiry; the money-moving activity refuses a call that differs in any of them
    binding: dict[str, Any] | None = None

    def as_call(self) -> ToolCallRequest:
        return ToolCallRequest(call_id=self.call_id, name=self.tool, args=self.args)


class ApprovalDecision(BaseModel):
    """Update: a human's decision on a pending approval."""

    call_id: str
    approve: bool
    decided_by: str | None = None
    #: the session service's HMAC of this decision (core/approvals.py); a money-moving
    #: tool refuses to run without a valid one, so decisions sent around the API move nothing
    signature: str | None = None
    #: the binding the signature covers (PendingApproval.binding), handed to the tool
    binding: dict[str, Any] | None = None
    decided_at: datetime | None = None
    #: the client the decision came from ("api", "cli", "telegram", "web", ...)
    client: str | None = None


class AuditEntry(BaseModel):
    """One money-moving call as the session recorded it: what was asked, shown, decided and done."""

    call_id: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    summary: str | None = None
    turn: int = 0
    requested_at: datetime | None = None
    simulation: dict[str, Any] | None = None
    binding: dict[str, Any] | None = None
    decision: ApprovalDecision | None = None
    undo_seconds: float = 0.0
    executes_at: datetime | None = None
    status: ToolStatus = "ok"
    result: str | None = None
    #: the tool's receipt (tx hash, block number, reference) when it sent something
    receipt: dict[str, Any] | None = None


class SessionState(BaseModel):
    """The compact state carried across continue-as-new."""

    #: the running summary of the turns that left the model's context (the ``summarise`` node)
    summary: str | None = None
    #: the last turn folded into ``summary``
    summarised_turn: int = 0
    turn_count: int = 0
    usage: TokenUsage = Field(default_factory=TokenUsage)
    messages: list[ChatMessage] = Field(default_factory=list)
    inbox: list[UserMessage] = Field(default_factory=list)
    results: list[TurnResult] = Field(default_factory=list)
    #: message id -> turn of every answered message still indexed (bounded, oldest dropped):
    #: a late ``wait_turn`` for one whose full result was dropped is answered from this
    answered: dict[str, int] = Field(default_factory=dict)
    #: the session's title: its first message (clipped) unless renamed; shown in session lists
    title: str | None = None
    #: when the last message was taken (the session's ``last_active_at``)
    last_active_at: datetime | None = None
    #: every money-moving call of the session (workflows/transfers.py), for GET /v1/sessions/{id}/audit
    audit: list[AuditEntry] = Field(default_factory=list)


class SessionStart(BaseModel):
    """Workflow input of AgentSessionWorkflow."""

    session_id: str
    owner: str
    platform: str = "web"
    agent: AgentPlan
    created_at: datetime | None = None
    state: SessionState | None = None
    #: the session closes itself (its run completes) after this long without a message; sending
    #: to it later starts a new run under the same id with its history (settings session_idle_close_after)
    idle_close_seconds: float | None = None
    #: after a turn, this long without a message starts a new run with the compact state (settings
    #: session_idle_compact_after): a session the worker's cache evicted then replays one task
    idle_compact_seconds: float | None = None
    #: a child agent's run: answer the one message in ``state.inbox``, return its TurnResult, end
    one_shot: bool = False
    #: how deep in a chain of agents asking agents this session is (0: the user's own session)
    depth: int = 0


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
    #: messages waiting behind the turn being answered
    queued_messages: int
    created_at: datetime | None = None
    title: str | None = None
    last_active_at: datetime | None = None
    #: the turn being answered (None when idle)
    current_turn: CurrentTurn | None = None
    #: approved transfers waiting out their undo window (status "scheduled", executes_at)
    scheduled_transfers: list[ToolCallRecord] = Field(default_factory=list)


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
    #: specs of callable tools the worker's registry has not (MCP tools, ``ask_<agent>``)
    tool_specs: list[ToolSpec] = Field(default_factory=list)
    #: the running summary of what left the conversation (given to the model as context)
    summary: str | None = None
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
    #: the turn was stopped while the model streamed ("cancelled", "interrupted", "rollback"):
    #: ``content`` is the text streamed so far (the node's stop flag, core/streams.py)
    stopped: str | None = None
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
    #: what a money-moving tool did on-chain (tx hash, block, reference), for the audit trail
    receipt: dict[str, Any] | None = None


class ToolCheck(BaseModel):
    """Result of ``tool.check``: the call's arguments, validated and normalised."""

    args: dict[str, Any] = Field(default_factory=dict)
    #: a transfer's simulated effect and what its approval binds (see PendingApproval)
    simulation: dict[str, Any] | None = None
    binding: dict[str, Any] | None = None
    #: the undo window that applies once approved (0: sent at once)
    undo_seconds: float = 0.0
    #: ``tool.recheck``: why the call cannot succeed now (None: it can)
    refused: str | None = None


class McpListInput(BaseModel):
    """Input of ``mcp.list_tools``: the servers whose tools a session freezes into its plan."""

    servers: list[str]


class McpListOutput(BaseModel):
    tools: list[ToolSpec] = Field(default_factory=list)
    #: server -> why its tools could not be listed (the session tries again next turn)
    errors: dict[str, str] = Field(default_factory=dict)


class SummariseInput(BaseModel):
    """Input of ``node.summarise``: fold ``messages`` into ``summary``."""

    session_id: str
    model: str
    summary: str | None = None
    messages: list[ChatMessage] = Field(default_factory=list)
    timeout_seconds: float = 60.0


class SummariseOutput(BaseModel):
    summary: str
    usage: TokenUsage = Field(default_factory=TokenUsage)
    model: str | None = None
