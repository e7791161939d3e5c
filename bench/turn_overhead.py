"""Benchmark: an agent turn with one tool call vs a bare Temporal workflow with the same steps.

Both run on the same dev server, in the same worker process, interleaved, in one run:
- turn: a message to an existing AgentSessionWorkflow through the session service
  (the send_and_wait update), offline model: node.llm -> tool.calculator -> node.llm;
- bare: start a workflow that runs 3 no-op activities and wait for its result.
Then throughput: 200 sessions taking one turn each at once vs 200 bare workflows at once.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.worker import Worker

from bench.bare_workflow import BareWorkflow, noop
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
from temporal.sandbox import WORKFLOW_RUNNER
from temporal.worker import build_worker

STEPS = 3  # node.llm, tool.calculator, node.llm
ROUNDS = 100
PARALLEL = 200


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs), 2)


async def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-") as tmp:
        server = TemporalDevServer(free_port(), Path(tmp) / "temporal.db").start()
        redis = RedisServer()
        try:
            redis.start()
            settings = load_settings(
                temporal_address=server.address,
                redis_url=redis.url,
                task_queue="bench",
                # the bench runs PARALLEL sessions of one user at once: above the per-user default cap
                max_running_sessions_per_user=ROUNDS + PARALLEL + 10,
            )
            return await measure(settings)
        finally:
            redis.stop()
            server.stop()


async def measure(settings) -> dict:
    client = await connect(settings)
    await ensure_registered(client)
    registry = load_tools()
    cache = await build_cache(settings.redis_url)
    agent_worker = build_worker(client, settings, registry, cache)
    bare_worker = Worker(
        client, task_queue="bench-bare", workflows=[BareWorkflow], activities=[noop], workflow_runner=WORKFLOW_RUNNER
    )
    sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
    out: dict = {}
    try:
        async with agent_worker, bare_worker:
            sid = await sessions.create("bench", "calculator")

            async def turn(text: str, session: str = sid) -> float:
                t0 = time.perf_counter()
                result = await sessions.send("bench", session, text, wait=30)
                assert getattr(result, "tool_calls", None), result
                return (time.perf_counter() - t0) * 1000

            async def bare() -> float:
                t0 = time.perf_counter()
                await client.execute_workflow(
                    BareWorkflow.run, STEPS, id=f"bare-{uuid.uuid4().hex}", task_queue="bench-bare"
                )
                return (time.perf_counter() - t0) * 1000

            for i in range(10):  # warm-up: imports, caches, connections
                await turn(f"what is {i} * 1000003?")
                await bare()
            turns, bares = [], []
            for i in range(ROUNDS):  # interleaved, distinct texts (no cache hits)
                turns.append(await turn(f"what is {i} * 7919 + 13?"))
                bares.append(await bare())
            out["turn_p50_ms"], out["bare_p50_ms"] = p50(turns), p50(bares)
            out["turn_p90_ms"] = round(statistics.quantiles(turns, n=10)[-1], 2)
            out["bare_p90_ms"] = round(statistics.quantiles(bares, n=10)[-1], 2)
            out["ratio"] = round(out["turn_p50_ms"] / out["bare_p50_ms"], 3)
            out["steps"] = STEPS
            out["rounds"] = ROUNDS

            sids = await asyncio.gather(*(sessions.create("bench", "calculator") for _ in range(PARALLEL)))
            t0 = time.perf_counter()
            await asyncio.gather(*(turn(f"what is {k} * 31?", s) for k, s in enumerate(sids)))
            turns_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            await asyncio.gather(*(bare() for _ in range(PARALLEL)))
            bare_s = time.perf_counter() - t0
            out["parallel"] = PARALLEL
            out["turns_per_s"] = round(PARALLEL / turns_s, 1)
            out["bare_workflows_per_s"] = round(PARALLEL / bare_s, 1)
            out["throughput_ratio"] = round(out["bare_workflows_per_s"] / out["turns_per_s"], 3)
    finally:
        await cache.close()
        # drop client references before exit (None, not del: the closures above name `sessions`)
        sessions = agent_worker = bare_worker = None  # type: ignore[assignment]
        gc.collect()
    return out


if __name__ == "__main__":
    result = asyncio.run(main())
    gc.collect()
    print(json.dumps(result))
