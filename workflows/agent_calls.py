"""What a session does for tools that are not this repo's: MCP servers' tools and other agents.

- ``freeze_mcp_tools``: the plan's MCP servers are listed once by the ``mcp.list_tools`` activity
  and their tools added to the plan, which continue-as-new carries: replay reads the list from
  history, never from a live server. A server that could not be listed is tried again next turn.
- ``ask_agent``: an ``ask_<name>`` call runs that agent as a child workflow of the session (its
  own history, under the parent in the Temporal UI, cancelled with it), one turn, one message;
  its reply is the tool's result and its token usage joins the parent turn's.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from core.mcp_config import mcp_activity
    from core.policies import retry_policy
    from core.schemas import (
        AgentPlan,
        McpListInput,
        McpListOutput,
        SessionStart,
        SessionState,
        ToolInput,
        ToolOutput,
        ToolSpec,
        TurnResult,
        UserMessage,
    )

MCP_LIST_TOOLS = "mcp.list_tools"
#: the workflow type a child agent runs as (the session workflow, in one-shot mode)
SESSION_WORKFLOW = "AgentSessionWorkflow"


async def freeze_mcp_tools(plan: AgentPlan) -> AgentPlan:
    """The plan with its MCP servers' tools (``mcp_listed`` once every server answered)."""
    out = await workflow.execute_activity(
        MCP_LIST_TOOLS,
        McpListInput(servers=plan.mcp_servers),
        result_type=McpListOutput,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=retry_policy(3),
    )
    known = {t.name for t in plan.tools}
    tools = [*plan.tools, *(t for t in out.tools if t.name not in known)]
    if out.errors:
        workflow.logger.warning("MCP servers not listed (tried again next turn): %s", out.errors)
    return plan.model_copy(update={"tools": tools, "mcp_listed": not out.errors})


async def call_mcp_tool(spec: ToolSpec, inp: ToolInput) -> ToolOutput:
    assert spec.mcp_server and spec.mcp_tool
    return await workflow.execute_activity(
        mcp_activity(spec.mcp_server, spec.mcp_tool),
        inp,
        result_type=ToolOutput,
        start_to_close_timeout=timedelta(seconds=spec.timeout_seconds),
        retry_policy=retry_policy(spec.max_attempts),
    )


async def ask_agent(parent: SessionStart, plan: AgentPlan, call_id: str, message: str) -> TurnResult:
    """Run ``plan`` as a child workflow answering ``message``: its turn (reply, status, usage)."""
    child_id = f"{parent.session_id}/{call_id}/{plan.name}"
    start = SessionStart(
        session_id=child_id,
        owner=parent.owner,
        platform=parent.platform,
        agent=plan,
        created_at=workflow.now(),
        state=SessionState(inbox=[UserMessage(message_id=call_id, text=message, sent_at=workflow.now())]),
        one_shot=True,
        depth=parent.depth + 1,
    )
    result = await workflow.execute_child_workflow(
        SESSION_WORKFLOW,
        start,
        id=child_id,
        result_type=TurnResult,
        parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
        static_summary=f"{plan.name} agent asked by {parent.session_id}",
    )
    return result
