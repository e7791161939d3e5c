"""Activity names: the one place the worker (activities/) and the workflow agree on them."""

from __future__ import annotations

#: validates a money-moving call before a human is asked to approve it
TOOL_CHECK = "tool.check"


def node_activity(name: str) -> str:
    """``node.<name>``: one LLM step (all nodes share the NodeInput -> NodeOutput contract)."""
    return f"node.{name}"


def tool_activity(name: str) -> str:
    """``tool.<name>``: one tool call (ToolInput -> ToolOutput)."""
    return f"tool.{name}"
