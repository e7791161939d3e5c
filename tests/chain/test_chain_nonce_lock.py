"""Two worker processes spend from one operator key at the same moment: the worker's ChainAccess
holds the Redis nonce lock (chain/nonces.py), so every spend is mined with its own nonce and no
process ever had to retry a taken nonce."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from chain.accounts import ANVIL_ACCOUNTS
from core.settings import PROJECT_ROOT

PAYEE = ANVIL_ACCOUNTS[3].address
SPENDS = 4

# What a worker process does for a transfer: the ChainAccess the worker builds, then spends.
SPENDER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from pathlib import Path
    from chain.vault import reference_from_key
    from core.settings import load_settings
    from temporal.worker import chain_access

    async def main(name, go):
        access = chain_access(load_settings())
        vault = await access.vault()
        while not Path(go).exists():  # both processes start spending at the same moment
            await asyncio.sleep(0.01)
        results = await asyncio.gather(*(
            vault.spend(reference_from_key(f"{name}-{i}-{time.time_ns()}"), "ETH", sys.argv[3], "0.001")
            for i in range(SPENDS)
        ))
        print(json.dumps({
            "txs": [r.tx_hash for r in results],
            "conflicts": vault.nonces.conflicts,
            "redis": access.redis is not None,
        }))
        await access.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
).replace("SPENDS", str(SPENDS))


def test_two_worker_processes_share_the_operators_nonces_through_redis(
    anvil, deployment, data_dir: Path, redis_server, tmp_path: Path, w3
) -> None:
    go = tmp_path / "go"
    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        IMPRESSOX_CHAIN_RPC_URL=anvil.rpc_url,
        IMPRESSOX_DATA_DIR=str(data_dir),
        IMPRESSOX_REDIS_URL=redis_server.url,
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SPENDER, name, str(go), PAYEE],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("w1", "w2")
    ]
    time.sleep(3)  # both connected and waiting (they poll for the go file)
    go.touch()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-2000:]
        outputs.append(json.loads(out.strip().splitlines()[-1]))

    assert all(o["redis"] for o in outputs)  # the worker's ChainAccess got Redis
    assert [o["conflicts"] for o in outputs] == [0, 0]  # the lock serialised the two processes
    txs = [t for o in outputs for t in o["txs"]]
    assert len(set(txs)) == 2 * SPENDS
    nonces = set()
    for tx in txs:
        receipt = _rpc(anvil.rpc_url, "eth_getTransactionReceipt", tx)
        assert receipt["status"] == "0x1"
        nonces.add(int(_rpc(anvil.rpc_url, "eth_getTransactionByHash", tx)["nonce"], 16))
    assert len(nonces) == 2 * SPENDS  # distinct nonces, all mined


def _rpc(url: str, method: str, *params: object) -> dict:
    import httpx

    body = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).json()
    assert "error" not in body, body
    return body["result"]
