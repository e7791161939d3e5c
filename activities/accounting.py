"""What a node's LLM call cost, recorded once: the reply's ``usage.cost_usd`` (the workflow sums
it into the turn's usage), the usage ledger (per user, day, session, agent: core/ledger.py), the
Prometheus counters and the call's span. Likewise the gas of a transaction a tool sent, once per
transaction hash however often its activity is retried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from temporalio import activity

from core.ledger import Spend, UsageLedger
from core.schemas import NodeInput, NodeOutput, SummariseOutput
from core.telemetry import metrics
from core.telemetry.cost import ModelPrice, gas_cost, llm_cost_usd
from core.tools import GasPaid

Out = TypeVar("Out", NodeOutput, SummariseOutput)


class Accounting:
    def __init__(self, prices: Mapping[str, ModelPrice], ledger: UsageLedger | None = None) -> None:
        self.prices = prices
        self.ledger = ledger

    async def llm_call(self, inp: Any, out: Out) -> Out:
        """``out`` (a node kind's output with ``usage`` and ``model``: NodeOutput, SummariseOutput ...)
        with its cost set; the call counted in the ledger (once per activity) and the metrics."""
        model = out.model or inp.model
        usage = out.usage
        cache_hit = bool(getattr(out, "cache_hit", False))
        tool_calls = getattr(out, "tool_calls", [])
        cost = 0.0 if cache_hit else llm_cost_usd(model, usage.prompt_tokens, usage.completion_tokens, self.prices)
        out = out.model_copy(update={"usage": usage.model_copy(update={"cost_usd": cost}), "model": model})
        metrics.LLM_CALLS.labels(model, "ok", "hit" if cache_hit else "miss").inc()
        metrics.LLM_TOKENS.labels(model, "prompt").inc(usage.prompt_tokens)
        metrics.LLM_TOKENS.labels(model, "completion").inc(usage.completion_tokens)
        if cost:
            metrics.LLM_COST.labels(model).inc(cost)
        if self.ledger is not None:
            info = activity.info()
            await self.ledger.record(
                f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}",
                inp.session_id,
                getattr(inp, "message_id", None),
                getattr(inp, "agent", None),
                Spend(
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    total_tokens=usage.total_tokens,
                    llm_usd=cost,
                    calls=1,
                ),
                # a turn's answer (no more tool calls) ends it; a summary fold is no turn of its own
                last_step=isinstance(inp, NodeInput) and not tool_calls,
            )
        return out

    async def gas_paid(self, session_id: str, message_id: str | None, agent: str | None, gas: GasPaid) -> None:
        """Count a transaction's gas in ETH and USD (at ``gas.eth_usd``) in the session owner's usage:
        once per transaction, so a retried activity that finds its earlier transaction adds nothing."""
        wei = gas.gas_used * gas.gas_price_wei
        _, usd = gas_cost(gas.gas_used, gas.gas_price_wei, gas.eth_usd)
        if self.ledger is None:
            metrics.GAS_COST.inc(usd)
            return
        counted = await self.ledger.record(
            f"gas/{gas.tx_hash}", session_id, message_id, agent, Spend(gas_usd=usd, gas_wei=wei)
        )
        if counted:
            metrics.GAS_COST.inc(usd)
