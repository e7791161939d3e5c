"""The offline model on a real chain: conversions take the price tool and the calculator, token names
work, and a transfer the vault's limit no longer allows is refused in words at approval, never as a
raw revert."""

from __future__ import annotations

import pytest

from core.errors import ConflictError
from services.sessions import SessionService
from tests.chain.test_chain_agent_transfer import RECIPIENT, chain_worker
from tests.turns import decided, done

__all__ = ["chain_worker"]  # a fixture used below (chain_settings, chain_sessions: the conftest's)


async def test_a_conversion_uses_the_price_and_the_calculator(chain_sessions: SessionService, chain_worker: None):
    sid = await chain_sessions.create("local", "assistant")
    for text in ("convert 2 eth to usd", "what is 2 ether in usd?"):
        r = done(await chain_sessions.send("local", sid, text, wait=30))
        assert r.reply == "2 ETH is $6,000.00 (at $3,000.00 per ETH, on-chain price feed).", r.reply
        assert [c.name for c in r.tool_calls] == ["get_token_price", "calculator"]
    btc = done(await chain_sessions.send("local", sid, "what is the price of bitcoin?", wait=30))
    assert btc.reply == "BTC is $60,000.00 (on-chain price feed)."


async def test_a_transfer_the_limit_no_longer_allows_is_refused_at_approval_in_words(
    chain_sessions: SessionService, chain_worker: None
):
    # two transfers that each fit today's limit (1 ETH on this module's fresh chain) pass the check
    # before approval; together they do not. Approving re-runs the chain's check: the first is sent,
    # the second refused in words (409) before anything is sent, and waits for a fresh approval
    amount = "0.6"
    sids = [await chain_sessions.create("local", "assistant") for _ in range(2)]
    for sid in sids:
        asked = await chain_sessions.send("local", sid, f"send {amount} ETH to {RECIPIENT}", wait=30)
        assert asked.status == "awaiting_approval", asked
    [first] = (await chain_sessions.get("local", sids[0])).pending_approvals
    assert decided(await chain_sessions.decide("local", sids[0], first.call_id, approve=True)).status == "ok"
    [second] = (await chain_sessions.get("local", sids[1])).pending_approvals
    with pytest.raises(ConflictError) as refused:
        await chain_sessions.decide("local", sids[1], second.call_id, approve=True)
    text = str(refused.value)
    assert "daily limit" in text and "Nothing was sent" in text and "LimitExceeded" not in text, text
    still = (await chain_sessions.get("local", sids[1])).pending_approvals
    assert [p.call_id for p in still] == [second.call_id]  # waiting for a fresh decision
