"""The chain event listener process (``impressox listener``): follows the chain and turns
confirmed vault events into user notifications (see ``services/chain_events.py``)."""

from __future__ import annotations

import asyncio
import logging

from chain.client import close_web3, make_web3
from core.errors import ConfigError
from core.settings import Settings
from services.chain_events import _wait_for_deployment, build_listener
from services.notifications import NotificationService
from temporal.client import connect
from temporal.shutdown import stop_on_signals

log = logging.getLogger(__name__)


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
    w3 = make_web3(settings.chain_rpc_url)
    try:
        with stop_on_signals(stop):
            deployment = await _wait_for_deployment(w3, settings, stop)
            if deployment is None:
                return
            listener = build_listener(w3, deployment, settings, NotificationService(client, settings))
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
        log.info("listener stopped")
