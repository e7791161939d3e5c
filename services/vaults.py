"""Vault service: register a user's own vault and read it back (API, CLI; later the bots).

Registrations live in the VaultRegistryWorkflow (durable, shared by every process); the
vault itself is deployed by a worker (``vault.register``), which holds the operator key.
Reads go straight to the chain without any key.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode
from web3 import AsyncWeb3

from chain.client import chain_errors, close_web3, make_web3
from chain.deploy import deployment_for
from chain.units import checksum_address
from chain.vault import VaultService, VaultStatus
from core.errors import BadInputError, ConfigError, ConflictError, NotFoundError, PermanentError, UnavailableError
from core.settings import Settings
from core.vaults import UserVault, VaultRegistration, VaultRegistryStart
from workflows.vaults import VaultRegistryWorkflow, registry_workflow_id

QUERY_TIMEOUT = timedelta(seconds=5)
NO_VAULT = 'you have no vault yet: register one with POST /v1/vault {"owner_address": "0x<your wallet address>"}'
_ERRORS = {"ConflictError": ConflictError, "BadInputError": BadInputError, "NotFoundError": NotFoundError}


class VaultRegistryService:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.registry_id = registry_workflow_id(settings.task_queue)
        #: one chain client for every read (made on first use), not one per request
        self._w3: AsyncWeb3 | None = None

    async def close(self) -> None:
        if self._w3 is not None:
            await close_web3(self._w3)
            self._w3 = None

    def chain_client(self) -> AsyncWeb3:
        """The shared chain client (audit bundles read receipts with it)."""
        return self._chain()

    def _chain(self) -> AsyncWeb3:
        if not self.settings.chain_rpc_url:
            raise PermanentError("no chain is configured for this platform")
        if self._w3 is None:
            self._w3 = make_web3(self.settings.chain_rpc_url)
        return self._w3

    async def _deployment(self) -> dict[str, Any]:
        """The platform deployment on the chain the RPC URL serves now (ConfigError without one)."""
        w3 = self._chain()
        with chain_errors("read chain id"):
            chain_id = await w3.eth.chain_id
        deployment = deployment_for(self.settings.data_dir, chain_id)
        if deployment is None:
            raise ConfigError(f"no vault deployed on chain {chain_id}: run `impressox chain deploy`")
        return deployment

    async def register(self, user: str, owner_address: str) -> UserVault:
        """Deploy (or find) ``user``'s vault owned by ``owner_address``; the same vault every time."""
        request = VaultRegistration(user=user, owner=checksum_address(owner_address, "owner_address"))
        if not self.settings.chain_rpc_url:
            raise PermanentError("no chain is configured for this platform")
        try:
            handle = await self._registry()
            return await handle.execute_update(VaultRegistryWorkflow.register, request)
        except WorkflowUpdateFailedError as exc:
            raise _domain_error(exc) from None

    async def freeze(self, user: str) -> str:
        """Pause ``user``'s vault on-chain (a worker sends pause() with the operator key): the tx
        hash, "" when it was frozen already. NotFoundError without a vault."""
        if await self.get(user) is None:
            raise NotFoundError(NO_VAULT)
        try:
            handle = await self._registry()
            return await handle.execute_update(VaultRegistryWorkflow.freeze, user)
        except WorkflowUpdateFailedError as exc:
            raise _domain_error(exc) from None

    async def _registry(self) -> WorkflowHandle:
        """The registry workflow, started on first use."""
        return await self.client.start_workflow(
            VaultRegistryWorkflow.run,
            VaultRegistryStart(),
            id=self.registry_id,
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary="registry of user vaults",
        )

    async def get(self, user: str) -> UserVault | None:
        """``user``'s registered vault; the platform deployment's vault for ``chain_vault_user``."""
        try:
            found = await self.client.get_workflow_handle(self.registry_id).query(
                VaultRegistryWorkflow.vault, user, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise UnavailableError(f"the vault registry did not answer ({exc.message})") from None
            found = None
        if found is None and user == self.settings.chain_vault_user:
            return await self._platform_vault(user)
        return found

    async def list(self) -> list[UserVault]:
        """Every registered vault (the listener follows them)."""
        try:
            return await self.client.get_workflow_handle(self.registry_id).query(
                VaultRegistryWorkflow.vaults, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return []
            raise UnavailableError(f"the vault registry did not answer ({exc.message})") from None

    async def status(self, user: str) -> VaultStatus:
        """Balances, limits and today's spending of ``user``'s own vault; NotFoundError without one."""
        vault = await self.get(user)
        if vault is None:
            raise NotFoundError(NO_VAULT)
        return await self._read(vault.address)

    async def _platform_vault(self, user: str) -> UserVault | None:
        if not self.settings.chain_rpc_url:
            return None
        try:
            deployment = await self._deployment()
        except Exception:  # noqa: BLE001 - no chain (or nothing deployed on it): no vault to show
            return None
        return UserVault(
            user=user,
            address=deployment["vault"],
            owner=deployment.get("owner", ""),
            operator=deployment.get("operator", ""),
            chain_id=deployment["chain_id"],
            from_block=int(deployment.get("deployed_block", 0)),
        )

    async def _read(self, address: str) -> VaultStatus:
        deployment = await self._deployment()
        return await VaultService(self._chain(), {**deployment, "vault": address}).status()


def _domain_error(exc: WorkflowUpdateFailedError) -> Exception:
    cause: BaseException | None = exc.cause
    while isinstance(cause, FailureError) and not isinstance(cause, ApplicationError):
        cause = cause.cause  # ActivityError -> the activity's ApplicationError
    if isinstance(cause, ApplicationError):
        return _ERRORS.get(cause.type or "", PermanentError)(cause.message)
    return PermanentError(str(exc.cause or exc))
