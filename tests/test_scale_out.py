"""`impressox up --workers 2 --api-workers 2`: two worker processes poll the task queue, two API
processes share the API port, and concurrent turns over many sessions are each answered once,
right, whichever processes served them. With two API processes, `/metrics` counts what both did."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.processes import find_executable
from tests.test_cli_up import running_up
from tests.test_metrics import value

SESSIONS, TURNS_EACH = 10, 4


def pollers(temporal_port: int, kind: str) -> set[str]:
    out = subprocess.run(
        [find_executable("temporal"), "task-queue", "describe", "--task-queue", "impressox-agent",
         "--task-queue-type", kind, "--address", f"127.0.0.1:{temporal_port}", "-o", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    found: set[str] = set()

    def walk(node: object) -> None:  # the CLI nests pollers by build id in newer versions
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "identity" and isinstance(value, str):
                    found.add(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(out))
    return found


def listening_pids(port: int) -> set[int]:
    """Processes holding a listening socket on ``port`` (from /proc, no tools needed)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            f = row.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{f[9]}]")
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if any(str(fd.readlink()) in inodes for fd in (proc / "fd").iterdir()):
                    pids.add(int(proc.name))
            except OSError:
                continue
    return pids


async def turns(api: str) -> list[tuple[str, int, int, dict]]:
    async with httpx.AsyncClient(base_url=api, timeout=180) as http:
        sids = [
            (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"] for _ in range(SESSIONS)
        ]

        async def one(sid: str, k: int) -> tuple[str, int, int, dict]:
            r = await http.post(f"/v1/sessions/{sid}/messages?wait=150", json={"text": f"what is {100 + k} * 7?"})
            return sid, k, r.status_code, r.json()

        return await asyncio.gather(
            *(one(sid, i * TURNS_EACH + j) for i, sid in enumerate(sids) for j in range(TURNS_EACH))
        )


def test_two_workers_and_two_api_processes_answer_every_turn_once(tmp_path: Path) -> None:
    with running_up(tmp_path, "--workers", "2", "--api-workers", "2") as up:
        logs = {p.name for p in (up.data_dir / "logs").iterdir()}
        assert {"worker-1.log", "worker-2.log"} <= logs, logs
        # both workers poll for workflow and activity tasks
        for kind in ("workflow", "activity"):
            assert len(pollers(up.ports["temporal"], kind)) >= 2, kind
        assert len(listening_pids(up.ports["api"])) >= 2  # the manager and its API processes share the port

        results = asyncio.run(turns(f"http://127.0.0.1:{up.ports['api']}"))
        wrong = [
            (k, code, body) for _, k, code, body in results if code != 200 or str((100 + k) * 7) not in body["reply"]
        ]
        assert not wrong, wrong[:3]
        for sid in {sid for sid, *_ in results}:
            numbers = sorted(body["turn"] for s, _, _, body in results if s == sid)
            assert numbers == list(range(1, TURNS_EACH + 1)), (sid, numbers)  # each message one turn, once


def test_metrics_of_two_api_processes_count_what_both_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests refused by a rate limit, each on a new connection (so either API process takes it),
    are counted in full by every scrape of the API port, whichever process answers it."""
    refusals = 20
    monkeypatch.setenv("IMPRESSOX_RATE_LIMIT_SESSIONS", "1/minute")  # the second session is refused
    with running_up(tmp_path, "--api-workers", "2") as up:
        api = f"http://127.0.0.1:{up.ports['api']}"
        api_pids = listening_pids(up.ports["api"])  # the manager and its two API processes
        assert len(api_pids) == 3, api_pids

        def fresh(method: str, path: str, body: dict | None = None) -> httpx.Response:
            with httpx.Client(base_url=api, timeout=30) as http:  # one connection, closed after
                return http.request(method, path, json=body)

        codes = [fresh("POST", "/v1/sessions", {"agent": "assistant"}).status_code for _ in range(refusals + 1)]
        assert codes.count(201) == 1 and codes.count(429) == refusals, codes

        pids: set[str] = set()
        for _ in range(8):
            r = fresh("GET", "/metrics")
            assert r.status_code == 200
            assert value(r.text, "impressox_rate_limit_refusals_total") == refusals, "a part of the total"
            for family in text_string_to_metric_families(r.text):
                if family.name.startswith("temporal_"):
                    pids |= {s.labels["pid"] for s in family.samples}
        # the Temporal SDK's series of each API process, labelled by its pid
        assert len(pids) == 2 and {int(p) for p in pids} < api_pids, (pids, api_pids)
