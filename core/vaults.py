"""User vaults: the registry's records and requests (persisted in Temporal history: evolve these
models by adding optional fields only)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from core.names import USER_NAME_PATTERN

#: the activity that deploys a user vault (run by workers, called by VaultRegistryWorkflow)
REGISTER_ACTIVITY = "vault.register"
#: freezes a user's vault on-chain (pause() with the operator key); only the owner's wallet unpauses
FREEZE_ACTIVITY = "vault.freeze"


class UserVault(BaseModel):
    """A user's registered vault."""

    user: str
    address: str
    owner: str
    operator: str
    chain_id: int
    #: the block from which the vault's events must be followed (its creation block)
    from_block: int
    #: True when this registration deployed the proxy (False: it was found on chain)
    created: bool = False


class VaultRegistration(BaseModel):
    """Register ``user``'s vault, owned by ``owner`` (a checksummed address)."""

    user: str = Field(pattern=USER_NAME_PATTERN)
    owner: str


class VaultRegistryStart(BaseModel):
    """Workflow input of VaultRegistryWorkflow; ``vaults`` carries the registry across continue-as-new."""

    vaults: list[UserVault] | None = None
