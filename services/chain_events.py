"""What the listener process (``impressox listener``, :func:`temporal.listener_main.run_listener`)
does with confirmed chain events: hand them to the ``@events.on`` handlers.

It follows ``settings.chain_rpc_url`` with :class:`chain.listener.EventListener` (confirmed,
reorg-safe, each log once across restarts, cursor under ``settings.data_dir``) and dispatches
every decoded event to the handlers registered with ``@events.on("Contract", "Event")`` (see
automations/): deposits become notifications, price feed updates and transfers drive the watch
rules. Handlers hand work to Temporal with dedupe keys, so an event delivered twice (a crash
between the signal and the cursor save) still counts once. A failed handler stops the poll at
that event and the next poll retries it.

Vaults followed: the platform deployment's vault (user ``chain_vault_user``) and every vault in
the registry (VaultRegistryWorkflow), re-read every REGISTRY_REFRESH_SECONDS so a vault
registered while the listener runs is followed from its creation block on; deposit handlers
find a vault's user in ``EventContext.vault_users``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from temporalio.client import Client
from web3 import AsyncWeb3

from automations import events, load_handlers
from automations.events import EventContext, EventHandler
from chain.artifacts import load_artifact
from chain.client import chain_errors
from chain.deploy import deployment_for
from chain.listener import NATIVE, ChainEvent, EventListener
from core.errors import TransientError
from core.settings import Settings
from core.vaults import UserVault
from services.notifications import NotificationService
from services.vaults import VaultRegistryService

log = logging.getLogger(__name__)

REGISTRY_REFRESH_SECONDS = 1.0
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
) -> tuple[EventListener, EventContext]:
    """The platform's listener with every registered ``@events.on`` handler subscribed."""
    load_handlers(settings.handler_modules)
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
    ctx.vault_users[str(deployment["vault"]).lower()] = settings.chain_vault_user
    for (contract, event), handlers in events.subscriptions().items():
        targets = sorted(feeds) if contract == PRICE_FEED else [contract]
        for target in targets:
            if target != NATIVE and target not in listener.contracts():
                log.info("listener: no %s in this deployment; %s.%s handlers idle", target, contract, event)
                continue
            for handler in handlers:
                listener.on(target, event)(_bind(handler, ctx))
    return listener, ctx


def follow_vaults(listener: EventListener, ctx: EventContext, vaults: list[UserVault]) -> None:
    """Follow each registered vault (new ones from their creation block) and know its user."""
    for vault in vaults:
        if vault.chain_id != ctx.deployment.get("chain_id"):
            continue
        ctx.vault_users[vault.address.lower()] = vault.user
        listener.follow("AgentVault", vault.address, vault.from_block)


async def follow_registry(
    listener: EventListener, ctx: EventContext, registry: VaultRegistryService, stop: asyncio.Event
) -> None:
    """Keep following every registered vault until ``stop`` (the registry is re-read periodically)."""
    while not stop.is_set():
        try:
            follow_vaults(listener, ctx, await registry.list())
        except Exception as exc:  # noqa: BLE001 - Temporal away for a moment: keep the vaults we have
            log.warning("listener: cannot read the vault registry (%s); retrying", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=REGISTRY_REFRESH_SECONDS)


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
