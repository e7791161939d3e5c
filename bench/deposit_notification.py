"""Benchmark: an outside deposit to the vault -> the owner's notification, end to end.

Starts a Temporal dev server and an anvil on free ports, deploys the vault, runs the chain
event listener (temporal.listener_main.run_listener) and a worker with NotificationsWorkflow
in this process, then N times: send 0.01 ETH from anvil account 2 to the vault and time
until the deposit is listed by NotificationService.list. Latency is dominated by the
listener's poll interval (--poll-seconds, default: the settings' chain_poll_seconds).
Prints one JSON object.

    .venv/bin/python bench/deposit_notification.py [--n 20] [--poll-seconds 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio.worker import Worker

from chain.accounts import ANVIL_ACCOUNTS
from chain.client import close_web3, make_web3
from chain.deploy import deploy
from core.settings import Settings, load_settings
from core.temporal.client import connect
from devstack.anvil import Anvil
from devstack.processes import free_port
from devstack.temporal_server import TemporalDevServer
from services.notifications import NotificationService
from temporal.listener_main import run_listener
from temporal.sandbox import WORKFLOW_RUNNER
from workflows.notifications import NotificationsWorkflow

DEPOSIT_WEI = 10**16


def pct(xs: list[float], q: int) -> float:
    return round(statistics.quantiles(xs, n=100, method="inclusive")[q - 1], 1)


async def main(n: int, poll_seconds: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="impressox-bench-notify-"))
    server = TemporalDevServer(free_port(), tmp / "temporal.db").start()
    anvil = Anvil(free_port(), log_file=tmp / "anvil.log")
    w3 = None
    try:
        await anvil.start()
        vault = (await deploy(anvil.rpc_url, tmp))["vault"]
        settings = load_settings(
            temporal_address=server.address,
            data_dir=tmp,
            task_queue="bench-notify",
            chain_rpc_url=anvil.rpc_url,
            chain_poll_seconds=poll_seconds,
        )
        owner = getattr(settings, "chain_vault_user", settings.local_user)
        client = await connect(settings, wait_seconds=10)
        notifications = NotificationService(client, settings)
        w3 = make_web3(anvil.rpc_url)
        stop, ready = asyncio.Event(), asyncio.Event()
        async with Worker(
            client, task_queue=settings.task_queue, workflows=[NotificationsWorkflow], workflow_runner=WORKFLOW_RUNNER
        ):
            listener = asyncio.create_task(run_listener(settings, stop, ready=ready))
            try:
                await asyncio.wait_for(ready.wait(), 60)
                await deposit_and_wait(w3, vault, notifications, owner)  # warm-up: creates the inbox
                mined, seen = [], []
                for _ in range(n):
                    m, s = await deposit_and_wait(w3, vault, notifications, owner)
                    mined.append(m)
                    seen.append(s)
            finally:
                stop.set()
                await listener
        return {
            "n": n,
            "poll_seconds": poll_seconds,
            "confirmations": settings.chain_confirmations,
            "p50_ms": pct(seen, 50),
            "p90_ms": pct(seen, 90),
            "max_ms": round(max(seen), 1),
            "mined_p50_ms": pct(mined, 50),
        }
    finally:
        if w3 is not None:
            await close_web3(w3)
        await anvil.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def deposit_and_wait(w3, vault: str, notifications: NotificationService, owner: str) -> tuple[float, float]:
    """(ms until the deposit is mined, ms until it is listed as a notification)."""
    t0 = time.perf_counter()
    tx_hash = await w3.eth.send_transaction({"from": ANVIL_ACCOUNTS[2].address, "to": vault, "value": DEPOSIT_WEI})
    await w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.005)
    mined = (time.perf_counter() - t0) * 1000
    tx = "0x" + bytes(tx_hash).hex()
    deadline = t0 + 30
    while not any(item.data.get("tx_hash") == tx for item in await notifications.list(owner)):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"deposit {tx} was not notified within 30s")
        await asyncio.sleep(0.005)
    return mined, (time.perf_counter() - t0) * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--poll-seconds", type=float, default=Settings.model_fields["chain_poll_seconds"].default)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(main(args.n, args.poll_seconds))))
