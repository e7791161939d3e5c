"""Durability of the automations: a worker killed with SIGKILL while rules fire leaves exactly one
notification per firing; a schedule survives a Temporal server restart."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from temporalio.client import Client

from core.agents import AgentFactory
from core.automations import PriceUpdate, price_watch_id
from core.cache import build_cache
from core.settings import Settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port, stop_process
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.alerts import AlertCreate, AlertService
from services.notifications import NotificationService
from services.schedules import ScheduleCreate, ScheduleService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.conftest import make_settings, worker_process
from workflows.watch import WatchWorkflow


async def test_kill_9_of_the_worker_while_rules_fire_leaves_one_notification_each(
    client: Client, settings: Settings
) -> None:
    symbol = f"K{uuid.uuid4().hex[:6].upper()}"
    owners = [f"k{i}-{uuid.uuid4().hex[:6]}" for i in range(40)]
    per_owner = 5
    alerts = AlertService(client, settings.model_copy(update={"alert_symbols": [symbol]}))
    notes = NotificationService(client, settings)

    async def count(owner: str) -> int:
        try:
            return sum(1 for n in await notes.list(owner) if n.kind == "alert")
        except Exception:  # noqa: BLE001 - no worker to answer right after the kill
            return 0

    first = worker_process(settings, settings.data_dir / "w1.ready")
    second = None
    try:
        for k in range(per_owner):  # distinct rules (an identical one is refused), all crossed at 150
            await asyncio.gather(
                *(alerts.create(o, AlertCreate(kind="price", symbol=symbol, above=100 + k)) for o in owners)
            )
        handle = client.get_workflow_handle(price_watch_id(symbol))
        for _ in range(600):
            if (settings.data_dir / "w1.ready").exists():
                break
            await asyncio.sleep(0.1)
        update = PriceUpdate(key=f"{symbol}:1:1", symbol=symbol, price=Decimal(150), round_id=1, at=datetime.now(UTC))
        await handle.signal(WatchWorkflow.price, update)
        for _ in range(600):  # the notify activity has started delivering
            if any(await asyncio.gather(*(count(o) for o in owners[:5]))):
                break
            await asyncio.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = worker_process(settings, settings.data_dir / "w2.ready")
        deadline = asyncio.get_running_loop().time() + 120
        while sum(await asyncio.gather(*(count(o) for o in owners))) < per_owner * len(owners):
            assert asyncio.get_running_loop().time() < deadline, "notifications missing after the restart"
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)
        assert await asyncio.gather(*(count(o) for o in owners)) == [per_owner] * len(owners)
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)


async def test_a_schedule_survives_a_temporal_server_restart(tmp_path: Path, redis_server: RedisServer) -> None:
    server = TemporalDevServer(free_port(), tmp_path / "temporal.db").start()
    settings = make_settings(
        server, redis_server.url, tmp_path, local_user="sched-restart", schedule_min_interval_seconds=1
    )
    try:
        client = await connect(settings)
        await ensure_registered(client)
        registry = load_tools(settings.tool_modules)
        cache = await build_cache(settings.redis_url)
        schedules = ScheduleService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
        notes = NotificationService(client, settings)

        async def answers() -> int:
            return sum(1 for n in await notes.list("sched-restart") if n.kind == "schedule" and "42" in n.text)

        async def at_least(n: int, timeout: float = 60) -> None:
            deadline = asyncio.get_running_loop().time() + timeout
            while await _safe(answers) < n:
                assert asyncio.get_running_loop().time() < deadline, f"fewer than {n} answers in {timeout}s"
                await asyncio.sleep(0.5)

        async with build_worker(client, settings, registry, cache):
            sid = (
                await schedules.create("sched-restart", ScheduleCreate(prompt="what is 6 * 7?", every_seconds=2))
            ).schedule_id
            await at_least(1)
            server.kill()
            server.start()
            before = await _safe(answers)
            await at_least(before + 2)
            assert (await schedules.get("sched-restart", sid)).every_seconds == 2
            await schedules.delete("sched-restart", sid)
        await cache.close()
    finally:
        server.stop()


async def _safe(f) -> int:
    """The server is restarting: an unanswered read counts as nothing yet."""
    try:
        return await f()
    except Exception:  # noqa: BLE001
        return 0
