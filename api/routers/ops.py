"""Operability: Prometheus text at ``/metrics`` and the caller's cost at ``GET /v1/usage``.

With API keys configured only operators (``operator_users``) may read ``/metrics`` and other
users' usage; keyless loopback mode serves its one local user, who is the operator.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from api.deps import User
from core.ledger import UsageLedger, resets_at, today, total_of
from core.settings import Settings
from core.telemetry.metrics import metrics_text

router = APIRouter()


def _is_operator(settings: Settings, user: str) -> bool:
    return not settings.api_keys or user in settings.operator_users


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, user: User) -> Response:
    if not _is_operator(request.app.state.settings, user):
        raise HTTPException(403, "only operators (operator_users) may read /metrics")
    body, ctype = metrics_text()
    return Response(body, media_type=ctype)


class UsageOut(BaseModel):
    group_by: Literal["day", "session", "agent"]
    #: one record per day (newest first), session or agent, each with tokens and USD
    rows: list[dict[str, Any]] = Field(default_factory=list)
    total: dict[str, Any] = Field(default_factory=dict)
    #: the caller's budget today (None: none) and when it resets
    budget_usd_per_day: float | None = None
    resets_at: str | None = None


@router.get("/v1/usage", response_model=UsageOut, tags=["usage"])
async def usage(
    request: Request,
    user: User,
    group_by: Literal["day", "session", "agent"] = Query("day"),
    of: str | None = Query(None, description="operators: another user's usage, or * for everyone's"),
) -> UsageOut:
    """Tokens and cost in USD (LLM calls and gas) of the caller, per day, session or agent."""
    settings: Settings = request.app.state.settings
    if of is not None and of != user and not _is_operator(settings, user):
        raise HTTPException(403, "only operators (operator_users) may read other users' usage")
    ledger: UsageLedger = request.app.state.sessions.budget.ledger
    users = await ledger.users() if of == "*" else [of or user]
    rows = [r for u in users for r in await ledger.rows(u, group_by)]
    budget = settings.budget_for(of or user) if of != "*" else None
    return UsageOut(
        group_by=group_by,
        rows=rows,
        total=total_of(rows),
        budget_usd_per_day=budget,
        resets_at=resets_at(today()).isoformat().replace("+00:00", "Z") if budget is not None else None,
    )
