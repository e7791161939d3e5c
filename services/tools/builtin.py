"""Built-in tools: calculator and current_time."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from core.tools import ToolContext, ToolResult
from services.tools import builtin_phrases  # noqa: F401  (how the offline model understands these tools)
from services.tools.calculator import evaluate, format_number
from services.tools.clock import resolve_zone
from services.tools.registry import tools


class CalculatorArgs(BaseModel):
    expression: str = Field(description="Arithmetic such as '17 * 23' or '(2^10 - 24) / 4'", max_length=500)


@tools.register(cache_ttl_seconds=24 * 3600, timeout_seconds=5)
async def calculator(args: CalculatorArgs, ctx: ToolContext) -> ToolResult:
    """Evaluate an arithmetic expression: + - * / // % ^ (power) and parentheses."""
    value = evaluate(args.expression)
    shown = format_number(value)
    return ToolResult(output=f"{args.expression.strip()} = {shown}", data={"value": shown})


class CurrentTimeArgs(BaseModel):
    timezone: str = Field(default="UTC", description="IANA zone (Asia/Tokyo) or a city (Tokyo)", max_length=64)


@tools.register(timeout_seconds=5)
async def current_time(args: CurrentTimeArgs, ctx: ToolContext) -> ToolResult:
    """The current date and time in a time zone or city."""
    zone = resolve_zone(args.timezone)
    now = datetime.now(UTC).astimezone(zone)
    offset = now.strftime("%z")
    place = args.timezone.strip() or "UTC"
    label = place if place == zone.key else f"{place} ({zone.key})"
    return ToolResult(
        output=f"It is {now:%H:%M} on {now:%A %d %B %Y} in {label}, UTC{offset[:3]}:{offset[3:]}.",
        data={"iso": now.isoformat(), "zone": zone.key},
    )
