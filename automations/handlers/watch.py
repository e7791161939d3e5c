"""Chain events that drive the watch rules: price feed updates and transfers.

Each price update goes to its feed's WatchWorkflow by signal-with-start (one workflow holds all
rules on the feed); a transfer goes to the WatchWorkflow of its sender and of its receiver when
one exists (an address nobody watches costs one failed signal, no workflow).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from eth_typing import ChecksumAddress
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from automations.events import EventContext, events
from automations.handlers.common import token_info
from chain.client import chain_errors
from chain.listener import ChainEvent
from chain.units import from_base_units
from core.automations import PriceUpdate, TransferSeen, WatchStart, price_watch_id, wallet_watch_id
from workflows.watch import WatchWorkflow

log = logging.getLogger(__name__)


def price_key(symbol: str, round_id: int, updated_at: int) -> str:
    """The same round seen by the event and by a poll is one update; a reset chain's round 1 is not."""
    return f"{symbol}:{round_id}:{updated_at}"


async def signal_price(ctx: EventContext, update: PriceUpdate) -> None:
    await ctx.client.start_workflow(
        WatchWorkflow.run,
        WatchStart(kind="price", target=update.symbol),
        id=price_watch_id(update.symbol),
        task_queue=ctx.settings.task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal="price",
        start_signal_args=[update],
        static_summary=f"watch rules on price {update.symbol}",
    )


async def _feed_decimals(ctx: EventContext, address: str) -> int:
    memo: dict[str, int] = ctx.memo.setdefault("feed_decimals", {})
    if address not in memo:
        from chain.artifacts import load_artifact

        # the deployment's own feed address, as the listener found it (typed now: EventContext.w3 is AsyncWeb3)
        feed = ctx.w3.eth.contract(address=cast(ChecksumAddress, address), abi=load_artifact("MockPriceFeed").abi)
        with chain_errors(f"read decimals of feed {address}"):
            memo[address] = int(await feed.functions.decimals().call())
    return memo[address]


@events.on("PriceFeed", "AnswerUpdated")
async def price_updated(event: ChainEvent, ctx: EventContext) -> None:
    """A feed's new answer is evaluated against every rule on that feed."""
    symbol = event.contract.split(".", 1)[1]
    decimals = await _feed_decimals(ctx, event.address)
    updated_at = int(event.args["updatedAt"])
    update = PriceUpdate(
        key=price_key(symbol, int(event.args["roundId"]), updated_at),
        symbol=symbol,
        price=from_base_units(int(event.args["current"]), decimals),
        round_id=int(event.args["roundId"]),
        at=datetime.fromtimestamp(updated_at, UTC),
        block_number=event.block_number,
        tx_hash=event.tx_hash,
    )
    await signal_price(ctx, update)
    log.info("price %s: %s (round %s) handed to the watch rules", symbol, update.price, update.round_id)


async def _signal_wallets(ctx: EventContext, seen: TransferSeen) -> None:
    for address in {seen.sender.lower(), seen.receiver.lower()}:
        try:
            await ctx.client.get_workflow_handle(wallet_watch_id(address)).signal(WatchWorkflow.transfer, seen)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise  # the listener retries this event


async def _block_time(ctx: EventContext, number: int) -> datetime:
    with chain_errors("read block time"):
        block = await ctx.w3.eth.get_block(number)
    return datetime.fromtimestamp(int(block["timestamp"]), UTC)


@events.on("native", "Transfer")
async def native_transfer(event: ChainEvent, ctx: EventContext) -> None:
    """A plain ETH transfer, for the wallet rules of its sender and receiver."""
    await _signal_wallets(
        ctx,
        TransferSeen(
            key=event.key,
            sender=event.args["from"],
            receiver=event.args["to"],
            token=None,
            amount=from_base_units(int(event.args["value"]), 18),
            block_number=event.block_number,
            tx_hash=event.tx_hash,
            at=await _block_time(ctx, event.block_number),
        ),
    )


@events.on("TestToken", "Transfer")
async def token_transfer(event: ChainEvent, ctx: EventContext) -> None:
    """An ERC-20 Transfer log, for the wallet rules of its sender and receiver."""
    token = await token_info(ctx, event.address)
    base = int(event.args["value"])
    await _signal_wallets(
        ctx,
        TransferSeen(
            key=event.key,
            sender=event.args["from"],
            receiver=event.args["to"],
            token=token.symbol,
            amount=from_base_units(base, token.decimals) if token.decimals is not None else base,
            block_number=event.block_number,
            tx_hash=event.tx_hash,
            at=await _block_time(ctx, event.block_number),
        ),
    )
