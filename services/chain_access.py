"""The worker's way to the chain: one RPC client, one nonce manager, one vault service per vault.

Lazy so a worker can start before the chain (or without one); the operator's key is
loaded here, inside the worker, and never travels through workflow inputs or history.

Every vault this process touches shares the one :class:`NonceManager` (the operator sends
for all of them), and that manager holds a Redis lock per operator address when Redis is
reachable, so several worker processes never race for a nonce.

Which vault is a user's: the platform deployment's vault belongs to ``chain_vault_user``
(locally: the one user of keyless mode); every other user's vault is the CREATE2 address
derived from the user's name (chain/user_vaults.py), once its registration handed it to
the user's own owner address.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from eth_typing import ChecksumAddress

from chain.accounts import operator_signer_from_settings
from chain.client import chain_errors, close_web3, make_web3
from chain.deploy import deployment_for
from chain.nonces import NonceManager
from chain.units import checksum_address
from chain.user_vaults import read_owner, register_user_vault, user_vault_address
from chain.vault import VaultService
from core.errors import ConfigError, ConflictError, PermanentError
from core.redis_client import async_redis
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.vaults import UserVault

log = logging.getLogger(__name__)


class ChainNotConfiguredError(PermanentError):
    """No chain RPC URL is configured for this worker."""


async def connect_redis(url: str) -> Any | None:
    """A redis.asyncio client for the nonce lock, or None (with a warning) when Redis is down."""

    client = async_redis(url, socket_timeout=None, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure: run without the cross-process lock
        log.warning("no Redis at %s for the nonce lock (%s): nonce conflicts are retried instead", url, exc)
        await client.aclose()
        return None
    return client


class ChainAccess:
    def __init__(self, settings: Settings, redis: Any | None = None) -> None:
        self.settings = settings
        #: a redis.asyncio client, or None: connect to ``settings.redis_url`` on first use
        self.redis = redis
        self._owns_redis = False
        self._vault: VaultService | None = None
        self._vaults: dict[str, VaultService] = {}
        self._lock = asyncio.Lock()

    async def vault(self) -> VaultService:
        """The platform deployment's vault (owned by ``chain_vault_user``)."""
        if self._vault is not None:
            return self._vault
        if not self.settings.chain_rpc_url:
            raise ChainNotConfiguredError("no chain is configured (set IMPRESSOX_CHAIN_RPC_URL)")
        async with self._lock:
            if self._vault is None:
                self._vault = await self._connect(self.settings.chain_rpc_url)
        return self._vault

    async def _connect(self, rpc_url: str) -> VaultService:
        if self.redis is None and self.settings.redis_url:
            self.redis = await connect_redis(self.settings.redis_url)
            self._owns_redis = self.redis is not None
        w3 = make_web3(rpc_url)
        try:
            with chain_errors("read chain id"):
                chain_id = await w3.eth.chain_id
            deployment = deployment_for(self.settings.data_dir, chain_id)
            if deployment is None:
                raise ConfigError(
                    f"no vault deployed on chain {chain_id} per {self.settings.data_dir}: run `impressox chain deploy`"
                )
        except BaseException:
            await close_web3(w3)
            raise
        vault = VaultService(
            w3,
            deployment,
            # the signer depends on the chain (anvil's dev operator only on the local chain)
            operator_signer_from_settings(self.settings, chain_id),
            nonces=NonceManager(w3, redis=self.redis, namespace=f"{redis_prefix(self.settings)}:nonce"),
            confirmations=self.settings.chain_confirmations,
            pending_dir=self.settings.data_dir / "pending-spends",
        )
        vault._owns_w3 = True
        return vault

    def _operator(self, platform: VaultService) -> ChecksumAddress:
        if platform.signer is None:
            raise ConfigError("no operator signer configured (chain_keystore_file or chain_operator_key)")
        return platform.signer.address

    def user_vault_address(self, platform: VaultService, user: str) -> ChecksumAddress:
        return user_vault_address(user, self._operator(platform))

    async def vault_of(self, user: str) -> VaultService | None:
        """``user``'s own vault, or None when the user has none (or its registration is unfinished)."""
        platform = await self.vault()
        if user == self.settings.chain_vault_user:
            return platform
        if user in self._vaults:
            return self._vaults[user]
        address = self.user_vault_address(platform, user)
        owner = await read_owner(platform.w3, address)
        if owner is None or owner == self._operator(platform):
            return None  # nothing deployed, or deployed but not yet handed to the user
        service = VaultService(
            platform.w3,
            {**platform.deployment, "vault": address},
            platform.signer,
            nonces=platform.nonces,
            confirmations=platform.confirmations,
            pending_dir=platform.pending_dir,
            receipt_timeout=platform.receipt_timeout,
        )
        self._vaults[user] = service
        return service

    async def register(self, user: str, owner: str) -> UserVault:
        """Deploy (or find) ``user``'s vault and hand it to ``owner`` with the default limits."""
        platform = await self.vault()
        if user == self.settings.chain_vault_user:
            status = await platform.status()
            if checksum_address(owner, "owner_address") != status.owner:
                raise ConflictError(f"the vault of {user} ({platform.vault_address}) is owned by {status.owner}")
            return UserVault(
                user=user,
                address=platform.vault_address,
                owner=status.owner,
                operator=status.operator,
                chain_id=status.chain_id,
                from_block=int(platform.deployment.get("deployed_block", 0)),
            )
        if platform.signer is None:
            raise ConfigError("no operator signer configured (chain_keystore_file or chain_operator_key)")
        return await register_user_vault(
            platform.w3,
            platform.deployment,
            platform.signer,
            platform.nonces,
            user,
            owner,
            self.settings.chain_vault_daily_limits,
        )

    async def close(self) -> None:
        if self._vault is not None:
            await self._vault.close()
            self._vault = None
        self._vaults.clear()
        if self._owns_redis and self.redis is not None:
            await self.redis.aclose()
            self.redis = None
