"""Turn control inside the session workflow: what a stopped turn says and keeps.

A turn is stopped by the ``cancel_turn`` update (the user's Stop) or by a newer message whose
double-texting policy is ``interrupt`` / ``rollback``. The workflow cancels the turn's task; the
LLM node stops streaming and returns the text streamed so far (so the partial answer is in
history: replays see the same text), a pending approval is withdrawn, and a tool with side
effects (an approved transfer being signed or sent, a schedule or an alert being created) is
never cut: the stop waits for it, then the turn ends and its reply says what the tool did.

Pure functions only (deterministic): the workflow calls them with its own state.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.schemas import AgentPlan, ChatMessage, ToolCallRecord

#: patch: turns run as a cancellable task, messages carry a double-texting policy, ``cancel_turn``
TURN_CONTROL = "turn-control"
#: what the model sees after a cut-off answer, so it knows the text stops mid-way on purpose
CUT_OFF_MARK = " [stopped here by the user]"
#: the statuses of a stopped turn (its kept answer is cut off)
STOPPED = ("cancelled", "interrupted")


@dataclass
class StopRequest:
    """Why the running turn is being stopped (the first request wins)."""

    reason: str  # "cancelled" | "interrupted"
    rollback: bool = False


class TurnStopped(Exception):
    """Raised inside the turn's task when it must end now; ``partial`` is the text streamed so far."""

    def __init__(self, partial: str = "") -> None:
        super().__init__("turn stopped")
        self.partial = partial


def stop_from_node(stopped: str) -> StopRequest:
    """The stop a node reported (its flag's reason) when no update told the workflow first."""
    if stopped == "rollback":
        return StopRequest("interrupted", rollback=True)
    return StopRequest("interrupted" if stopped == "interrupted" else "cancelled")


def shielded(plan: AgentPlan, name: str) -> bool:
    """A tool whose run is never cut: it moves money or creates something (state must be known)."""
    spec = plan.tool(name)
    return spec is not None and (spec.requires_approval or spec.side_effects)


def side_effects_ran(plan: AgentPlan, calls: list[ToolCallRecord]) -> list[ToolCallRecord]:
    """The turn's calls of side-effecting tools that ran (not refused, withdrawn or failed)."""
    return [c for c in calls if c.status == "ok" and shielded(plan, c.name)]


def stopped_reply(partial: str, calls: list[ToolCallRecord], plan: AgentPlan) -> str:
    """The kept text of a stopped turn: the streamed part, then what any side effect did.

    A stop never leaves money in an unknown state: every transfer the turn started is reported
    (sent and its result, or withdrawn before a decision, nothing sent)."""
    lines = [partial] if partial else []
    for c in calls:
        if c.status in ("cancelled", "withdrawn"):
            lines.append(f"[{c.name}: {c.result}]")
        elif shielded(plan, c.name):
            lines.append(f"[{c.name} ran before the stop: {c.result}]")
    return "\n\n".join(lines)


def rollback_note(plan: AgentPlan, calls: list[ToolCallRecord]) -> tuple[bool, str]:
    """Whether a rollback may drop the turn, and the note that says what happened."""
    ran = side_effects_ran(plan, calls)
    if ran:
        names = ", ".join(sorted({c.name for c in ran}))
        return False, f"not rolled back: {names} already ran in this turn, so it is kept (interrupted)"
    return True, "rolled back: the interrupted turn left the transcript"


def without_turn(messages: list[ChatMessage], message_id: str) -> list[ChatMessage]:
    """The transcript without the messages of the turn answering ``message_id``."""
    return [m for m in messages if m.message_id != message_id]
