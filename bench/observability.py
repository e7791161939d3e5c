"""Benchmark: a chat turn through the API with tracing and metrics on vs off, in one run.

Two stacks in one process on one dev server and Redis, turns interleaved (off, on, off, on ...):
- off: a Temporal client on a runtime without metrics, no TracingInterceptor, no FastAPI
  instrumentation, our spans no-ops;
- on: the Temporal runtime's Prometheus exporter, OpenTelemetry traces (FastAPI instrumentation,
  TracingInterceptor, llm.call / tool spans) batched and exported over OTLP/HTTP to a sink in
  another process, and a Prometheus scrape of both endpoints every second
  (`BENCH_SCRAPE_SECONDS`; `BENCH_ROUNDS` turns of each, 60 by default).
Each turn: POST /v1/sessions/{id}/messages (offline model: node.llm -> tool.calculator -> node.llm).
Prints one JSON object: p50/p90 of each, their overhead, and the median of each round's on/off
ratio (its two turns ran back to back, so a loaded machine's drift mostly cancels).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from opentelemetry import trace
from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig

from api.app import create_app
from core.cache import build_cache
from core.redis_keys import redis_prefix
from core.settings import load_settings
from core.telemetry import metrics, tracing
from core.temporal.client import connect, data_converter
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port, port_open, wait_until
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.tools import load_tools
from temporal.worker import build_worker

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "60"))
#: how often the scrape runs (Prometheus's own default is 60 s, 15 s is common; 1 s is a worst case)
SCRAPE_SECONDS = float(os.environ.get("BENCH_SCRAPE_SECONDS", "1"))
WARMUP = 8
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def pct(xs: list[float], q: int) -> float:
    return round(statistics.quantiles(xs, n=100)[q - 1], 2)


async def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-obs-") as tmp:
        server = TemporalDevServer(free_port(), Path(tmp) / "temporal.db").start()
        redis = RedisServer()
        sink_port = free_port()
        sink = subprocess.Popen([sys.executable, "-c", SINK, str(sink_port)])
        try:
            redis.start()
            wait_until(lambda: port_open(sink_port), 30, "the OTLP sink")
            base = dict(temporal_address=server.address, redis_url=redis.url, data_dir=Path(tmp))
            return await measure(base, f"http://127.0.0.1:{sink_port}")
        finally:
            sink.kill()
            redis.stop()
            server.stop()


async def stack(settings, client: Client):
    registry = load_tools(settings.tool_modules)
    cache = await build_cache(settings.redis_url, redis_prefix(settings))
    worker = build_worker(client, settings, registry, cache)
    app = create_app(settings)
    return worker, app, cache


async def measure(base: dict, sink_url: str) -> dict:
    off_settings = load_settings(**base, task_queue="bench-off")
    on_settings = load_settings(**base, task_queue="bench-on")
    # off: built while traces are off, on a runtime without metrics
    off_client = await Client.connect(
        off_settings.temporal_address,
        data_converter=data_converter(off_settings),
        runtime=Runtime(telemetry=TelemetryConfig(metrics=None)),
    )
    await ensure_registered(off_client)
    off_worker, off_app, off_cache = await stack(off_settings, off_client)
    async with contextlib.AsyncExitStack() as running:
        await running.enter_async_context(off_worker)
        await running.enter_async_context(off_app.router.lifespan_context(off_app))  # its client: untraced
        # on: the Temporal runtime's Prometheus, traces over OTLP/HTTP
        runtime_url = metrics.install_temporal_runtime()
        metrics_url = metrics.serve_metrics(0)
        tracing.setup_tracing("bench", endpoint=sink_url)
        on_client = await connect(on_settings)
        on_worker, on_app, on_cache = await stack(on_settings, on_client)
        await running.enter_async_context(on_worker)
        await running.enter_async_context(on_app.router.lifespan_context(on_app))
        out = await compare(off_app, on_app, metrics_url)
        provider = trace.get_tracer_provider()
        await asyncio.to_thread(getattr(provider, "shutdown", lambda: None))  # export the last batch
    out["temporal_runtime_metrics"] = bool(runtime_url)
    await off_cache.close()
    await on_cache.close()
    return out


async def compare(off_app, on_app, metrics_url: str) -> dict:
    stop_scrape = asyncio.Event()

    async def scrape() -> None:  # what a Prometheus does, every SCRAPE_SECONDS
        while not stop_scrape.is_set():
            await asyncio.to_thread(lambda: urllib.request.urlopen(metrics_url, timeout=5).read())
            await asyncio.sleep(SCRAPE_SECONDS)

    out: dict = {}
    off_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=off_app), base_url="http://127.0.0.1", timeout=60)
    on_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=on_app), base_url="http://127.0.0.1", timeout=60)
    sids = {}
    for name, http in (("off", off_http), ("on", on_http)):
        tracing._enabled = name == "on"
        sids[name] = (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]

    async def turn(name: str, http: httpx.AsyncClient, text: str) -> float:
        tracing._enabled = name == "on"  # our own spans and the message's trace context
        t0 = time.perf_counter()
        r = await http.post(f"/v1/sessions/{sids[name]}/messages", json={"text": text})
        took = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200 and r.json()["tool_calls"], r.text
        return took

    scraper = asyncio.create_task(scrape())
    times: dict[str, list[float]] = {"off": [], "on": []}
    for i in range(WARMUP + ROUNDS):
        for name, http in (("off", off_http), ("on", on_http)) if i % 2 else (("on", on_http), ("off", off_http)):
            took = await turn(name, http, f"what is {i} * 7919 + 13?")
            if i >= WARMUP:
                times[name].append(took)
    stop_scrape.set()
    await scraper
    await off_http.aclose()
    await on_http.aclose()
    for name in ("off", "on"):
        out[f"{name}_p50_ms"] = round(statistics.median(times[name]), 2)
        out[f"{name}_p90_ms"] = pct(times[name], 90)
    out["p50_overhead_pct"] = round(100 * (out["on_p50_ms"] / out["off_p50_ms"] - 1), 2)
    out["p90_overhead_pct"] = round(100 * (out["on_p90_ms"] / out["off_p90_ms"] - 1), 2)
    # each round's on and off turns ran back to back: the median of their ratios cancels most of
    # a loaded machine's drift, which moves both p50s by more than the overhead
    ratios = [on / off for on, off in zip(times["on"], times["off"], strict=True)]
    out["paired_median_overhead_pct"] = round(100 * (statistics.median(ratios) - 1), 2)
    out["rounds"], out["scrape_every_s"] = ROUNDS, SCRAPE_SECONDS
    return out


if __name__ == "__main__":
    result = asyncio.run(main())
    gc.collect()
    print(json.dumps(result))
