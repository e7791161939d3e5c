"""The running summary: what leaves the model's view is folded into it instead of being forgotten.

Before a turn, the whole turns older than the model's context (``context_messages``) that are not
folded yet are handed, with the summary so far, to the ``node.summarise`` activity once there are
``summary_batch`` of their messages. The LLM node receives the summary as context; the state
(and so continue-as-new) carries it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.activity_names import node_activity
    from core.policies import NODE_RETRY
    from core.schemas import AgentPlan, SessionState, SummariseInput, SummariseOutput, TokenUsage


def unfolded(plan: AgentPlan, state: SessionState) -> list:
    """The messages of whole turns out of the model's view and not in the summary yet."""
    if len(state.messages) <= plan.context_messages:
        return []
    first_visible = state.messages[-plan.context_messages].turn
    return [m for m in state.messages if state.summarised_turn < m.turn < first_visible]


async def fold(session_id: str, plan: AgentPlan, state: SessionState) -> TokenUsage:
    """Fold the unfolded messages into ``state.summary`` when there are enough; the fold's usage."""
    old = unfolded(plan, state)
    if len(old) < plan.summary_batch:
        return TokenUsage()
    out = await workflow.execute_activity(
        node_activity("summarise"),
        SummariseInput(
            session_id=session_id,
            model=plan.model,
            summary=state.summary,
            messages=old,
            timeout_seconds=plan.llm_timeout_seconds,
        ),
        result_type=SummariseOutput,
        start_to_close_timeout=timedelta(seconds=plan.llm_timeout_seconds + 5),
        retry_policy=NODE_RETRY,
    )
    state.summary = out.summary
    state.summarised_turn = max(m.turn for m in old)
    return out.usage
