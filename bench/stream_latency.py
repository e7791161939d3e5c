"""Benchmark: how fast a streamed turn's first token reaches an SSE client, and how fast tokens flow.

`impressox up` runs on free ports with the offline model pacing its answers: the first token
after FIRST_TOKEN_DELAY_MS (the model's own "time to first token"), then one word every
TOKEN_DELAY_MS. A client posts ``?stream=true`` messages (distinct texts, so no cache hits)
and reads the server-sent events:
- first_token_overhead: request sent -> first ``token`` event received, minus the model's
  first-token delay: what the platform adds (signal, workflow task, activity start, Redis,
  SSE) before the user sees anything; p50 and p90;
- tokens per second delivered (first -> last token at the client) vs produced by the model.
Then, on the same stack, a plain (non-streamed) chat turn with one tool call through the API
vs a bare Temporal update whose handler runs 3 no-op activities on the same server
(interleaved): the platform's cost over Temporal's floor for a chat turn.
Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.worker import Worker

from bench.bare_workflow import BareUpdateWorkflow, noop
from core.settings import load_settings
from core.temporal.client import connect
from devstack.processes import find_executable, free_port, port_open, wait_until
from temporal.sandbox import WORKFLOW_RUNNER

FIRST_TOKEN_DELAY_MS = 200.0
TOKEN_DELAY_MS = 10.0
ROUNDS = 40
WARMUP = 5
#: in every text, so no run is served from the cache of an earlier one: answers are cached in
#: Redis by conversation, and `impressox up` uses the Redis at 127.0.0.1:6379 when one runs there
RUN_TAG = "".join(random.choices("abcdefghijklmnopqrstuvwxyz", k=10))
RUN_NUMBER = random.randrange(10**6, 10**7)


def stream_turn(http: httpx.Client, sid: str, text: str) -> tuple[float, list[float], dict]:
    """(seconds to the first token, arrival times of all tokens, the done body)."""
    t0 = time.perf_counter()
    tokens: list[float] = []
    done: dict = {}
    with http.stream("POST", f"/v1/sessions/{sid}/messages?stream=true", json={"text": text}) as r:
        r.raise_for_status()
        event = ""
        for line in r.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "token":
                tokens.append(time.perf_counter())
            elif line.startswith("data:") and event == "done":
                done = json.loads(line[5:])
                break
    return tokens[0] - t0, tokens, done


def measure(api: str) -> dict:
    with httpx.Client(base_url=api, timeout=60) as http:
        sid = http.post("/v1/sessions", json={"agent": "assistant"}).raise_for_status().json()["session_id"]
        for i in range(WARMUP):
            stream_turn(http, sid, f"hello, warm-up {i} of {RUN_TAG}")
        firsts, rates, counts = [], [], []
        for i in range(ROUNDS):
            first, tokens, done = stream_turn(http, sid, f"hello there, round {i} of {RUN_TAG}")
            assert done.get("reply"), done
            firsts.append(first * 1000 - FIRST_TOKEN_DELAY_MS)
            if len(tokens) > 1:
                rates.append((len(tokens) - 1) / (tokens[-1] - tokens[0]))
            counts.append(len(tokens))
    return {
        "first_token_delay_ms": FIRST_TOKEN_DELAY_MS,
        "first_token_overhead_p50_ms": round(statistics.median(firsts), 2),
        "first_token_overhead_p90_ms": round(statistics.quantiles(firsts, n=10)[-1], 2),
        "tokens_per_turn": round(statistics.median(counts)),
        "tokens_per_s_produced": round(1000 / TOKEN_DELAY_MS, 1),
        "tokens_per_s_delivered_p50": round(statistics.median(rates), 1),
        "rounds": ROUNDS,
    }


async def api_turn_vs_bare_update(api: str, temporal_address: str) -> dict:
    """p50 of a plain API chat turn (one tool call) vs a bare update running 3 no-op activities."""
    client = await connect(load_settings(temporal_address=temporal_address))
    try:
        async with (
            Worker(
                client,
                task_queue="bench-bare-update",
                workflows=[BareUpdateWorkflow],
                activities=[noop],
                workflow_runner=WORKFLOW_RUNNER,
            ),
            httpx.AsyncClient(base_url=api, timeout=60) as http,
        ):
            bare = await client.start_workflow(
                BareUpdateWorkflow.run, id=f"bare-update-{time.time_ns()}", task_queue="bench-bare-update"
            )
            sid = (await http.post("/v1/sessions", json={"agent": "calculator"})).json()["session_id"]

            async def turn(text: str) -> float:
                t0 = time.perf_counter()
                r = await http.post(f"/v1/sessions/{sid}/messages", json={"text": text})
                assert r.status_code == 200 and r.json()["tool_calls"], r.text
                return (time.perf_counter() - t0) * 1000

            async def update() -> float:
                t0 = time.perf_counter()
                await bare.execute_update(BareUpdateWorkflow.steps, 3)
                return (time.perf_counter() - t0) * 1000

            for i in range(WARMUP * 2):
                await turn(f"what is {RUN_NUMBER + i} * 1000003?")
                await update()
            turns, updates = [], []
            for i in range(ROUNDS):  # interleaved, distinct texts (no cache hits, RUN_NUMBER)
                turns.append(await turn(f"what is {RUN_NUMBER + i} * 7919 + 13?"))
                updates.append(await update())
            await bare.signal(BareUpdateWorkflow.stop)
    finally:
        client = None  # type: ignore[assignment]  # drop the client before exit (see temporal/README.md)
        gc.collect()
    t, u = statistics.median(turns), statistics.median(updates)
    return {"api_turn_p50_ms": round(t, 2), "bare_update_p50_ms": round(u, 2), "api_turn_ratio": round(t / u, 3)}


@contextlib.contextmanager
def stack(tmp: str, **env: str) -> Iterator[tuple[str, str]]:
    """`impressox up` on free ports: (API url, Temporal address)."""
    api_port, temporal_port = free_port(), free_port()
    cmd = [find_executable("impressox"), "up", "--data-dir", tmp, "--api-port", str(api_port),
           "--temporal-port", str(temporal_port), "--ui-port", str(free_port())]  # fmt: skip
    with open(Path(tmp) / "up.log", "w") as log:
        up = subprocess.Popen(
            cmd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_until(lambda: port_open(api_port), 120, "the API of impressox up", up, interval=0.2)
            yield f"http://127.0.0.1:{api_port}", f"127.0.0.1:{temporal_port}"
        finally:
            os.killpg(up.pid, signal.SIGTERM)
            up.wait(30)


def main() -> dict:
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="impressox-stream-bench-") as tmp:
        with stack(tmp) as (api, temporal):  # the model at full speed
            out.update(asyncio.run(api_turn_vs_bare_update(api, temporal)))
    with tempfile.TemporaryDirectory(prefix="impressox-stream-bench-") as tmp:
        paced = {
            "IMPRESSOX_OFFLINE_FIRST_TOKEN_DELAY_MS": str(FIRST_TOKEN_DELAY_MS),
            "IMPRESSOX_OFFLINE_TOKEN_DELAY_MS": str(TOKEN_DELAY_MS),
        }
        with stack(tmp, **paced) as (api, _):
            out.update(measure(api))
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
