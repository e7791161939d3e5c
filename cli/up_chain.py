"""The local chain of ``impressox up``: anvil (npm @foundry-rs/anvil) with its state in the
data dir, the contracts deployed on first start (reused after), the operator in the worker."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from chain.deploy import deploy, upgrade
from core.errors import ConfigError
from devstack.anvil import Anvil, find_anvil
from devstack.processes import ManagedProcess, free_port, port_in_use

log = logging.getLogger("impressox.up")
DEFAULT_PORT = 8545


@dataclass
class LocalChain:
    rpc_url: str
    #: what ``impressox up`` prints
    urls: dict[str, str]
    #: what the stack's children need in their environment
    env: dict[str, str]
    #: the anvil process when started here (its exit stops the stack); None for a configured chain
    node: ManagedProcess | None = field(default=None)


def start_chain(*, rpc_url: str | None, data_dir: Path, port: int | None, log_dir: Path) -> LocalChain | None:
    """The configured chain (``rpc_url``), else a local anvil on ``port`` (None: 8545, or a free
    port when 8545 is taken), with the contracts deployed; None when no chain is available."""
    node: ManagedProcess | None = None
    if not rpc_url:  # no chain configured: run the local one
        try:
            binary = find_anvil()
        except ConfigError as exc:
            log.warning("no local chain (on-chain tools disabled): %s", exc)
            return None
        if port is None:
            port = free_port() if port_in_use(DEFAULT_PORT) else DEFAULT_PORT
        anvil = Anvil(
            port, state_file=data_dir / "chain" / "anvil-state.json", binary=binary, log_file=log_dir / "anvil.log"
        )
        node = anvil.spawn()
        rpc_url = anvil.rpc_url
    try:
        deployment = asyncio.run(deploy(rpc_url, data_dir))
        # the local vault runs AgentVaultV3 (freeze switch, time lock): its owner (anvil account 0)
        # upgrades it in place on first start; a later start finds it upgraded and changes nothing
        deployment = asyncio.run(upgrade(rpc_url, data_dir, implementation="AgentVaultV3"))
    except BaseException:
        if node is not None:
            node.stop()
        raise
    return LocalChain(
        rpc_url=rpc_url,
        urls={"chain_rpc": rpc_url, "vault": deployment["vault"]},
        env={"IMPRESSOX_CHAIN_RPC_URL": rpc_url},
        node=node,
    )
