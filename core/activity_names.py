"""Activity names: the one place the worker (activities/) and the workflow agree on them."""

from __future__ import annotations

#: validates a money-moving call before a human is asked to approve it
TOOL_CHECK = "tool.check"
#: the same check at approval time (its refusal returned, not raised): a stale simulation refuses the approval
TOOL_RECHECK = "tool.recheck"
#: hands a batch of notifications to their users' inboxes (alerts, scheduled turns)
ALERTS_NOTIFY = "alerts.notify"
#: one scheduled agent turn
SCHEDULE_RUN_TURN = "schedule.run_turn"


def node_activity(name: str) -> str:
    """``node.<name>``: one LLM step (all nodes share the NodeInput -> NodeOutput contract)."""
    return f"node.{name}"


def tool_activity(name: str) -> str:
    """``tool.<name>``: one tool call (ToolInput -> ToolOutput)."""
    return f"tool.{name}"


def task_activity(name: str) -> str:
    """``task.<name>``: one run of a ``@tasks.periodic`` task."""
    return f"task.{name}"
