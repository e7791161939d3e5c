"""AgentVault.Deposited -> a ``deposit`` notification to the vault's user."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from automations.events import EventContext, events
from automations.handlers.common import TokenInfo, short, token_info
from chain.client import chain_errors
from chain.listener import ChainEvent
from chain.units import from_base_units
from core.notifications import Notification

log = logging.getLogger(__name__)


def deposit_text(amount: Decimal | int, token: TokenInfo, sender: str, tx_hash: str) -> str:
    shown = f"{amount} {token.symbol}" if token.decimals is not None else f"{amount} base units of {token.symbol}"
    return f"Deposit of {shown} to your vault from {short(sender)} (tx {tx_hash[:10]}…)"


async def deposit_notification(event: ChainEvent, ctx: EventContext) -> Notification:
    sender, token_address, base = event.args["from"], event.args["token"], int(event.args["amount"])
    token = await token_info(ctx, token_address)
    amount = from_base_units(base, token.decimals) if token.decimals is not None else base
    with chain_errors("read block time"):
        block = await ctx.w3.eth.get_block(event.block_number)
    return Notification(
        key=event.key,
        kind="deposit",
        text=deposit_text(amount, token, sender, event.tx_hash),
        data={
            "chain_id": ctx.deployment.get("chain_id"),
            "vault": event.address,
            "from": sender,
            "token": token_address,
            "symbol": token.symbol,
            "amount": str(amount),
            "amount_base_units": str(base),
            "tx_hash": event.tx_hash,
            "log_index": event.log_index,
            "block_number": event.block_number,
        },
        at=datetime.fromtimestamp(int(block["timestamp"]), UTC),
    )


@events.on("AgentVault", "Deposited")
async def notify_deposit(event: ChainEvent, ctx: EventContext) -> None:
    """A deposit to a vault is told to that vault's user (stored once per log, by its key)."""
    user = ctx.vault_users.get(event.address.lower())
    if user is None:  # cannot happen for followed vaults; never notify a guessed user
        log.warning("deposit %s to %s: no user has this vault; not notified", event.key, event.address)
        return
    note = await deposit_notification(event, ctx)
    await ctx.notifications.notify(user, note)
    log.info("deposit %s: notified %s: %s", event.key, user, note.text)
