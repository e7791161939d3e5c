"""Chain events to user notifications: what the listener process (``impressox listener``,
:func:`temporal.listener_main.run_listener`) runs on every confirmed vault event.

It follows ``settings.chain_rpc_url`` with :class:`chain.listener.EventListener` (confirmed,
reorg-safe, each log once across restarts, cursor under ``settings.data_dir``) and hands each
``AgentVault.Deposited`` to the inbox of the vault's user with a signal-with-start keyed by
``txHash:logIndex``, so a log delivered twice (a crash between signal and cursor save) is
still shown once. A failed signal stops the poll at that log and the next poll retries it.

Vaults followed: the platform deployment's vault (user ``chain_vault_user``) and every vault in
the registry (VaultRegistryWorkflow), re-read every REGISTRY_REFRESH_SECONDS so a vault
registered while the listener runs is followed from its creation block on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eth_abi.exceptions import DecodingError
from web3 import AsyncWeb3
from web3 import exceptions as w3x

from chain.artifacts import load_artifact
from chain.client import chain_errors
from chain.deploy import deployment_for
from chain.listener import ChainEvent, EventListener
from chain.units import ETH_ADDRESS, checksum_address, from_base_units
from core.errors import ChainRevertError, TransientError
from core.notifications import Notification
from core.settings import Settings
from core.vaults import UserVault
from services.notifications import NotificationService
from services.vaults import VaultRegistryService

log = logging.getLogger(__name__)

REGISTRY_REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class TokenInfo:
    symbol: str
    decimals: int | None  # None: unknown, amounts are shown in base units


def short(value: str, head: int = 6, tail: int = 4) -> str:
    """0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC -> 0x3C44…93BC"""
    return value if len(value) <= head + tail + 1 else f"{value[:head]}…{value[-tail:]}"


def deposit_text(amount: Decimal | int, token: TokenInfo, sender: str, tx_hash: str) -> str:
    shown = f"{amount} {token.symbol}" if token.decimals is not None else f"{amount} base units of {token.symbol}"
    return f"Deposit of {shown} to your vault from {short(sender)} (tx {tx_hash[:10]}…)"


async def _optional_call(call: Any, action: str) -> Any:
    """An ERC-20 metadata read; None when the token does not implement it (a node outage still raises)."""
    try:
        with chain_errors(action):
            return await call.call()
    except (ChainRevertError, w3x.BadFunctionCallOutput, DecodingError):
        return None


class DepositNotifier:
    """Listener handler: an ``AgentVault.Deposited`` event becomes a notification to the vault's user
    (``user`` for the platform deployment's vault, ``users[address]`` for registered user vaults)."""

    def __init__(
        self, w3: AsyncWeb3, deployment: dict[str, Any], notifications: NotificationService, user: str
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.notifications = notifications
        self.user = user
        #: vault address (lower case) -> the platform user it belongs to
        self.users: dict[str, str] = {str(deployment["vault"]).lower(): user}
        self._tokens: dict[str, TokenInfo] = {ETH_ADDRESS: TokenInfo("ETH", 18)}
        self._known_symbols = {a.lower(): s.upper() for s, a in (deployment.get("tokens") or {}).items()}
        self._erc20_abi = load_artifact("TestToken").abi

    async def token_info(self, address: str) -> TokenInfo:
        key = address.lower()
        if key not in self._tokens:
            contract = self.w3.eth.contract(address=checksum_address(address, "token"), abi=self._erc20_abi)
            decimals = await _optional_call(contract.functions.decimals(), f"read decimals of {address}")
            symbol = self._known_symbols.get(key) or await _optional_call(
                contract.functions.symbol(), f"read symbol of {address}"
            )
            self._tokens[key] = TokenInfo(
                str(symbol) if symbol else short(checksum_address(address)),
                int(decimals) if decimals is not None else None,
            )
        return self._tokens[key]

    async def notification(self, event: ChainEvent) -> Notification:
        sender, token_address, base = event.args["from"], event.args["token"], int(event.args["amount"])
        token = await self.token_info(token_address)
        amount = from_base_units(base, token.decimals) if token.decimals is not None else base
        with chain_errors("read block time"):
            block = await self.w3.eth.get_block(event.block_number)
        return Notification(
            key=event.key,
            kind="deposit",
            text=deposit_text(amount, token, sender, event.tx_hash),
            data={
                "chain_id": self.deployment.get("chain_id"),
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

    async def handle(self, event: ChainEvent) -> None:
        user = self.users.get(event.address.lower())
        if user is None:  # cannot happen for followed vaults; never notify a guessed user
            log.warning("deposit %s to %s: no user has this vault; not notified", event.key, event.address)
            return
        note = await self.notification(event)
        await self.notifications.notify(user, note)
        log.info("deposit %s: notified %s: %s", event.key, user, note.text)

    def follow(self, listener: EventListener, vaults: list[UserVault]) -> None:
        """Follow each registered vault and notify its user (new ones from their creation block)."""
        for vault in vaults:
            if vault.chain_id != self.deployment.get("chain_id"):
                continue
            self.users[vault.address.lower()] = vault.user
            listener.follow("AgentVault", vault.address, vault.from_block)


def build_listener(
    w3: AsyncWeb3, deployment: dict[str, Any], settings: Settings, notifications: NotificationService
) -> tuple[EventListener, DepositNotifier]:
    """The platform's listener with its built-in subscriptions registered."""
    listener = EventListener(
        w3,
        deployment,
        settings.data_dir,
        confirmations=settings.chain_confirmations,
        poll_seconds=settings.chain_poll_seconds,
    )
    deposits = DepositNotifier(w3, deployment, notifications, settings.chain_vault_user)
    listener.on("AgentVault", "Deposited")(deposits.handle)
    return listener, deposits


async def follow_registry(
    listener: EventListener, deposits: DepositNotifier, registry: VaultRegistryService, stop: asyncio.Event
) -> None:
    """Keep following every registered vault until ``stop`` (the registry is re-read periodically)."""
    while not stop.is_set():
        try:
            deposits.follow(listener, await registry.list())
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
