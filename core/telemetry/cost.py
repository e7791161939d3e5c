"""What an LLM call costs in USD: the ``model_prices`` setting first (prices it adds or overrides,
e.g. for the offline model or a self-hosted one), else litellm's cost map (the copy litellm ships:
nothing is fetched), else 0 with one warning per model. A cache hit costs nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, Field

log = logging.getLogger(__name__)


class ModelPrice(BaseModel):
    """USD per token, in litellm's cost-map names."""

    input_cost_per_token: float = Field(default=0.0, ge=0)
    output_cost_per_token: float = Field(default=0.0, ge=0)


_unpriced: set[str] = set()


def llm_cost_usd(model: str, prompt_tokens: int, completion_tokens: int, prices: Mapping[str, ModelPrice]) -> float:
    price = prices.get(model)
    if price is not None:
        return prompt_tokens * price.input_cost_per_token + completion_tokens * price.output_cost_per_token
    if not prompt_tokens and not completion_tokens:
        return 0.0
    from core.llm import setup_litellm

    litellm = setup_litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001 - litellm raises plain Exceptions for a model it has no price for
        if model not in _unpriced:
            _unpriced.add(model)
            log.warning("no price for model %s (litellm's cost map, model_prices): its calls count 0 USD", model)
        return 0.0
    return float(prompt_cost) + float(completion_cost)


def gas_cost(gas_used: int, gas_price_wei: int, eth_usd: float | None) -> tuple[float, float]:
    """(ETH, USD at the feed's price; 0 without one) of a transaction's gas."""
    eth = gas_used * gas_price_wei / 1e18
    return eth, eth * (eth_usd or 0.0)
