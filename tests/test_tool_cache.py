"""Tool results with a TTL are cached in Redis; tools with side effects never are."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis

from activities.tools import ToolActivities
from core import approvals
from core.cache import build_cache, cache_key
from core.schemas import ApprovalDecision, ToolInput
from core.settings import Settings
from devstack.redis_server import RedisServer
from services.tools import load_tools
from services.tools.deps import WorkerDeps


def call(name: str, args: dict, key: str) -> ToolInput:
    return ToolInput(
        call_id=key,
        name=name,
        args=args,
        session_id="web:local:x",
        owner="local",
        idempotency_key=f"web:local:x/t1/{key}",
    )


async def test_a_ttl_tool_is_served_from_redis_and_a_side_effect_tool_always_runs(
    settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    registry = load_tools(settings.tool_modules)
    cache = await build_cache(redis_server.url)
    approval_key = b"k" * 32
    tools = ToolActivities(registry, cache, WorkerDeps(settings=settings, cache=cache), approval_key=approval_key)
    try:
        calc = registry.get("calculator")
        first = await tools.execute(calc, call("calculator", {"expression": "123 * 456"}, "a"))
        assert first.output == "123 * 456 = 56088"
        await cache.flush()  # the write goes on behind the result: wait for it before reading Redis itself
        raw = aioredis.Redis.from_url(redis_server.url)
        # under build_cache's default deployment prefix
        key = f"impressox:{cache_key('tool:calculator', {'expression': '123 * 456'})}"
        ttl = await raw.ttl(key)
        assert 0 < ttl <= calc.cache_ttl_seconds
        # the second call is answered from Redis, not by running the tool again
        await raw.set(key, '{"output": "from the cache"}', keepttl=True)
        await raw.aclose()
        second = await tools.execute(calc, call("calculator", {"expression": "123 * 456"}, "b"))
        assert second.output == "from the cache"

        pay = registry.get("pay")
        for call_id in ("p1", "p2"):
            paid = call("pay", {"amount": "1", "to": "bob"}, call_id)
            signature = approvals.sign(approval_key, paid.session_id, call_id, paid.args, True)
            paid.approval = ApprovalDecision(call_id=call_id, approve=True, signature=signature)
            await tools.execute(pay, paid)
        ledger = (settings.data_dir / "payments.log").read_text().splitlines()
        assert len(ledger) == 2  # two distinct calls, two payments: never a cached "paid"
    finally:
        await cache.close()
