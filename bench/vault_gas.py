"""Gas per vault spend before and after the V3 upgrade, on a throwaway anvil.

Deploys the vault (V1), makes two ETH spends (the second is measured: the first of a day also
pays for the day's new spent-today slot), upgrades the same proxy to AgentVaultV3 in place, makes
one more spend, and prints gas used per spend (V1, V3, the difference) as one JSON object.
Gas does not depend on the machine's load, so one run is the figure.

    .venv/bin/python bench/vault_gas.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chain.accounts import ANVIL_ACCOUNTS, anvil_signer
from chain.client import close_web3, make_web3
from chain.deploy import deploy, upgrade
from chain.vault import VaultService
from devstack.anvil import Anvil, find_anvil
from devstack.processes import free_port


async def main() -> dict[str, object]:
    to = ANVIL_ACCOUNTS[3].address
    with tempfile.TemporaryDirectory() as tmp:
        node = Anvil(free_port(), binary=find_anvil(), log_file=Path(tmp) / "anvil.log")
        await node.start()
        w3 = make_web3(node.rpc_url)
        try:
            deployment = await deploy(node.rpc_url, Path(tmp))
            vault = VaultService(w3, deployment, anvil_signer(1))

            async def gas(ref: int) -> int:
                spent = await vault.spend(ref.to_bytes(32, "big"), "ETH", to, "0.01")
                return int((await w3.eth.get_transaction_receipt(spent.tx_hash))["gasUsed"])  # type: ignore[arg-type]

            await gas(1)
            v1 = await gas(2)
            await upgrade(node.rpc_url, Path(tmp), implementation="AgentVaultV3")
            v3 = await gas(3)
            return {
                "gas_per_eth_spend_v1": v1,
                "gas_per_eth_spend_v3": v3,
                "v3_extra_gas": v3 - v1,
                "v3_extra_pct": round(100 * (v3 - v1) / v1, 2),
                "version_after_upgrade": (await vault.status()).version,
            }
        finally:
            await close_web3(w3)
            await node.stop()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
