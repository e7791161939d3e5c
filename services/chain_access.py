"""The worker's way to the chain: one VaultService, connected on first use.

Lazy so a worker can start before the chain (or without one); the operator's key is
loaded here, inside the worker, and never travels through workflow inputs or history.
"""

from __future__ import annotations

import asyncio

from chain.accounts import operator_signer_from_settings
from chain.vault import VaultService
from core.errors import PermanentError
from core.settings import Settings


class ChainNotConfiguredError(PermanentError):
    """No chain RPC URL is configured for this worker."""


class ChainAccess:
    def __init__(self, settings: Settings, redis: object | None = None) -> None:
        self.settings = settings
        self.redis = redis
        self._vault: VaultService | None = None
        self._lock = asyncio.Lock()

    async def vault(self) -> VaultService:
        if self._vault is not None:
            return self._vault
        if not self.settings.chain_rpc_url:
            raise ChainNotConfiguredError("no chain is configured (set IMPRESSOX_CHAIN_RPC_URL)")
        async with self._lock:
            if self._vault is None:
                self._vault = await self._connect(self.settings.chain_rpc_url)
        return self._vault

    async def _connect(self, rpc_url: str) -> VaultService:
        vault = await VaultService.connect(
            rpc_url, self.settings.data_dir, redis=self.redis, confirmations=self.settings.chain_confirmations
        )
        # the signer depends on the chain (anvil's dev operator only on the local chain)
        vault.signer = operator_signer_from_settings(self.settings, vault.deployment["chain_id"])
        return vault

    async def close(self) -> None:
        if self._vault is not None:
            await self._vault.close()
            self._vault = None
