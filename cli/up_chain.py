"""The local chain of ``impressox up``: anvil (npm @foundry-rs/anvil) with its state in the
data dir, the contracts deployed on first start (reused after), the operator in the worker."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from chain.anvil import Anvil, find_anvil
from chain.deploy import deploy
from core.errors import ConfigError
from devstack.processes import free_port, port_open, wait_until

if TYPE_CHECKING:
    from cli.up import Stack

log = logging.getLogger("impressox.up")


def start_chain(stack: Stack) -> dict[str, str]:
    rpc = stack.settings.chain_rpc_url
    if not rpc:  # no chain configured: run the local one
        try:
            binary = find_anvil()
        except ConfigError as exc:
            log.warning("no local chain (on-chain tools disabled): %s", exc)
            return {}
        port = stack.args.chain_port if stack.args.chain_port and not port_open(stack.args.chain_port) else free_port()
        node = Anvil(port, state_file=stack.data_dir / "chain" / "anvil-state.json", binary=binary)
        proc = stack.spawn("anvil", node.command())
        wait_until(lambda: port_open(port), 30, "anvil", proc, interval=0.05)
        rpc = node.rpc_url
    deployment = asyncio.run(deploy(rpc, stack.data_dir))
    stack.env["IMPRESSOX_CHAIN_RPC_URL"] = rpc
    return {"chain_rpc": rpc, "vault": deployment["vault"]}
