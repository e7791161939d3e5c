"""Tools that exist only for tests (loaded with settings.tool_modules, like any plugin).

``slow_note`` has a side effect (a line in <data_dir>/notes.log) and then takes a while,
so a test can kill the worker after the effect and before the activity completes.
"""

from __future__ import annotations

import asyncio
import os

from pydantic import BaseModel, Field

from core.tools import ToolContext
from services.tools.registry import tools


class SlowNoteArgs(BaseModel):
    text: str = Field(max_length=200)
    seconds: float = Field(default=4.0, ge=0, le=30)


@tools.register(side_effects=True, timeout_seconds=60, heartbeat_timeout_seconds=2, max_attempts=10)
async def slow_note(args: SlowNoteArgs, ctx: ToolContext) -> str:
    """Write a note (once per idempotency key), then work slowly."""
    assert ctx.deps is not None  # a worker always runs tools with its deps
    notes = ctx.deps.settings.data_dir / "notes.log"
    seen = notes.read_text().splitlines() if notes.exists() else []
    if not any(line.startswith(ctx.idempotency_key + " ") for line in seen):
        with notes.open("a") as f:
            f.write(f"{ctx.idempotency_key} {args.text} pid={os.getpid()}\n")
    await asyncio.sleep(args.seconds)
    return f"noted: {args.text}"


class FlakyArgs(BaseModel):
    fail_times: int = Field(default=2, ge=0, le=5)


_attempts: dict[str, int] = {}


@tools.register(max_attempts=5)
async def flaky(args: FlakyArgs, ctx: ToolContext) -> str:
    """Fail transiently a few times, then succeed (Temporal retries it)."""
    n = _attempts[ctx.idempotency_key] = _attempts.get(ctx.idempotency_key, 0) + 1
    if n <= args.fail_times:
        raise ConnectionError(f"transient failure {n}")
    return f"succeeded after {n} attempts"


class PayArgs(BaseModel):
    amount: str
    to: str


@tools.register(requires_approval=True, approval_template="pay {amount} to {to}")
async def pay(args: PayArgs, ctx: ToolContext) -> str:
    """A money-moving test tool: records the payment under its idempotency key."""
    assert ctx.deps is not None  # a worker always runs tools with its deps
    ledger = ctx.deps.settings.data_dir / "payments.log"
    with ledger.open("a") as f:
        f.write(f"{ctx.idempotency_key} {args.amount} {args.to}\n")
    return f"paid {args.amount} to {args.to}"


class LongTextArgs(BaseModel):
    chars: int = Field(default=10_000, ge=1, le=50_000)


@tools.register()
async def long_text(args: LongTextArgs, ctx: ToolContext) -> str:
    """A long answer in lines of 99 characters (chat bots split it at their platform's limit)."""
    line = "x" * 98 + "\n"
    return (line * (args.chars // len(line) + 1))[: args.chars]
