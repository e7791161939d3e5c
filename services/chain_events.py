"""The chain event listener process: hand confirmed chain events to the ``@events.on`` handlers.

    impressox listener            # runs run_listener(settings) until SIGTERM/SIGINT

It follows ``settings.chain_rpc_url`` with :class:`chain.listener.EventListener` (confirmed,
reorg-safe, each log once across restarts, cursor under ``settings.data_dir``) and dispatches
every decoded event to the handlers registered with ``@events.on("Contract", "Event")`` (see
workers/): deposits become notifications, price feed updates and transfers drive the watch
rules. Handlers hand work to Temporal with dedupe keys, so an event delivered twice (a crash
between the signal and the cursor save) still counts once. A failed handler stops the poll at
that event and the next poll retries it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from temporalio.client import Client
from web3 import AsyncWeb3

from chain.artifacts import load_artifact
from chain.client import chain_errors, close_web3, make_web3
from chain.deploy import deployment_for
from chain.listener import NATIVE, ChainEvent, EventListener
from core.errors import ConfigError, TransientError
from core.settings import Settings
from services.notifications import NotificationService
from temporal.client import connect
from workers import events, load_handlers
from workers.events import EventContext, EventHandler

log = logging.getLogger(__name__)

#: ``@events.on("PriceFeed", ...)`` handlers get the events of every price feed of the deployment
PRICE_FEED = "PriceFeed"


def _bind(handler: EventHandler, ctx: EventContext) -> Any:
    async def call(event: ChainEvent) -> None:
        await handler(event, ctx)

    return call


def build_listener(
    w3: AsyncWeb3,
    deployment: dict[str, Any],
    settings: Settings,
    notifications: NotificationService,
    client: Client | None = None,
) -> EventListener:
    """The platform's listener with every registered ``@events.on`` handler subscribed."""
    load_handlers()
    feeds = {
        f"{PRICE_FEED}.{symbol.upper()}": (address, load_artifact("MockPriceFeed").abi)
        for symbol, address in (deployment.get("price_feeds") or {}).items()
    }
    listener = EventListener(
        w3,
        deployment,
        settings.data_dir,
        confirmations=settings.chain_confirmations,
        poll_seconds=settings.chain_poll_seconds,
        contracts=feeds,
    )
    ctx = EventContext(
        w3=w3,
        deployment=deployment,
        settings=settings,
        client=client or notifications.client,
        notifications=notifications,
    )
    for (contract, event), handlers in events.subscriptions().items():
        targets = sorted(feeds) if contract == PRICE_FEED else [contract]
        for target in targets:
            if target != NATIVE and target not in listener.contracts():
                log.info("listener: no %s in this deployment; %s.%s handlers idle", target, contract, event)
                continue
            for handler in handlers:
                listener.on(target, event)(_bind(handler, ctx))
    return listener


async def _wait_for_deployment(w3: AsyncWeb3, settings: Settings, stop: asyncio.Event) -> dict[str, Any] | None:
    """The deployment recorded for the node's chain; waits for the node and the deploy. None if stopped."""
    waiting_for = ""
    while not stop.is_set():
        try:
            with chain_errors("read chain id"):
                chain_id = await w3.eth.chain_id
            deployment = deployment_for(settings.data_dir, chain_id)
            if deployment is not None:
                return deployment
            reason = f"a vault deployment for chain {chain_id} in {settings.data_dir} (run `impressox chain deploy`)"
        except TransientError as exc:
            reason = f"the chain node ({exc})"
        if reason != waiting_for:
            log.info("listener waiting for %s", reason)
            waiting_for = reason
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(settings.chain_poll_seconds, 0.5))
    return None


async def run_listener(
    settings: Settings, stop_event: asyncio.Event | None = None, *, ready: asyncio.Event | None = None
) -> None:
    """Run the chain event listener until SIGTERM/SIGINT or ``stop_event``.

    ``ready`` is set once the listener has fixed its cursor: events in later blocks will be delivered.
    """
    if not settings.chain_rpc_url:
        raise ConfigError("chain_rpc_url is not set: the listener has no chain to follow")
    stop = stop_event or asyncio.Event()
    client = await connect(settings, wait_seconds=60)
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
        except (RuntimeError, ValueError):  # not the main thread: the caller stops us with stop_event
            pass
    w3 = make_web3(settings.chain_rpc_url)
    try:
        deployment = await _wait_for_deployment(w3, settings, stop)
        if deployment is None:
            return
        listener = build_listener(w3, deployment, settings, NotificationService(client, settings), client)
        try:
            await listener.poll_once()
        except Exception:  # the run loop below logs and retries the same way
            log.warning("listener: first poll failed; retrying", exc_info=True)
        log.info(
            "listener following vault %s on chain %s from block %s",
            deployment["vault"],
            deployment.get("chain_id"),
            listener.next_block,
        )
        if ready is not None:
            ready.set()
        await listener.run(stop)
    finally:
        await close_web3(w3)
        for sig in handled:
            loop.remove_signal_handler(sig)
        log.info("listener stopped")
