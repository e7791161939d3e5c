"""Agent tools over the automations subsystem: the user's schedules and alerts, managed by chat.

    schedule_prompt, list_schedules, pause_schedule, resume_schedule, delete_schedule
    create_alert, list_alerts, delete_alert

They act for the session's owner only. Creating tools derive the new id from the call's
idempotency key, so a retried activity finds what the first attempt made instead of making a
second one. A schedule or alert can be named by its id or by words of its prompt/description
("my morning report", "the ETH alert").
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.agents import AgentFactory
from core.errors import BadInputError, NotFoundError, PermanentError
from core.tools import ToolContext, ToolResult
from services.alerts import AlertCreate, AlertService
from services.schedules import ScheduleCreate, ScheduleOut, ScheduleService
from services.tools import automations_phrases  # noqa: F401  (how the offline model understands these tools)
from services.tools.deps import WorkerDeps
from services.tools.registry import tools

#: words that say when a cron schedule runs, matched against its hour
_DAYPARTS = {"morning": range(5, 12), "noon": range(11, 14), "afternoon": range(12, 18), "evening": range(17, 23)}
_STOPWORDS = {"my", "the", "a", "an", "schedule", "scheduled", "report", "alert", "alerts", "job", "task", "please"}


def _services(ctx: ToolContext[WorkerDeps]) -> tuple[Any, Any]:
    client = ctx.deps.temporal if ctx.deps else None
    settings = ctx.deps.settings if ctx.deps else None
    if client is None or settings is None:
        raise PermanentError("schedules and alerts are not available on this worker")
    return client, settings


def _schedules(ctx: ToolContext[WorkerDeps]) -> ScheduleService:
    client, settings = _services(ctx)
    assert ctx.deps is not None  # _services checked it
    if ctx.deps.agents is None:  # a worker built without them (tests): read the agents file once
        from services.tools import load_tools  # the package imports this module: load it at call time

        ctx.deps.agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    return ScheduleService(client, settings, ctx.deps.agents)


def _alerts(ctx: ToolContext[WorkerDeps]) -> AlertService:
    client, settings = _services(ctx)
    return AlertService(client, settings)


def _suffix(ctx: ToolContext[WorkerDeps], n: int) -> str:
    return hashlib.sha256(ctx.idempotency_key.encode()).hexdigest()[:n]


def _when(s: ScheduleOut) -> str:
    if s.every_seconds:
        n = s.every_seconds
        for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if n % size == 0:
                k = n // size
                return f"every {unit}" if k == 1 else f"every {k} {unit}s"
        return f"every {n} seconds"
    return f"cron '{s.cron}' ({s.timezone})"


def _schedule_line(s: ScheduleOut) -> str:
    state = "paused" if s.paused else (f"next {s.next_run_at:%Y-%m-%d %H:%M} UTC" if s.next_run_at else "active")
    return f'{s.schedule_id}: "{s.prompt}" {_when(s)}, {state}'


def _cron_hour(cron: str | None) -> int | None:
    parts = (cron or "").split()
    return int(parts[1]) if len(parts) == 5 and parts[1].isdigit() else None


def _pick(query: str, candidates: list[tuple[str, str, int | None]], what: str) -> str:
    """The one candidate (id, text, hour) a query names: its id, or the best word match."""
    q = query.strip()
    for cid, _, _ in candidates:
        if cid.lower() == q.lower():  # an id as offered, however a model or a person cased it
            return cid
    words = {w for w in re.findall(r"[a-z0-9]+", q.lower()) if w not in _STOPWORDS}
    scored = []
    for cid, text, hour in candidates:
        score = sum(1 for w in words if w in text.lower())
        score += sum(2 for w in words if w in _DAYPARTS and hour is not None and hour in _DAYPARTS[w])
        scored.append((score, cid))
    best = max((s for s, _ in scored), default=0)
    # a lone candidate is taken only when the query names nothing else ("my schedule")
    hits = [cid for s, cid in scored if s == best and (best > 0 or (len(candidates) == 1 and not words))]
    if len(hits) == 1:
        return hits[0]
    if not candidates:
        raise NotFoundError(f"you have no {what}s")
    listed = "; ".join(f"{cid} ({text})" for cid, text, _ in candidates)
    raise BadInputError(f"which {what} do you mean? yours: {listed}")


# ---------------------------------------------------------------------------- schedules
class SchedulePromptArgs(BaseModel):
    prompt: str = Field(min_length=1, max_length=4000, description="What the agent should do at each run")
    cron: str | None = Field(default=None, description="Cron spec such as '0 9 * * *' (09:00 daily)")
    every_seconds: int | None = Field(default=None, ge=1, description="Or: run every N seconds")
    timezone: str = Field(default="UTC", description="IANA time zone of the cron spec, e.g. Europe/Paris")
    agent: str = Field(default="assistant", description="The agent that runs the prompt")


@tools.register(side_effects=True, timeout_seconds=30)
async def schedule_prompt(args: SchedulePromptArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Schedule a prompt to run as your agent's turn on a cron or an interval; answers arrive as notifications."""
    req = ScheduleCreate(**args.model_dump())
    service = _schedules(ctx)
    created = await service.create(ctx.owner, req, suffix=_suffix(ctx, 12))
    view = await service.get(ctx.owner, created.schedule_id, runs=False)
    nxt = f"; first run {created.next_run_at:%Y-%m-%d %H:%M} UTC" if created.next_run_at else ""
    return ToolResult(
        output=f'Scheduled "{args.prompt}" {_when(view)}{nxt} (id {created.schedule_id}).',
        data=created.model_dump(mode="json"),
    )


class NoArgs(BaseModel):
    pass


@tools.register(side_effects=True, timeout_seconds=30)
async def list_schedules(args: NoArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """List your scheduled prompts."""
    found = await _schedules(ctx).list(ctx.owner)
    if not found:
        return ToolResult(output="You have no schedules.", data={"schedules": []})
    lines = "\n".join(f"- {_schedule_line(s)}" for s in found)
    return ToolResult(
        output=f"Your schedules:\n{lines}", data={"schedules": [s.model_dump(mode="json") for s in found]}
    )


class ScheduleRef(BaseModel):
    schedule: str = Field(min_length=1, max_length=200, description="The schedule's id or words of its prompt")


async def _resolve_schedule(service: ScheduleService, owner: str, ref: str) -> ScheduleOut:
    found = await service.list(owner)
    sid = _pick(ref, [(s.schedule_id, s.prompt, _cron_hour(s.cron)) for s in found], "schedule")
    return next(s for s in found if s.schedule_id == sid)


async def _schedule_op(
    args: ScheduleRef, ctx: ToolContext[WorkerDeps], op: Literal["pause", "resume", "delete"]
) -> ToolResult:
    service = _schedules(ctx)
    target = await _resolve_schedule(service, ctx.owner, args.schedule)
    await getattr(service, op)(ctx.owner, target.schedule_id)
    done = {"pause": "Paused", "resume": "Resumed", "delete": "Deleted"}[op]
    return ToolResult(
        output=f'{done} the schedule "{target.prompt}" ({target.schedule_id}).',
        data={"schedule_id": target.schedule_id, "action": op},
    )


@tools.register(side_effects=True, timeout_seconds=30)
async def pause_schedule(args: ScheduleRef, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Pause one of your schedules (named by id or by words of its prompt)."""
    return await _schedule_op(args, ctx, "pause")


@tools.register(side_effects=True, timeout_seconds=30)
async def resume_schedule(args: ScheduleRef, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Resume one of your paused schedules."""
    return await _schedule_op(args, ctx, "resume")


@tools.register(side_effects=True, timeout_seconds=30)
async def delete_schedule(args: ScheduleRef, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Delete one of your schedules."""
    return await _schedule_op(args, ctx, "delete")


# ---------------------------------------------------------------------------- alerts
class CreateAlertArgs(BaseModel):
    kind: Literal["price", "wallet"] = Field(description="price: a token price threshold or move; wallet: transfers")
    symbol: str | None = Field(default=None, description="Price alerts: the token, e.g. ETH")
    above: Decimal | None = Field(default=None, description="Fire when the price goes above this (USD)")
    below: Decimal | None = Field(default=None, description="Fire when the price goes below this (USD)")
    move_pct: Decimal | None = Field(default=None, description="Fire when the price moves this many percent ...")
    window_seconds: int | None = Field(default=None, description="... within this many seconds")
    address: str | None = Field(default=None, description="Wallet alerts: the address to watch")
    direction: Literal["in", "out", "both"] = Field(default="both", description="Wallet alerts: which transfers")
    token: str | None = Field(default=None, description="Wallet alerts: a token symbol; empty for ETH")


@tools.register(side_effects=True, timeout_seconds=30)
async def create_alert(args: CreateAlertArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Create a price alert (above/below a price, or a % move within a window) or a wallet transfer alert."""
    try:
        req = AlertCreate(**args.model_dump())
    except ValueError as exc:
        raise BadInputError(str(exc).split("\n")[-1]) from None
    created = await _alerts(ctx).create(ctx.owner, req, suffix=_suffix(ctx, 10))
    return ToolResult(
        output=f"Alert set: {created.description}. You will get a notification when it fires (id {created.alert_id}).",
        data=created.model_dump(mode="json"),
    )


@tools.register(side_effects=True, timeout_seconds=30)
async def list_alerts(args: NoArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """List your price and wallet alerts."""
    found = await _alerts(ctx).list(ctx.owner)
    if not found:
        return ToolResult(output="You have no alerts.", data={"alerts": []})
    lines = "\n".join(
        f"- {a.alert_id}: {a.description}" + (f" (fired {a.fired_count}x)" if a.fired_count else "") for a in found
    )
    return ToolResult(output=f"Your alerts:\n{lines}", data={"alerts": [a.model_dump(mode="json") for a in found]})


class AlertRef(BaseModel):
    alert: str = Field(min_length=1, max_length=200, description="The alert's id or words of it, e.g. 'ETH'")


@tools.register(side_effects=True, timeout_seconds=30)
async def delete_alert(args: AlertRef, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Delete one of your alerts (named by id or by words such as 'ETH above 4000')."""
    service = _alerts(ctx)
    found = await service.list(ctx.owner)
    aid = _pick(args.alert, [(a.alert_id, a.description, None) for a in found], "alert")
    await service.delete(ctx.owner, aid)
    desc = next(a.description for a in found if a.alert_id == aid)
    return ToolResult(output=f"Deleted the alert: {desc} ({aid}).", data={"alert_id": aid})
