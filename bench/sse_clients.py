"""Benchmark: many SSE clients on one API process.

Starts `impressox up` (one worker, one API process; the offline model types a word every
``--token-ms``), sends one message whose answer streams, then opens N more clients on that turn's
event stream (`GET /v1/sessions/<id>/messages/<message_id>/events`, replaying from the start and
following it). Each must see every event up to `done`. Reports the clients that finished, the
errors, the API process's memory before and with every client connected (and per client), and how
long the last client took to see `done`. Prints one JSON object.

    .venv/bin/python bench/sse_clients.py [--clients 1000] [--token-ms 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.soak import Soak, start_up
from devstack.processes import stop_process

TEXT = "help"  # the offline model's longest answer


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def follow(http: httpx.AsyncClient, path: str, connected: list[int]) -> tuple[int, float]:
    """Read one stream to its `done`: (events seen, seconds); raises on any error."""
    t0 = time.perf_counter()
    events = 0
    async with http.stream("GET", path, timeout=httpx.Timeout(300, connect=60)) as r:
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code}")
        connected.append(1)
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                events += 1
                if line.split(":", 1)[1].strip() == "done":
                    return events, time.perf_counter() - t0
    raise RuntimeError("the stream ended without done")


async def measure(clients: int, token_ms: float) -> dict:
    env = {
        "IMPRESSOX_OFFLINE_TOKEN_DELAY_MS": str(token_ms),
        "IMPRESSOX_MAX_EVENT_STREAMS_PER_USER": str(clients + 10),
    }
    with tempfile.TemporaryDirectory(prefix="impressox-bench-sse-") as tmp:
        proc, ports = start_up(Path(tmp), workers=1, api_workers=1, extra_env=env)
        try:
            api = f"http://127.0.0.1:{ports['api']}"
            state = Soak(api=api, up_pid=proc.pid, chain_rpc="")
            [api_pid] = state.processes()["api"]
            limits = httpx.Limits(max_connections=clients + 50, max_keepalive_connections=clients + 50)
            async with httpx.AsyncClient(base_url=api, limits=limits, timeout=120) as http:
                sid = (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
                before = rss_mb(api_pid)
                path = f"/v1/sessions/{sid}/messages/bench-1/events"
                connected: list[int] = []
                first = asyncio.create_task(
                    http.post(f"/v1/sessions/{sid}/messages?wait=120", json={"text": TEXT, "message_id": "bench-1"})
                )
                while True:  # the turn exists once its stream does
                    r = await http.get(path, headers={"accept": "text/event-stream"}, timeout=5)
                    if r.status_code == 200 or first.done():
                        break
                    await asyncio.sleep(0.05)
                tasks = [asyncio.create_task(follow(http, path, connected)) for _ in range(clients)]
                peak = before
                while not all(t.done() for t in tasks):
                    peak = max(peak, rss_mb(api_pid))
                    await asyncio.sleep(0.2)
                results = await asyncio.gather(*tasks, return_exceptions=True)
                await first
            done = [r for r in results if not isinstance(r, BaseException)]
            errors = [repr(r)[:120] for r in results if isinstance(r, BaseException)]
            return {
                "clients": clients,
                "finished_with_done": len(done),
                "errors": len(errors),
                "first_errors": errors[:3],
                "events_per_client_min": min((e for e, _ in done), default=0),
                "events_per_client_max": max((e for e, _ in done), default=0),
                "last_done_s": round(max((s for _, s in done), default=0.0), 2),
                "api_rss_mb_before": round(before, 1),
                "api_rss_mb_peak": round(peak, 1),
                "kb_per_client": round((peak - before) * 1024 / clients, 1),
            }
        finally:
            stop_process(proc, 60)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--token-ms", type=float, default=40)
    args = p.parse_args()
    print(json.dumps(asyncio.run(measure(args.clients, args.token_ms))))
