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


def chain_port(data_dir: Path) -> int:
    """The local chain's port: the one it had last time when free (a wallet pointed at it keeps
    working across restarts), else 8545, else any free one; remembered for the next start."""
    remembered = data_dir / "chain" / "port"
    last = int(remembered.read_text()) if remembered.is_file() and remembered.read_text().strip().isdigit() else None
    port = next((p for p in (last, DEFAULT_PORT) if p and not port_in_use(p)), None) or free_port()
    remembered.parent.mkdir(parents=True, exist_ok=True)
    remembered.write_text(str(port))
    return port


def start_chain(*, rpc_url: str | None, data_dir: Path, port: int | None, log_dir: Path) -> LocalChain | None:
    """The configured chain (``rpc_url``), else a local anvil on ``port`` (None: :func:`chain_port`),
    with the contracts deployed; None when no chain is available."""
    node: ManagedProcess | None = None
    if not rpc_url:  # no chain configured: run the local one
        try:
            binary = find_anvil()
        except ConfigError as exc:
            log.warning("no local chain (on-chain tools disabled): %s", exc)
            return None
        if port is None:
            port = chain_port(data_dir)
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
        urls={
            "chain_rpc": rpc_url,
            "vault": deployment["vault"],
            # the price feeds the tools read (a local test moves a price by calling updateAnswer on one)
            **{f"price {s}": a for s, a in sorted((deployment.get("price_feeds") or {}).items())},
        },
        env={"IMPRESSOX_CHAIN_RPC_URL": rpc_url},
        node=node,
    )
