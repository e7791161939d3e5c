"""Benchmark: how fast a Stop stops a streamed answer, and how fast an interrupting message is answered.

`impressox up` runs on free ports with the offline model typing TOKEN_DELAY_MS a word and the
tests' tools (``long_text``: a long answer the model streams back). Over the same run:
- cancel_to_cancelled_event: ``POST …/turns/current/cancel`` sent -> the ``cancelled`` event at an
  SSE client reading the turn's stream (the turn had streamed a few tokens); p50, p90;
- interrupt_first_token vs idle_first_token: a ``"multitask": "interrupt"`` message sent while a
  long answer streams -> the first token of its own answer, against the same kind of message sent
  to an idle session (interleaved, distinct arithmetic so no answer is cached); p50, p90 of each.
Prints one JSON object.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stream_latency import stack

ROOT = Path(__file__).resolve().parents[1]
TOKEN_DELAY_MS = 50.0
ROUNDS = 15
RUN = random.randrange(10**5, 10**6)  # in every request: no answer comes from an earlier run's cache


class Stream(threading.Thread):
    """POST …/messages?stream=true and note when each event arrives."""

    def __init__(self, api: str, sid: str, body: dict) -> None:
        super().__init__(daemon=True)
        self.api, self.sid, self.body = api, sid, body
        self.events: list[tuple[float, str]] = []
        self.start()

    def run(self) -> None:
        with httpx.Client(base_url=self.api, timeout=120) as http:
            with http.stream("POST", f"/v1/sessions/{self.sid}/messages?stream=true", json=self.body) as r:
                event = ""
                for line in r.iter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        self.events.append((time.perf_counter(), event))
                        if event in ("done", "cancelled", "interrupted"):
                            return

    def first(self, kind: str, timeout: float = 60) -> float:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            hit = next((t for t, k in list(self.events) if k == kind), None)
            if hit is not None:
                return hit
            time.sleep(0.002)
        raise TimeoutError(f"no {kind} event ({[k for _, k in self.events][-5:]})")

    def tokens(self) -> int:
        return sum(1 for _, k in list(self.events) if k == "token")


def long_answer(api: str, sid: str, i: int) -> Stream:
    s = Stream(api, sid, {"text": f'/tool long_text {{"chars": {20_000 + RUN % 9000 + i}}}'})
    end = time.time() + 60
    while s.tokens() < 3:
        if time.time() > end:
            raise TimeoutError("the long answer did not stream")
        time.sleep(0.01)
    return s


def pct(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"p50": round(statistics.median(xs), 1), "p90": round(xs[int(0.9 * (len(xs) - 1))], 1), "n": len(xs)}


def measure(api: str) -> dict:
    with httpx.Client(base_url=api, timeout=120) as http:

        def session() -> str:
            return http.post("/v1/sessions", json={"agent": "tester"}).raise_for_status().json()["session_id"]

        busy, idle = session(), session()
        cancels, interrupted, idles = [], [], []
        for i in range(ROUNDS):
            s = long_answer(api, busy, i)
            t0 = time.perf_counter()
            http.post(f"/v1/sessions/{busy}/turns/current/cancel").raise_for_status()
            cancels.append((s.first("cancelled") - t0) * 1000)
            s.join(30)
        for i in range(ROUNDS):
            a, b = RUN % 1000 + i, 7 + i
            s = long_answer(api, busy, ROUNDS + i)
            t0 = time.perf_counter()
            q = Stream(api, busy, {"text": f"what is {a} * {b}?", "multitask": "interrupt"})
            interrupted.append((q.first("token") - t0) * 1000)
            s.first("interrupted")
            q.join(60)
            t0 = time.perf_counter()
            q = Stream(api, idle, {"text": f"what is {a} * {b + 1000}?"})
            idles.append((q.first("token") - t0) * 1000)
            q.join(60)
    return {
        "token_delay_ms": TOKEN_DELAY_MS,
        "cancel_to_cancelled_event_ms": pct(cancels),
        "interrupt_first_token_ms": pct(interrupted),
        "idle_first_token_ms": pct(idles),
    }


def main() -> dict:
    env = {
        "IMPRESSOX_OFFLINE_TOKEN_DELAY_MS": str(TOKEN_DELAY_MS),
        "IMPRESSOX_TOOL_MODULES": json.dumps(["tests.plugins.test_tools"]),
        "IMPRESSOX_AGENTS_FILE": str(ROOT / "tests" / "agents.yaml"),
        "PYTHONPATH": str(ROOT),
    }
    with tempfile.TemporaryDirectory(prefix="impressox-turn-control-bench-") as tmp:
        with stack(tmp, **env) as (api, _):
            return measure(api)


if __name__ == "__main__":
    print(json.dumps(main()))
