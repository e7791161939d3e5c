"""Benchmark: many idle sessions on one worker with a bounded workflow cache.

Starts a Temporal dev server and a Redis on free ports and one worker in this process with
``max_cached_workflows=CACHE``, then opens N sessions (spread over 100 users) that take one turn
each. Reports the worker's RSS, the Temporal server's RSS, the history per session (events and
bytes) and the database size per session; then, interleaved, a turn on a session still in the
worker's cache (one of the last CACHE) vs a turn on one the cache evicted long ago (one of the
first), p50 of each and their ratio: the price of replaying an evicted session. Sessions idle for
``--compact-after`` seconds after their turn continue as new (settings session_idle_compact_after,
5 minutes by default; 0 turns it off), so an evicted session opened long enough ago replays one
workflow task: the turns are timed once every session has compacted. Prints one JSON object.

    .venv/bin/python bench/idle_sessions.py [--sessions 10000] [--cache 1000] [--rounds 50] [--compact-after S]
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
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.agents import AgentFactory
from core.cache import build_cache
from core.settings import load_settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker

USERS = 100
CONCURRENCY = 40


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs), 1)


async def main(n: int, cache_size: int, rounds: int, compact_after: float | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-idle-") as tmp:
        db = Path(tmp) / "temporal.db"
        server = TemporalDevServer(free_port(), db).start()
        redis = RedisServer().start()
        try:
            settings = load_settings(
                temporal_address=server.address,
                redis_url=redis.url,
                data_dir=Path(tmp),
                task_queue="bench-idle",
                max_cached_workflows=cache_size,
                max_running_sessions_per_user=n,
            )
            if compact_after is not None:
                settings = settings.model_copy(update={"session_idle_compact_after": timedelta(seconds=compact_after)})
            out = await measure(settings, n, rounds)
            assert server.proc is not None
            out["temporal_server_rss_mb"] = rss_mb(server.proc.pid)
            size = sum(p.stat().st_size for p in Path(tmp).glob("temporal.db*"))
            out["temporal_db_kb_per_session"] = round(size / 1024 / n, 2)
            out.update(
                sessions=n,
                max_cached_workflows=cache_size,
                session_idle_compact_after_s=settings.session_idle_compact_after.total_seconds(),
            )
            return out
        finally:
            redis.stop()
            server.stop()


async def measure(settings, n: int, rounds: int) -> dict:
    client = await connect(settings)
    await ensure_registered(client)
    registry = load_tools()
    cache = await build_cache(settings.redis_url)
    worker = build_worker(client, settings, registry, cache)
    sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
    out: dict = {"worker_rss_mb_start": rss_mb()}
    ids: list[tuple[str, str]] = []
    try:
        async with worker:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def open_one(k: int) -> tuple[str, str]:
                owner = f"user-{k % USERS}"
                async with gate:
                    sid = await sessions.create(owner, "assistant")
                    await sessions.send(owner, sid, f"what is {k} * 3?", wait=120)
                return owner, sid

            t0 = time.perf_counter()
            ids = list(await asyncio.gather(*(open_one(k) for k in range(n))))
            out["open_sessions_per_s"] = round(n / (time.perf_counter() - t0), 1)
            # idle sessions: every one has compacted (the last opened too) before the turns are timed,
            # so no compaction runs beside them
            if settings.session_idle_compact_after:
                await asyncio.sleep(settings.session_idle_compact_after.total_seconds() + 10)
            gc.collect()
            out["worker_rss_mb"] = rss_mb()

            history = await client.get_workflow_handle(ids[0][1]).fetch_history()
            out["history_events_per_session"] = len(history.events)
            out["history_bytes_per_session"] = len(history.to_json().encode())

            async def turn(owner: str, sid: str, k: int) -> float:
                t0 = time.perf_counter()
                await sessions.send(owner, sid, f"what is {k} * 11?", wait=60)
                return (time.perf_counter() - t0) * 1000

            cached, evicted = [], []
            for r in range(rounds):  # interleaved; each session takes its second turn once
                owner, sid = ids[-1 - r]  # opened last: still cached
                cached.append(await turn(owner, sid, r))
                owner, sid = ids[r]  # opened first: evicted long ago
                evicted.append(await turn(owner, sid, r))
            out["cached_turn_p50_ms"], out["evicted_turn_p50_ms"] = p50(cached), p50(evicted)
            out["evicted_vs_cached"] = round(out["evicted_turn_p50_ms"] / out["cached_turn_p50_ms"], 3)
            out["worker_rss_mb_end"] = rss_mb()
    finally:
        await cache.close()
        sessions = worker = None  # type: ignore[assignment]
        gc.collect()
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--cache", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--compact-after", type=float, default=None, help="session_idle_compact_after in seconds")
    args = p.parse_args()
    result = asyncio.run(main(args.sessions, args.cache, args.rounds, args.compact_after))
    gc.collect()
    print(json.dumps(result))
