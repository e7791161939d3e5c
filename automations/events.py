"""``@events.on("Contract", "Event")``: chain event handlers the listener dispatches to.

Handlers receive the confirmed, decoded event and an EventContext. The listener delivers each
event once (keyed ``txHash:logIndex``) and retries a handler that raises, so handlers must be
idempotent: they hand work to Temporal with a dedupe key (a signal-with-start, a notification
key).

Contracts are the deployment's: ``AgentVault``, ``TestToken``, ``PriceFeed`` (every price feed
of the deployment; ``event.contract`` is then ``PriceFeed.<SYMBOL>``) and ``native`` (plain
ETH transfers found in blocks; event ``Transfer``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import ConfigError
from core.notifications import Notification

if TYPE_CHECKING:
    from temporalio.client import Client
    from web3 import AsyncWeb3

    from chain.listener import ChainEvent
    from core.settings import Settings

EventHandler = Callable[["ChainEvent", "EventContext"], Awaitable[None]]


class Notifier(Protocol):
    """What a handler may tell a user (services.notifications.NotificationService is one)."""

    async def notify(self, user: str, notification: Notification) -> Any: ...


@dataclass
class EventContext:
    """Shared by the handlers of one listener: chain, deployment, Temporal, notifications."""

    w3: AsyncWeb3
    deployment: dict[str, Any]
    settings: Settings
    client: Client
    notifications: Notifier
    #: per-listener memo for handlers (token metadata, feed decimals, ...)
    memo: dict[str, Any] = field(default_factory=dict)
    #: vault address (lower case) -> the platform user it belongs to (deployment vault + registry)
    vault_users: dict[str, str] = field(default_factory=dict)


class EventRegistry:
    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], list[EventHandler]] = {}

    def on(self, contract: str, event: str) -> Callable[[EventHandler], EventHandler]:
        def register(handler: EventHandler) -> EventHandler:
            if not inspect.iscoroutinefunction(handler):
                raise ConfigError(f"event handler {handler!r} for {contract}.{event} must be async")
            self._handlers.setdefault((contract, event), []).append(handler)
            return handler

        return register

    def unregister(self, contract: str, event: str, handler: EventHandler) -> None:
        """For tests: forget a handler."""
        left = [h for h in self._handlers.get((contract, event), []) if h is not handler]
        if left:
            self._handlers[(contract, event)] = left
        else:
            self._handlers.pop((contract, event), None)

    def subscriptions(self) -> dict[tuple[str, str], list[EventHandler]]:
        return {k: list(v) for k, v in self._handlers.items()}


events = EventRegistry()
