"""The chain event listener process (``impressox listener``): follows the chain and turns
confirmed vault events into user notifications (see ``services/chain_events.py``)."""

from __future__ import annotations

import asyncio
import logging

from chain.client import close_web3, make_web3
from core.errors import ConfigError
from core.settings import Settings
from core.shutdown import stop_on_signals
from core.temporal.client import connect
from services.chain_events import _wait_for_deployment, build_listener, follow_registry, follow_vaults
from services.notifications import NotificationService
from services.vaults import VaultRegistryService

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
            listener, ctx = build_listener(w3, deployment, settings, NotificationService(client, settings), client)
            registry = VaultRegistryService(client, settings)
            try:
                follow_vaults(listener, ctx, await registry.list())
            except Exception:  # follow_registry below retries
                log.warning("listener: cannot read the vault registry yet", exc_info=True)
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
            # vaults registered while the listener runs are followed from their registration on
            following = asyncio.create_task(follow_registry(listener, ctx, registry, stop))
            try:
                await listener.run(stop)
            finally:
                stop.set()
                await following
    finally:
        await close_web3(w3)
        log.info("listener stopped")
