"""Benchmark: 1,000 price rules on one feed, and scheduled turns, end to end.

Starts a Temporal dev server and an anvil on free ports, deploys the local contracts, runs the
chain listener in this process and ``impressox worker`` as a child process (its RSS is read from
/proc), then:

* creates --rules price rules "ETH above 3,500" (spread over --owners users, cooldown 0);
* --n times: moves the ETH feed 3,000 -> 4,000 (one update crossing every rule) and times from
  the mined update to the last of the --rules notifications stored; moves it back (re-arms);
* reads the watch workflow's history to count Temporal events and activities per update;
* runs a schedule every 2 s for --schedule-seconds and takes firing time -> notification stored.

Prints one JSON object.

    .venv/bin/python bench/alerts.py [--rules 1000] [--owners 100] [--n 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chain.accounts import ANVIL_ACCOUNTS
from chain.artifacts import load_artifact
from chain.client import close_web3, make_web3
from chain.deploy import deploy
from core.agents import AgentFactory
from core.automations import price_watch_id
from core.errors import UnavailableError
from core.settings import PROJECT_ROOT, load_settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.anvil import Anvil
from devstack.processes import find_executable, free_port
from devstack.temporal_server import TemporalDevServer
from services.alerts import AlertCreate, AlertService
from services.notifications import NotificationService
from services.schedules import ScheduleCreate, ScheduleService
from services.tools import load_tools
from temporal.listener_main import run_listener
from workflows.notifications import notifications_workflow_id
from workflows.watch import WatchWorkflow

FEED_OWNER = ANVIL_ACCOUNTS[0].address


def pct(xs: list[float], q: int) -> float:
    return round(statistics.quantiles(xs, n=100, method="inclusive")[q - 1], 1) if len(xs) > 1 else round(xs[0], 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def start_worker(settings, ready: Path) -> subprocess.Popen:
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        IMPRESSOX_TEMPORAL_ADDRESS=settings.temporal_address,
        IMPRESSOX_TASK_QUEUE=settings.task_queue,
        IMPRESSOX_DATA_DIR=str(settings.data_dir),
        IMPRESSOX_CHAIN_RPC_URL=settings.chain_rpc_url,
        IMPRESSOX_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # none: the in-memory cache
        IMPRESSOX_ALERT_COOLDOWN_SECONDS="0",
    )
    return subprocess.Popen(
        [find_executable("impressox"), "worker", "--ready-file", str(ready)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


async def history_counts(client, wid: str) -> tuple[str, int, int]:
    """(run id, events, activities scheduled) of the watch workflow's current run."""
    handle = client.get_workflow_handle(wid)
    desc = await handle.describe()
    events = [e async for e in client.get_workflow_handle(wid, run_id=desc.run_id).fetch_history_events()]
    acts = sum(1 for e in events if e.HasField("activity_task_scheduled_event_attributes"))
    return desc.run_id, len(events), acts


async def inbox_signals(client, users: list[str]) -> int:
    """Signals received by the users' inbox workflows (their current runs)."""

    async def one(user: str) -> int:
        handle = client.get_workflow_handle(notifications_workflow_id(user))
        signaled = "workflow_execution_signaled_event_attributes"
        return len([e async for e in handle.fetch_history_events() if e.HasField(signaled)])

    return sum(await asyncio.gather(*(one(u) for u in users)))


async def main(rules: int, owners: int, n: int, schedule_seconds: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="impressox-bench-alerts-"))
    server = TemporalDevServer(free_port(), tmp / "temporal.db").start()
    anvil = Anvil(free_port(), log_file=tmp / "anvil.log")
    w3, worker = None, None
    try:
        await anvil.start()
        feed = (await deploy(anvil.rpc_url, tmp))["price_feeds"]["ETH"]
        settings = load_settings(
            temporal_address=server.address,
            data_dir=tmp,
            task_queue="bench-alerts",
            chain_rpc_url=anvil.rpc_url,
            chain_poll_seconds=0.1,
            alert_cooldown_seconds=0,
            schedule_min_interval_seconds=1,  # the 2 s schedule measured below
        )
        client = await connect(settings, wait_seconds=10)
        await ensure_registered(client)
        ready = tmp / "worker.ready"
        worker = start_worker(settings, ready)
        for _ in range(600):
            if ready.exists():
                break
            await asyncio.sleep(0.1)
        notes, alerts = NotificationService(client, settings), AlertService(client, settings)
        w3 = make_web3(anvil.rpc_url)
        contract = w3.eth.contract(address=feed, abi=load_artifact("MockPriceFeed").abi)

        async def set_price(usd: int) -> float:
            tx = await contract.functions.setAnswer(usd * 10**8).transact({"from": FEED_OWNER})
            await w3.eth.wait_for_transaction_receipt(tx, poll_latency=0.005)
            return time.perf_counter()

        users = [f"bench-{i}" for i in range(owners)]
        gate = asyncio.Semaphore(16)

        async def add(i: int) -> None:
            async with gate:
                await alerts.create(users[i % owners], AlertCreate(kind="price", symbol="ETH", above=3500))

        stop, listening = asyncio.Event(), asyncio.Event()
        listener = asyncio.create_task(run_listener(settings, stop, ready=listening))
        try:
            await asyncio.wait_for(listening.wait(), 60)
            t = time.perf_counter()
            await asyncio.gather(*(add(i) for i in range(rules)))
            create_s = time.perf_counter() - t
            wid = price_watch_id("ETH")
            handle = client.get_workflow_handle(wid)
            while await handle.query(WatchWorkflow.rule_count) < rules:
                await asyncio.sleep(0.1)

            async def missing(round_id: int, pending: set[str]) -> set[str]:
                """The owners whose notifications of this round are not all stored yet (queries only those)."""
                want = rules // owners

                async def done(u: str) -> bool:
                    try:
                        got = await notes.list(u)
                    except UnavailableError:  # an inbox busy with its signals: not done yet
                        return False
                    return sum(1 for x in got if x.kind == "alert" and x.data.get("round_id") == round_id) >= want

                results = await asyncio.gather(*(done(u) for u in pending))
                return {u for u, ok in zip(pending, results, strict=True) if not ok}

            latencies, events, activities = [], [], []
            for k in range(n):
                await set_price(3000)  # back under: re-arms every rule
                await asyncio.sleep(1.0)
                before = await history_counts(client, wid)
                mined = await set_price(4000)
                round_id = (await contract.functions.latestRoundData().call())[0]
                pending = set(users)
                while pending := await missing(round_id, pending):
                    if time.perf_counter() - mined > 120:
                        raise TimeoutError(f"update {k}: notifications missing after 120 s")
                    await asyncio.sleep(0.1)
                latencies.append((time.perf_counter() - mined) * 1000)
                after = await history_counts(client, wid)
                if after[0] == before[0]:  # same run (not across a continue-as-new)
                    events.append(after[1] - before[1])
                    activities.append(after[2] - before[2])
            worker_rss = rss_mb(worker.pid)
            signals_per_update = await inbox_signals(client, users) / n

            # schedules: firing time -> notification stored
            agents = AgentFactory.from_yaml(settings.agents_file, load_tools(), settings)
            schedules = ScheduleService(client, settings, agents)
            sched = await schedules.create("bench-sched", ScheduleCreate(prompt="what is 6 * 7?", every_seconds=2))
            await asyncio.sleep(schedule_seconds)
            await schedules.delete("bench-sched", sched.schedule_id)
            await asyncio.sleep(2)
            from datetime import datetime

            fired = [
                (x.at - datetime.fromisoformat(x.data["fired_at"])).total_seconds() * 1000
                for x in await notes.list("bench-sched")
                if x.kind == "schedule"
            ]
        finally:
            stop.set()
            await listener
        return {
            "rules": rules,
            "owners": owners,
            "updates": n,
            "rule_create_seconds": round(create_s, 1),
            "update_to_last_notification_p50_ms": pct(latencies, 50),
            "update_to_last_notification_max_ms": round(max(latencies), 1),
            "watch_history_events_per_update": statistics.median(events) if events else None,
            "watch_activities_per_update": statistics.median(activities) if activities else None,
            "notification_signals_per_update": signals_per_update,
            "worker_rss_mb": worker_rss,
            "schedule_firings": len(fired),
            "schedule_fire_to_notification_p50_ms": pct(fired, 50) if fired else None,
        }
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(20)
        if w3 is not None:
            await close_web3(w3)
        await anvil.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--schedule-seconds", type=float, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(main(args.rules, args.owners, args.n, args.schedule_seconds))))
