"""The offline model on a real chain: conversions take the price tool and the calculator, token names
work, and a transfer the vault refuses on-chain is told in words, never as a raw revert."""

from __future__ import annotations

import asyncio

from services.sessions import SessionService
from tests.chain.test_chain_agent_transfer import RECIPIENT, chain_sessions, chain_settings, chain_worker
from tests.turns import decided, done

__all__ = ["chain_sessions", "chain_settings", "chain_worker"]  # fixtures used below


async def test_a_conversion_uses_the_price_and_the_calculator(chain_sessions: SessionService, chain_worker: None):
    sid = await chain_sessions.create("local", "assistant")
    for text in ("convert 2 eth to usd", "what is 2 ether in usd?"):
        r = done(await chain_sessions.send("local", sid, text, wait=30))
        assert r.reply == "2 ETH is $6,000.00 (at $3,000.00 per ETH, on-chain price feed).", r.reply
        assert [c.name for c in r.tool_calls] == ["get_token_price", "calculator"]
    btc = done(await chain_sessions.send("local", sid, "what is the price of bitcoin?", wait=30))
    assert btc.reply == "BTC is $60,000.00 (on-chain price feed)."


async def test_a_transfer_refused_on_chain_is_told_in_words(chain_sessions: SessionService, chain_worker: None):
    # two transfers that each fit today's limit (1 ETH on this module's fresh chain) pass the check
    # before approval; together they do not, so the vault contract refuses the second one when sent
    amount = "0.6"
    sids = [await chain_sessions.create("local", "assistant") for _ in range(2)]
    for sid in sids:
        asked = await chain_sessions.send("local", sid, f"send {amount} ETH to {RECIPIENT}", wait=30)
        assert asked.status == "awaiting_approval", asked
    records = []
    for sid in sids:
        [pending] = (await chain_sessions.get("local", sid)).pending_approvals
        records.append(decided(await chain_sessions.decide("local", sid, pending.call_id, approve=True)))
    assert records[0].status == "ok", records[0]
    assert records[1].status == "error"
    assert records[1].result and "over today's limit" in records[1].result and "LimitExceeded" not in records[1].result
    for _ in range(60):
        reply = (await chain_sessions.get("local", sids[1])).messages[-1]
        if reply.role == "assistant":
            break
        await asyncio.sleep(0.5)
    assert "over today's limit" in reply.content and "0x" not in reply.content, reply.content
