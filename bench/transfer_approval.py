"""Benchmark: a vault transfer from the human's approval to the mined receipt, on anvil.

Starts a Temporal dev server, a Redis and an anvil on free ports, deploys the vault, runs a
worker in this process, then N times: ask the agent to "send 0.001 ETH to <address>" (the
turn stops at the approval), and time the approval update until the transfer is mined and the
turn has its reply (the update returns then). Baseline in the same run: the same spend sent
directly with VaultService.spend (no Temporal, no approval). Prints one JSON object.

    .venv/bin/python bench/transfer_approval.py [--n 20]
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
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chain.accounts import ANVIL_ACCOUNTS, anvil_signer
from chain.deploy import deploy
from chain.vault import VaultService, reference_from_key
from core.agents import AgentFactory
from core.cache import build_cache
from core.settings import load_settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.anvil import Anvil
from devstack.processes import free_port
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker

TO = ANVIL_ACCOUNTS[3].address


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs), 1)


async def main(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-transfer-") as tmp_name:
        tmp = Path(tmp_name)
        server = TemporalDevServer(free_port(), tmp / "temporal.db").start()
        redis = RedisServer().start()
        anvil = Anvil(free_port(), log_file=tmp / "anvil.log")
        try:
            await anvil.start()
            await deploy(anvil.rpc_url, tmp)
            settings = load_settings(
                temporal_address=server.address,
                redis_url=redis.url,
                data_dir=tmp,
                task_queue="bench-transfer",
                chain_rpc_url=anvil.rpc_url,
            )
            return await _measure(settings, anvil, n)
        finally:
            await anvil.stop()
            redis.stop()
            server.stop()


async def _measure(settings, anvil: Anvil, n: int) -> dict:
    client = await connect(settings)
    await ensure_registered(client)
    registry = load_tools()
    cache = await build_cache(settings.redis_url)
    sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
    direct = await VaultService.connect(anvil.rpc_url, settings.data_dir, signer=anvil_signer(1))
    approvals, spends = [], []
    try:
        async with build_worker(client, settings, registry, cache):
            user = settings.chain_vault_user  # the platform user who owns the vault
            sid = await sessions.create(user, "assistant")
            for i in range(n + 2):  # the first two warm up connections and caches
                asked = await sessions.send(user, sid, f"send 0.001 ETH to {TO}", wait=30)
                assert asked.status == "awaiting_approval", asked
                view = await sessions.get(user, sid)
                assert len(view.pending_approvals) == 1, (i, asked, view.messages[-2:])
                [pending] = view.pending_approvals
                t0 = time.perf_counter()
                record = await sessions.decide(user, sid, pending.call_id, approve=True)
                elapsed = (time.perf_counter() - t0) * 1000
                assert record is not None and record.status == "ok", record
                t0 = time.perf_counter()
                await direct.spend(reference_from_key(uuid.uuid4().hex), "ETH", TO, "0.001")
                direct_ms = (time.perf_counter() - t0) * 1000
                if i >= 2:
                    approvals.append(elapsed)
                    spends.append(direct_ms)
    finally:
        await direct.close()
        await cache.close()
        del sessions, client  # drop client references before exit
        gc.collect()
    return {
        "n": n,
        "approval_to_receipt_p50_ms": p50(approvals),
        "approval_to_receipt_p90_ms": round(statistics.quantiles(approvals, n=10)[-1], 1),
        "direct_spend_p50_ms": p50(spends),
        "note": "approval -> tx mined -> turn reply, vs the same spend sent directly (no Temporal)",
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    result = asyncio.run(main(parser.parse_args().n))
    gc.collect()
    print(json.dumps(result))
