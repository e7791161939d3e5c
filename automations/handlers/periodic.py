"""Platform periodic tasks (``@tasks.periodic``), reconciled into Temporal Schedules at worker start."""

from __future__ import annotations

from datetime import timedelta

from automations.tasks import TaskContext, tasks


@tasks.periodic("watch-census", every=timedelta(hours=1), timeout_seconds=60)
async def watch_census(ctx: TaskContext) -> str:
    """Count the running watch workflows and their rules (shown as the run's result in the Web UI)."""
    from workflows.watch import WatchWorkflow

    targets = rules = 0
    async for wf in ctx.client.list_workflows("WorkflowType='WatchWorkflow' AND ExecutionStatus='Running'"):
        targets += 1
        try:
            rules += await ctx.client.get_workflow_handle(wf.id).query(WatchWorkflow.rule_count)
        except Exception:  # noqa: BLE001 - a target that just continued as new is counted next hour
            continue
    return f"{targets} watched targets, {rules} rules"


@tasks.periodic("price-poll", every=timedelta(minutes=1), timeout_seconds=50)
async def price_poll(ctx: TaskContext) -> str:
    """Read every price feed's latest round and hand it to the watch rules (for feeds that emit no events).

    The update's key is the one the AnswerUpdated handler uses, so a round seen both ways counts once.
    """
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from automations.handlers.watch import price_key, signal_price
    from chain.artifacts import load_artifact
    from chain.client import chain_errors, close_web3, make_web3
    from chain.deploy import deployment_for
    from chain.units import from_base_units
    from core.automations import PriceUpdate

    settings = ctx.settings
    if not settings.chain_rpc_url:
        return "no chain configured"
    w3 = make_web3(settings.chain_rpc_url)
    try:
        with chain_errors("read chain id"):
            chain_id = await w3.eth.chain_id
        feeds = (deployment_for(settings.data_dir, chain_id) or {}).get("price_feeds") or {}
        sent = []
        for symbol, address in feeds.items():
            feed = w3.eth.contract(address=address, abi=load_artifact("MockPriceFeed").abi)
            with chain_errors(f"read the {symbol} feed"):
                decimals = int(await feed.functions.decimals().call())
                round_id, answer, _, updated_at, _ = await feed.functions.latestRoundData().call()
            update = PriceUpdate(
                key=price_key(symbol.upper(), int(round_id), int(updated_at)),
                symbol=symbol.upper(),
                price=from_base_units(int(answer), decimals),
                round_id=int(round_id),
                at=datetime.fromtimestamp(int(updated_at), UTC),
            )
            await signal_price(SimpleNamespace(client=ctx.client, settings=settings), update)  # type: ignore[arg-type]
            sent.append(f"{symbol.upper()} {update.price}")
        return ", ".join(sent) or "no price feeds in the deployment"
    finally:
        await close_web3(w3)
