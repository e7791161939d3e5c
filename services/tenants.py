"""Tenant registry client: take and free a user's slots (sessions, alerts, schedules, link
codes) and read their own index, in the user's TenantWorkflow (workflows/tenant.py).

``reserve`` is an update-with-start (the first one creates the registry): one RPC, exact under
concurrency. Temporal takes at most a few updates in flight per workflow (10 by default), so
one process sends a user's updates one at a time, and a busy answer (from another process's
burst) is retried with jitter: taking a slot for the same item again is harmless. Reads are
queries; a registry that does not answer is a 503, never an empty list.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from core.errors import BadInputError, UnavailableError
from core.names import USER_NAME
from core.settings import Settings
from core.tenants import Kind, Release, Reservation, Reserve, TenantStart
from workflows.tenant import TenantWorkflow, tenant_workflow_id

QUERY_TIMEOUT = timedelta(seconds=5)
_UNAVAILABLE = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.CANCELLED)
#: "too many updates in flight" and "update aborted" (a workflow task lost to a burst): try again
_BUSY = (RPCStatusCode.RESOURCE_EXHAUSTED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.ABORTED)
#: how long a change keeps being retried while the registry is busy
BUSY_RETRY_SECONDS = 20.0
T = TypeVar("T")


class TenantRegistry:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        #: one change per user at a time from this process (Temporal limits updates in flight)
        self._locks: dict[str, asyncio.Lock] = {}

    async def _change(self, user: str, send: Callable[[], Awaitable[T]]) -> T:
        """``send`` one update to the user's registry: alone among this process's, retried while busy."""
        lock = self._locks.setdefault(user, asyncio.Lock())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUSY_RETRY_SECONDS
        try:
            async with lock:
                delay = 0.05
                while True:
                    try:
                        return await send()
                    except RPCError as exc:
                        if exc.status not in _BUSY or loop.time() + delay > deadline:
                            raise
                    await asyncio.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 1.0)
        finally:
            if not lock.locked():
                self._locks.pop(user, None)

    def _id(self, user: str) -> str:
        if not isinstance(user, str) or not USER_NAME.match(user):
            raise BadInputError(f"invalid user {user!r}")
        return tenant_workflow_id(self.settings.task_queue, user)

    async def reserve(
        self, user: str, kind: Kind, item: str, limit: int, window_seconds: float | None = None
    ) -> Reservation:
        wid = self._id(user)
        req = Reserve(kind=kind, item=item, limit=limit, window_seconds=window_seconds)

        def send() -> Awaitable[Reservation]:
            # an operation object is used once: each try makes its own
            start = WithStartWorkflowOperation(
                TenantWorkflow.run,
                TenantStart(user=user),
                id=wid,
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"registry of {user}",
            )
            return self.client.execute_update_with_start_workflow(
                TenantWorkflow.reserve, req, start_workflow_operation=start
            )

        try:
            return await self._change(user, send)
        except (RPCError, WorkflowUpdateFailedError) as exc:
            raise UnavailableError(f"the registry of {user} did not answer ({exc}); try again") from None

    async def claim(self, user: str, kind: Kind, item: str) -> None:
        """Record a slot without asking (signal-with-start: durable with no worker running); for
        when ``reserve`` got no answer because no worker runs. Counted once a worker does."""
        try:
            await self.client.start_workflow(
                TenantWorkflow.run,
                TenantStart(user=user),
                id=self._id(user),
                task_queue=self.settings.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                start_signal="claim",
                start_signal_args=[Reserve(kind=kind, item=item, limit=0)],
                static_summary=f"registry of {user}",
            )
        except RPCError as exc:
            raise UnavailableError(f"the registry of {user} did not answer ({exc}); try again") from None

    async def release(self, user: str, kind: Kind, item: str) -> None:
        """Free the slot; a registry that does not exist holds nothing to free."""
        handle = self.client.get_workflow_handle(self._id(user))
        try:
            await self._change(
                user, lambda: handle.execute_update(TenantWorkflow.release, Release(kind=kind, item=item))
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise UnavailableError(f"the registry of {user} did not answer ({exc}); try again") from None

    async def touch(self, user: str, session_id: str) -> None:
        try:
            await self.client.get_workflow_handle(self._id(user)).signal(TenantWorkflow.touch, session_id)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise

    async def items(self, user: str, kind: Kind) -> list[str]:
        """The user's own ids of ``kind``; [] for a user with no registry yet."""
        try:
            return await self.client.get_workflow_handle(self._id(user)).query(
                TenantWorkflow.items, kind, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return []
            if exc.status in _UNAVAILABLE:
                raise UnavailableError(
                    f"the registry of {user} did not answer in time (is a worker running?)"
                ) from None
            raise
