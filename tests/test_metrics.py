"""Prometheus metrics: the API's /metrics after known turns, and a real Prometheus (Debian's
package, installed by ``make test-setup``) scraping the API and a worker process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from core.settings import OFFLINE_MODEL, Settings
from devstack.processes import free_port, port_open, stop_process
from tests.conftest import worker_process
from tests.served import served

PROMETHEUS = "/usr/bin/prometheus"


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples(text).items() if n == name and want <= ls)


async def test_metrics_count_known_turns(api: httpx.AsyncClient) -> None:
    before = (await api.get("/metrics")).text
    sid = (await api.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
    for expr in ("12 * 12", "7 + 8"):
        r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": f"what is {expr}?"})
        assert r.status_code == 200 and r.json()["status"] == "done"
    r = await api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = r.text
    delta = lambda name, **ls: value(after, name, **ls) - value(before, name, **ls)  # noqa: E731
    # each calculator turn: one model call asking for the tool, the tool, one call answering
    assert delta("impressox_llm_calls_total", model=OFFLINE_MODEL) == 4
    assert delta("impressox_tool_calls_total", tool="calculator", outcome="ok") == 2
    assert delta("impressox_llm_tokens_total", model=OFFLINE_MODEL) > 0
    assert delta("impressox_first_token_seconds_count", model=OFFLINE_MODEL) >= 2
    assert delta("impressox_api_turn_seconds_count", outcome="done") == 2  # as the waiting caller saw them
    assert delta("impressox_api_turn_seconds_sum", outcome="done") > 0


async def test_a_real_prometheus_scrapes_the_api_and_a_worker(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Path(PROMETHEUS).exists(), "Debian's prometheus is not installed (make test-setup)"
    worker_port = free_port()
    monkeypatch.setenv("IMPRESSOX_METRICS_PORT", str(worker_port))
    worker = worker_process(settings, tmp_path / "worker.ready")
    prom = None
    try:
        for _ in range(600):
            if (tmp_path / "worker.ready").exists():
                break
            await asyncio.sleep(0.1)
        assert (tmp_path / "worker.ready").exists(), "the worker did not start"
        async with served(create_app(settings)) as base:
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                sid = (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
                for expr in ("3 * 4", "5 * 6"):
                    r = await http.post(f"/v1/sessions/{sid}/messages", json={"text": f"what is {expr}?"})
                    assert r.json()["status"] == "done"
                api_port = int(base.rsplit(":", 1)[1])
                prom_port = free_port()
                config = tmp_path / "prometheus.yml"
                config.write_text(
                    json.dumps(
                        {
                            "global": {"scrape_interval": "2s", "scrape_timeout": "2s"},  # a loaded machine's scrape
                            "scrape_configs": [
                                {"job_name": "api", "static_configs": [{"targets": [f"127.0.0.1:{api_port}"]}]},
                                {"job_name": "worker", "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}]},
                            ],
                        }
                    )
                )
                prom = subprocess.Popen(
                    [
                        PROMETHEUS,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={tempfile.mkdtemp(dir=tmp_path)}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                        "--log.level=warn",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                turns, temporal, deadline = 0.0, list[dict](), time.monotonic() + 90
                up: dict[str, str] = {}
                both = {"api": "1", "worker": "1"}
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{prom_port}", timeout=10) as q:
                    # until both targets are up (each scraped once: the worker's SDK series can come
                    # before the API's first scrape), with the turns and the SDK's series in
                    while time.monotonic() < deadline and not (turns >= 2 and temporal and up == both):
                        await asyncio.sleep(1)
                        if not port_open(prom_port):
                            continue
                        res = (await q.get("/api/v1/query", params={"query": "sum(impressox_turns_total)"})).json()
                        turns = sum(float(x["value"][1]) for x in res["data"]["result"])
                        res = (await q.get("/api/v1/query", params={"query": '{__name__=~"temporal_.+"}'})).json()
                        temporal = res["data"]["result"]
                        res = (await q.get("/api/v1/query", params={"query": "up"})).json()
                        up = {x["metric"]["job"]: x["value"][1] for x in res["data"]["result"]}
                assert up == both, up
                assert turns >= 2, "Prometheus has no impressox_turns_total for the two turns"
                assert temporal, "Prometheus has no temporal_ SDK metric from the worker"
    finally:
        if prom is not None:
            stop_process(prom)
        stop_process(worker)
