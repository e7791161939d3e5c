"""``vault.register``: deploy (or find) a user's vault and hand it to the user's owner address.

Runs on the worker because only the worker holds the operator key that pays for and sets up
the vault. Idempotent: a retry finds the vault and finishes whatever step was left.
"""

from __future__ import annotations

from temporalio import activity

from activities.errors import permanent_errors_not_retried
from core.errors import PermanentError
from core.vaults import FREEZE_ACTIVITY, REGISTER_ACTIVITY, UserVault, VaultRegistration
from services.chain_access import ChainAccess, ChainNotConfiguredError


class VaultActivities:
    def __init__(self, chain: ChainAccess | None) -> None:
        self.chain = chain

    @activity.defn(name=REGISTER_ACTIVITY)
    async def register(self, request: VaultRegistration) -> UserVault:
        return await permanent_errors_not_retried(self._register(request))

    @activity.defn(name=FREEZE_ACTIVITY)
    async def freeze(self, user: str) -> str:
        """Pause ``user``'s vault on-chain; the transaction hash ("": it was paused already)."""
        return await permanent_errors_not_retried(self._freeze(user))

    async def _freeze(self, user: str) -> str:
        if self.chain is None:
            raise ChainNotConfiguredError("no chain is configured for this platform")
        vault = await self.chain.vault_of(user)
        if vault is None:
            raise PermanentError(f"user {user!r} has no vault on this platform yet")
        return await vault.pause() or ""

    async def _register(self, request: VaultRegistration) -> UserVault:
        if self.chain is None:
            raise ChainNotConfiguredError("no chain is configured for this platform")
        return await self.chain.register(request.user, request.owner)
