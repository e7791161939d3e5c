"""VaultRegistryWorkflow: the platform's durable registry of user vaults (one per task queue,
id ``vault-registry:<task queue>``, so each deployment of the platform has its own).

The API registers a vault with the ``register`` update; the update runs the ``vault.register``
activity on a worker (the one process holding the operator key), which deploys or finds the
user's CREATE2 vault and hands it to the user's owner address, then records it. Registrations
of one user run one at a time; registering again returns the same vault. The listener reads
``vaults`` to follow every registered vault, the API reads ``vault`` for ``GET /v1/vault``.
The workflow never ends: it continues as new every UPDATES_PER_RUN registrations, carrying them.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.vaults import FREEZE_ACTIVITY, REGISTER_ACTIVITY, UserVault, VaultRegistration, VaultRegistryStart


def registry_workflow_id(task_queue: str) -> str:
    return f"vault-registry:{task_queue}"


UPDATES_PER_RUN = 500
REGISTER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=10), maximum_attempts=6
)


@workflow.defn
class VaultRegistryWorkflow:
    @workflow.init
    def __init__(self, start: VaultRegistryStart) -> None:
        self._vaults: dict[str, UserVault] = {v.user: v for v in start.vaults or []}
        self._busy: set[str] = set()
        self._updates = 0

    @workflow.run
    async def run(self, start: VaultRegistryStart) -> None:
        await workflow.wait_condition(
            lambda: self._updates >= UPDATES_PER_RUN or workflow.info().is_continue_as_new_suggested()
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(VaultRegistryStart(vaults=list(self._vaults.values())))

    @workflow.update
    async def register(self, request: VaultRegistration) -> UserVault:
        """The user's vault, deployed and handed to ``request.owner`` if it was not yet."""
        self._updates += 1
        await workflow.wait_condition(lambda: request.user not in self._busy)
        known = self._vaults.get(request.user)
        if known is not None:
            if known.owner.lower() != request.owner.lower():
                raise ApplicationError(
                    f"your vault {known.address} is already registered with owner {known.owner}; "
                    "its owner can transfer it on-chain",
                    type="ConflictError",
                    non_retryable=True,
                )
            return known.model_copy(update={"created": False})
        self._busy.add(request.user)
        try:
            vault = await workflow.execute_activity(
                REGISTER_ACTIVITY,
                request,
                result_type=UserVault,
                start_to_close_timeout=timedelta(minutes=3),
                retry_policy=REGISTER_RETRY,
            )
        finally:
            self._busy.discard(request.user)
        self._vaults[request.user] = vault
        return vault

    @workflow.update
    async def freeze(self, user: str) -> str:
        """Pause ``user``'s vault on-chain (a worker holds the operator key); the tx hash, or "" when it
        was paused already. Only the vault owner's wallet can unpause it."""
        self._updates += 1
        return await workflow.execute_activity(
            FREEZE_ACTIVITY,
            user,
            result_type=str,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=REGISTER_RETRY,
        )

    @register.validator
    def _validate(self, request: VaultRegistration) -> None:
        if not request.owner.startswith("0x") or len(request.owner) != 42:
            raise ValueError("owner must be an address")

    @workflow.query
    def vault(self, user: str) -> UserVault | None:
        return self._vaults.get(user)

    @workflow.query
    def vaults(self) -> list[UserVault]:
        return list(self._vaults.values())
