"""TenantWorkflow: one durable registry per user (id ``tenant:<task queue>:<user>``).

It holds the ids of what the user has (active sessions, alerts, schedules) and the times of
their recent link codes. Creating any of them first takes a slot here with the ``reserve``
update: a workflow runs one handler at a time, so 60 concurrent creates at a limit of 20 get
exactly 20 slots, where a visibility count lags and lets them all through. Lists read the
``items`` query, so a user's list costs O(their items) whatever others hold.

A session counts while it was active (created, or sent a message: ``touch``) within the
window its reservation names; older ones drop out, so idle sessions never lock a user out.
The workflow continues as new every UPDATES_PER_RUN updates and signals, carrying its state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.tenants import Kind, Release, Reservation, Reserve, TenantStart

UPDATES_PER_RUN = 500
HOUR = timedelta(hours=1)


def tenant_workflow_id(task_queue: str, user: str) -> str:
    """Scoped by the deployment's task queue (deployments may share a server)."""
    return f"tenant:{task_queue}:{user}"


@workflow.defn
class TenantWorkflow:
    @workflow.init
    def __init__(self, start: TenantStart) -> None:
        self._s = start
        self._changes = 0

    @workflow.run
    async def run(self, start: TenantStart) -> None:
        await workflow.wait_condition(
            lambda: self._changes >= UPDATES_PER_RUN or workflow.info().is_continue_as_new_suggested()
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._s)

    @workflow.update
    def reserve(self, req: Reserve) -> Reservation:
        self._changes += 1
        now = workflow.now()
        if req.kind == "link_code":
            recent = [t for t in self._s.link_codes if now - t < HOUR]
            if len(recent) >= req.limit:
                self._s.link_codes = recent
                wait = (min(recent) + HOUR - now).total_seconds() if recent else HOUR.total_seconds()
                return Reservation(granted=False, held=len(recent), retry_after_seconds=max(1.0, wait))
            self._s.link_codes = [*recent, now]
            return Reservation(granted=True, held=len(self._s.link_codes))
        items = self._items(req.kind)
        if req.kind == "session" and req.window_seconds is not None:
            since = now - timedelta(seconds=req.window_seconds)
            for sid in [s for s, t in items.items() if t < since and s != req.item]:
                del items[sid]  # idle past the window: no longer counted
        if req.item not in items and len(items) >= req.limit:
            return Reservation(granted=False, held=len(items))
        items[req.item] = now
        return Reservation(granted=True, held=len(items))

    @workflow.update
    def release(self, req: Release) -> bool:
        """Free an item's slot (a session ended, an alert or schedule deleted)."""
        self._changes += 1
        if req.kind == "link_code":
            return False
        return self._items(req.kind).pop(req.item, None) is not None

    @workflow.signal
    def claim(self, req: Reserve) -> None:
        """A slot its caller granted itself because no worker answered ``reserve`` (none was
        running: a session can be created and written to with no worker). It counts from now on."""
        self._changes += 1
        if req.kind != "link_code":
            self._items(req.kind)[req.item] = workflow.now()

    @workflow.signal
    def touch(self, session_id: str) -> None:
        """A session was active (sent a message): it counts for another window."""
        self._changes += 1
        if session_id in self._s.sessions:
            self._s.sessions[session_id] = workflow.now()

    @workflow.query
    def items(self, kind: Kind) -> list[str]:
        """The ids of the user's items of ``kind``, oldest first."""
        if kind == "link_code":
            return [t.isoformat() for t in self._s.link_codes]
        return list(self._items(kind))

    def _items(self, kind: Kind) -> dict[str, datetime]:
        if kind == "session":
            return self._s.sessions
        if kind == "alert":
            return self._s.alerts
        return self._s.schedules
