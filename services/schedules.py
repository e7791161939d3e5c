"""Schedule service: a user's scheduled agent turns, each one a Temporal Schedule.

A schedule ``schedule:<owner>:<hex>`` starts a ScheduledTurnWorkflow on every firing (overlap
SKIP: a firing while the previous turn still runs is skipped; a catch-up window runs a firing
missed during an outage once, not as a burst). The owner is in the id, in the ImpressoxOwner
search attribute (Web UI: filter by owner) and checked on every call: another user's schedule
is reported as not found.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import FailureError
from temporalio.service import RPCError, RPCStatusCode

from core.agents import AgentFactory
from core.automations import ScheduledTurnInput
from core.errors import BadInputError, NotFoundError, UnavailableError
from core.names import USER_NAME
from core.quotas import int_quota, quota, refusal
from core.settings import Settings
from core.temporal.search_attributes import AGENT, OWNER, PLATFORM
from services.schedule_intervals import min_interval_seconds
from services.tenants import TenantRegistry
from workflows.scheduled_turn import ScheduledTurnWorkflow

RECENT_RUNS = 5
#: the shortest schedule interval when the setting is unset: with API keys (many users) and keyless
SHARED_MIN_INTERVAL_SECONDS = 60
LOCAL_MIN_INTERVAL_SECONDS = 1


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(min_length=1, max_length=4000)
    cron: str | None = Field(default=None, min_length=1, max_length=100)
    every_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    timezone: str = Field(default="UTC", max_length=64)
    agent: str = Field(default="assistant", min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_spec(self) -> ScheduleCreate:
        if (self.cron is None) == (self.every_seconds is None):
            raise ValueError("give exactly one of cron or every_seconds")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {self.timezone!r}, e.g. Europe/Paris") from None
        return self


class ScheduleCreated(BaseModel):
    schedule_id: str
    next_run_at: datetime | None


class ScheduleRun(BaseModel):
    scheduled_at: datetime | None
    started_at: datetime | None
    workflow_id: str
    status: str
    reply: str | None = None
    #: why a failed run could not run its turn (it is also in the owner's notifications)
    error: str | None = None


class ScheduleOut(BaseModel):
    schedule_id: str
    prompt: str
    agent: str
    cron: str | None = None
    every_seconds: int | None = None
    timezone: str = "UTC"
    paused: bool = False
    note: str | None = None
    next_run_at: datetime | None = None
    created_at: datetime | None = None
    recent_runs: list[ScheduleRun] = Field(default_factory=list)


def owner_of(schedule_id: str) -> str | None:
    parts = schedule_id.split(":")
    return parts[1] if len(parts) == 3 and parts[0] == "schedule" and USER_NAME.match(parts[1]) else None


class ScheduleService:
    def __init__(self, client: Client, settings: Settings, agents: AgentFactory) -> None:
        self.client = client
        self.settings = settings
        self.agents = agents
        self.tenants = TenantRegistry(client, settings)

    async def create(self, owner: str, req: ScheduleCreate, suffix: str | None = None) -> ScheduleCreated:
        """Create the schedule; a ``suffix`` (e.g. from a tool's idempotency key) makes a retry find it."""
        if not USER_NAME.match(owner):
            raise BadInputError(f"invalid owner {owner!r}")
        plan = self.agents.build(req.agent)  # unknown agent: an error now, not at the first firing
        self._check_interval(owner, req)
        sid = f"schedule:{owner}:{suffix or uuid.uuid4().hex[:12]}"
        cap = int_quota(self.settings, owner, "max_schedules_per_user")
        if not (await self.tenants.reserve(owner, "schedule", sid, cap)).granted:
            raise refusal(owner, "schedules", cap, "max_schedules_per_user", "delete one first")
        try:
            return await self._create(owner, req, sid, plan.name, suffix)
        except Exception:
            await self.tenants.release(owner, "schedule", sid)
            raise

    def _check_interval(self, owner: str, req: ScheduleCreate) -> None:
        """422 for a spec that fires more often than the user's minimum interval."""
        # unset: the shared deployment's default, or the keyless one user's (core/settings.py)
        least = quota(self.settings, owner, "schedule_min_interval_seconds") or (
            SHARED_MIN_INTERVAL_SECONDS if self.settings.api_keys else LOCAL_MIN_INTERVAL_SECONDS
        )
        gap = min_interval_seconds(req.cron, req.every_seconds)
        if gap < least:
            spec = f"every_seconds {req.every_seconds}" if req.every_seconds is not None else f"cron {req.cron!r}"
            raise BadInputError(
                f"{spec} fires every {gap:g} s, more often than the minimum interval of {least:g} s "
                "(setting schedule_min_interval_seconds)"
            )

    async def _create(
        self, owner: str, req: ScheduleCreate, sid: str, agent: str, suffix: str | None
    ) -> ScheduleCreated:
        spec = ScheduleSpec(
            cron_expressions=[req.cron] if req.cron else [],
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=req.every_seconds))] if req.every_seconds else [],
            time_zone_name=req.timezone,
        )
        attrs = TypedSearchAttributes(
            [
                SearchAttributePair(OWNER, owner),
                SearchAttributePair(AGENT, agent),
                SearchAttributePair(PLATFORM, "schedule"),
            ]
        )
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                ScheduledTurnWorkflow.run,
                ScheduledTurnInput(
                    schedule_id=sid,
                    owner=owner,
                    agent=agent,
                    prompt=req.prompt,
                    wait_seconds=self.settings.schedule_turn_wait_seconds,
                ),
                id=f"{sid}/turn",
                task_queue=self.settings.task_queue,
                typed_search_attributes=attrs,
                static_summary=f"scheduled turn of {owner}: {req.prompt[:80]}",
            ),
            spec=spec,
            policy=SchedulePolicy(
                overlap=ScheduleOverlapPolicy.SKIP,
                catchup_window=timedelta(seconds=self.settings.schedule_catchup_seconds),
            ),
            state=ScheduleState(note=f"created by {owner}"),
        )
        memo: dict[str, Any] = {
            "owner": owner,
            "prompt": req.prompt,
            "agent": agent,
            "cron": req.cron,
            "every_seconds": req.every_seconds,
            "timezone": req.timezone,
        }
        try:
            handle = await self.client.create_schedule(sid, schedule, search_attributes=attrs, memo=memo)
        except ScheduleAlreadyRunningError:
            if suffix is None:
                raise
            handle = self.client.get_schedule_handle(sid)  # a retried create: the schedule is there
        except RPCError as exc:
            if exc.status == RPCStatusCode.INVALID_ARGUMENT:
                raise BadInputError(f"invalid schedule: {exc.message}") from None
            raise
        desc = await handle.describe()
        nxt = desc.info.next_action_times
        return ScheduleCreated(schedule_id=sid, next_run_at=nxt[0] if nxt else None)

    async def list(self, owner: str) -> list[ScheduleOut]:
        """The owner's schedules, from their own registry (never a scan of everyone's): each
        described at once; one that cannot be described makes the list a 503, not a partial one."""
        if not USER_NAME.match(owner):
            raise BadInputError(f"invalid owner {owner!r}")
        ids = [i for i in await self.tenants.items(owner, "schedule") if owner_of(i) == owner]

        async def one(sid: str) -> ScheduleOut | None:
            try:
                return await self.get(owner, sid, runs=False)
            except NotFoundError:  # deleted meanwhile (or by hand): it no longer holds a slot
                await self.tenants.release(owner, "schedule", sid)
                return None
            except RPCError as exc:
                raise UnavailableError(
                    f"schedule {sid} did not answer ({exc.message}); the list would be incomplete"
                ) from None

        found = await asyncio.gather(*(one(i) for i in ids))
        return [s for s in found if s is not None]

    async def get(self, owner: str, schedule_id: str, runs: bool = True) -> ScheduleOut:
        handle = self._handle(owner, schedule_id)
        try:
            desc = await handle.describe()
        except RPCError as exc:
            raise _not_found_or(exc, schedule_id) from None
        memo = await desc.memo()
        state = desc.schedule.state
        nxt = desc.info.next_action_times
        view = ScheduleOut(
            schedule_id=schedule_id,
            prompt=str(memo.get("prompt", "")),
            agent=str(memo.get("agent", "")),
            cron=memo.get("cron"),
            every_seconds=memo.get("every_seconds"),
            timezone=str(memo.get("timezone") or "UTC"),
            paused=state.paused,
            note=state.note or None,
            next_run_at=nxt[0] if nxt and not state.paused else None,
            created_at=desc.info.created_at,
        )
        if runs:
            view.recent_runs = [await self._run(a) for a in list(desc.info.recent_actions)[-RECENT_RUNS:]]
        return view

    async def _run(self, action: Any) -> ScheduleRun:
        started = action.action
        wid = getattr(started, "workflow_id", "")
        run = ScheduleRun(
            scheduled_at=action.scheduled_at, started_at=action.started_at, workflow_id=wid, status="unknown"
        )
        try:
            wf = self.client.get_workflow_handle(wid, run_id=getattr(started, "first_execution_run_id", None))
            d = await wf.describe()
            run.status = d.status.name.lower() if d.status else "unknown"
            if d.status == WorkflowExecutionStatus.COMPLETED:
                result = await wf.result()
                run.reply = getattr(result, "reply", None) or (
                    result.get("reply") if isinstance(result, dict) else None
                )
            elif d.status == WorkflowExecutionStatus.FAILED:
                await wf.result()
        except WorkflowFailureError as failed:
            run.error = failed.cause.message if isinstance(failed.cause, FailureError) else str(failed)
        except RPCError:
            pass
        return run

    async def pause(self, owner: str, schedule_id: str) -> ScheduleOut:
        await self._call(owner, schedule_id, lambda h: h.pause(note=f"paused by {owner}"))
        return await self.get(owner, schedule_id, runs=False)

    async def resume(self, owner: str, schedule_id: str) -> ScheduleOut:
        await self._call(owner, schedule_id, lambda h: h.unpause(note=f"resumed by {owner}"))
        return await self.get(owner, schedule_id, runs=False)

    async def trigger(self, owner: str, schedule_id: str) -> ScheduleOut:
        await self._call(owner, schedule_id, lambda h: h.trigger())
        return await self.get(owner, schedule_id, runs=False)

    async def delete(self, owner: str, schedule_id: str) -> None:
        try:
            await self._call(owner, schedule_id, lambda h: h.delete())
        except NotFoundError:
            if owner_of(schedule_id) == owner:  # gone already: its slot goes too
                await self.tenants.release(owner, "schedule", schedule_id)
            raise
        await self.tenants.release(owner, "schedule", schedule_id)

    async def _call(self, owner: str, schedule_id: str, op: Any) -> None:
        handle = self._handle(owner, schedule_id)
        try:
            await op(handle)
        except RPCError as exc:
            raise _not_found_or(exc, schedule_id) from None

    def _handle(self, owner: str, schedule_id: str) -> Any:
        if owner_of(schedule_id) != owner:
            raise NotFoundError(f"no schedule {schedule_id!r}")
        return self.client.get_schedule_handle(schedule_id)


def _not_found_or(exc: RPCError, schedule_id: str) -> Exception:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return NotFoundError(f"no schedule {schedule_id!r}")
    return exc


# ---------------------------------------------------------------------- platform periodic tasks
TASK_PREFIX = "task:"


def task_schedule_id(name: str) -> str:
    return f"{TASK_PREFIX}{name}"


def _task_schedule(task: Any, settings: Settings) -> Schedule:
    from core.automations import PeriodicTaskInput
    from workflows.periodic import PeriodicTaskWorkflow

    spec = ScheduleSpec(
        intervals=[ScheduleIntervalSpec(every=task.every)] if task.every else [],
        cron_expressions=[task.cron] if task.cron else [],
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            PeriodicTaskWorkflow.run,
            PeriodicTaskInput(name=task.name, timeout_seconds=task.timeout_seconds),
            id=f"{task_schedule_id(task.name)}/run",
            task_queue=settings.task_queue,
            static_summary=f"periodic task {task.name}",
        ),
        spec=spec,
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=1)),
        state=ScheduleState(note=f"{task.description or task.name} [{task.spec_key()}]"),
    )


async def reconcile_periodic_tasks(client: Client, settings: Settings, registered: list[Any]) -> dict[str, list[str]]:
    """Make Temporal's ``task:*`` schedules match the registered tasks; idempotent.

    The spec is remembered at the end of the schedule's note (``[every=60s]``): a task whose spec changed is
    updated, a schedule whose task is gone is deleted, an unchanged one is left alone.
    """
    from temporalio.client import ScheduleUpdate

    wanted = {task_schedule_id(t.name): t for t in registered}
    existing: dict[str, str | None] = {}
    async for item in await client.list_schedules():
        if item.id.startswith(TASK_PREFIX):
            state = getattr(item.schedule, "state", None)
            existing[item.id] = getattr(state, "note", None)
    report: dict[str, list[str]] = {"created": [], "updated": [], "deleted": [], "unchanged": []}
    for sid, task in wanted.items():
        key = task.spec_key()
        if sid not in existing:
            # the list is eventually consistent: ask the schedule itself before creating it
            try:
                desc = await client.get_schedule_handle(sid).describe()
                existing[sid] = desc.schedule.state.note
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
        if sid not in existing:
            try:
                await client.create_schedule(sid, _task_schedule(task, settings))
                report["created"].append(task.name)
            except ScheduleAlreadyRunningError:  # another worker created it first
                report["unchanged"].append(task.name)
        elif not (existing[sid] or "").endswith(f"[{key}]"):
            schedule = _task_schedule(task, settings)

            def replace(_: Any, schedule: Schedule = schedule) -> ScheduleUpdate:
                return ScheduleUpdate(schedule=schedule)

            await client.get_schedule_handle(sid).update(replace)
            report["updated"].append(task.name)
        else:
            report["unchanged"].append(task.name)
    for sid in existing:
        if sid not in wanted:
            try:
                await client.get_schedule_handle(sid).delete()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
            report["deleted"].append(sid.removeprefix(TASK_PREFIX))
    return report
