"""Benchmark: one user cannot slow or blind another.

On one dev server, in one run:
- schedule storm: another user's chat turn p50 while one user runs their full quota of
  schedules (max_schedules_per_user, 20) at the minimum interval (schedule_min_interval_seconds,
  60 s: Temporal fires them all on the same second of each minute), against the idle p50 measured
  just before. The storm window covers --storm-minutes firings; ``burst_*`` are the turns sent
  within 10 s after a firing second.
- alert list: ``GET /v1/alerts`` p50 for a user with 2 alerts while --others alerts (wallet
  alerts, each on its own watch workflow) are held by other users at their quota of 50.
Prints one JSON object.

    .venv/bin/python bench/tenancy.py [--others 2000] [--storm-minutes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from eth_account import Account

from api.app import create_app
from core.cache import build_cache
from core.settings import ApiKey, load_settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.alerts import AlertCreate, AlertService
from services.tools import load_tools
from temporal.worker import build_worker

KEYS = {"alice": "alice-bench-key", "bob": "bob-bench-key"}


def ms(xs: list[float], q: str = "p50") -> float | None:
    if not xs:
        return None
    if q == "p50":
        return round(statistics.median(xs), 1)
    return round(statistics.quantiles(xs, n=10)[-1], 1) if len(xs) >= 10 else round(max(xs), 1)


async def main(others: int, storm_minutes: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-tenancy-") as tmp:
        server = TemporalDevServer(free_port(), Path(tmp) / "temporal.db").start()
        redis = RedisServer()
        try:
            redis.start()
            settings = load_settings(
                temporal_address=server.address,
                redis_url=redis.url,
                data_dir=Path(tmp),
                task_queue="bench-tenancy",
                api_keys=[ApiKey(user=u, key=k) for u, k in KEYS.items()],
                rate_limit="100000/minute",
                rate_limit_messages="100000/minute",
            )
            return await measure(settings, others, storm_minutes)
        finally:
            redis.stop()
            server.stop()


async def measure(settings, others: int, storm_minutes: int) -> dict:
    client = await connect(settings)
    await ensure_registered(client)
    cache = await build_cache(settings.redis_url)
    worker = build_worker(client, settings, load_tools(settings.tool_modules), cache)
    app = create_app(settings)
    out: dict = {
        "schedules": settings.max_schedules_per_user,
        "schedule_every_seconds": settings.schedule_min_interval_seconds,
    }
    try:
        async with worker, app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=120) as api:
                bob = {"Authorization": f"Bearer {KEYS['bob']}"}
                alice = {"Authorization": f"Bearer {KEYS['alice']}"}
                sid = (await api.post("/v1/sessions", json={"agent": "calculator"}, headers=bob)).json()["session_id"]
                n = 0

                async def turn() -> tuple[float, float]:
                    nonlocal n
                    n += 1
                    t0, at = time.perf_counter(), time.time()
                    r = await api.post(
                        f"/v1/sessions/{sid}/messages", json={"text": f"what is {n} * 7919?"}, headers=bob
                    )
                    assert r.status_code == 200, r.text
                    return at, (time.perf_counter() - t0) * 1000

                for _ in range(10):  # warm-up
                    await turn()
                idle = [(await turn())[1] for _ in range(60)]

                # the storm: alice's whole quota at the minimum interval
                made = []
                for i in range(settings.max_schedules_per_user):
                    r = await api.post(
                        "/v1/schedules",
                        json={"prompt": f"what is {i} + 1?", "every_seconds": settings.schedule_min_interval_seconds},
                        headers=alice,
                    )
                    assert r.status_code == 201, r.text
                    made.append(r.json()["schedule_id"])
                refused = await api.post("/v1/schedules", json={"prompt": "x", "every_seconds": 60}, headers=alice)
                out["schedule_past_quota_status"] = refused.status_code
                period = settings.schedule_min_interval_seconds
                end = time.time() + storm_minutes * period + 5
                storm: list[tuple[float, float]] = []
                while time.time() < end:
                    storm.append(await turn())
                    await asyncio.sleep(0.05)
                for s in made:
                    await api.delete(f"/v1/schedules/{s}", headers=alice)
                burst = [d for at, d in storm if at % period < 10]
                notes = (await api.get("/v1/notifications", headers=alice)).json()
                out.update(
                    idle_turn_p50_ms=ms(idle),
                    idle_turn_p90_ms=ms(idle, "p90"),
                    storm_turn_p50_ms=ms([d for _, d in storm]),
                    storm_turn_p90_ms=ms([d for _, d in storm], "p90"),
                    storm_turns=len(storm),
                    burst_turn_p50_ms=ms(burst),
                    burst_turn_p90_ms=ms(burst, "p90"),
                    burst_turns=len(burst),
                    scheduled_turns_answered=sum(1 for x in notes if x["kind"] == "schedule"),
                )
                out["storm_vs_idle_p50"] = round(out["storm_turn_p50_ms"] / out["idle_turn_p50_ms"], 3)
                if burst:
                    out["burst_vs_idle_p50"] = round(out["burst_turn_p50_ms"] / out["idle_turn_p50_ms"], 3)

                # the alert list of a user with 2 while others hold thousands
                for _ in range(2):
                    body = {"kind": "wallet", "address": Account.create().address}
                    assert (await api.post("/v1/alerts", json=body, headers=alice)).status_code == 201
                alerts, gate = AlertService(client, settings), asyncio.Semaphore(32)
                t0 = time.perf_counter()

                async def theirs(i: int) -> None:
                    async with gate:
                        req = AlertCreate(kind="wallet", address=Account.create().address)
                        await alerts.create(f"other-{i // settings.max_alerts_per_user}", req)

                await asyncio.gather(*(theirs(i) for i in range(others)))
                out["others_alerts"] = others
                out["others_alerts_created_per_s"] = round(others / (time.perf_counter() - t0), 1)
                lists = []
                for _ in range(20):
                    t1 = time.perf_counter()
                    r = await api.get("/v1/alerts", headers=alice)
                    lists.append((time.perf_counter() - t1) * 1000)
                    assert r.status_code == 200 and len(r.json()) == 2, r.text
                out["alerts_list_p50_ms"], out["alerts_list_p90_ms"] = ms(lists), ms(lists, "p90")
                out["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    finally:
        await cache.close()
        del client
        gc.collect()
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--others", type=int, default=2000)
    parser.add_argument("--storm-minutes", type=int, default=2)
    args = parser.parse_args()
    result = asyncio.run(main(args.others, args.storm_minutes))
    gc.collect()
    print(json.dumps(result))
