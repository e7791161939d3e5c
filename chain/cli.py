"""argparse hooks for ``impressox chain deploy|upgrade``: one JSON object on stdout, exit 0;
on failure one ``error: ...`` line on stderr and a non-zero exit.

cli/main.py calls :func:`add_chain_commands` on its subparsers and dispatches
``args.command == "chain"`` to :func:`run_chain_command`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from core.errors import ImpressoxError


def add_chain_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``chain`` command (subcommands deploy, upgrade) to an argparse subparsers object."""
    chain = subparsers.add_parser("chain", help="deploy or upgrade the AgentVault contracts")
    sub = chain.add_subparsers(dest="chain_command", required=True, metavar="{deploy,upgrade}")

    deploy = sub.add_parser("deploy", help="deploy (or find) the vault; idempotent; prints the deployment JSON")
    upgrade = sub.add_parser(
        "upgrade", help="upgrade the vault proxy (default to AgentVaultV3); prints the deployment JSON"
    )
    for p in (deploy, upgrade):
        p.add_argument("--rpc-url", help="JSON-RPC URL (default: settings chain_rpc_url)")
        p.add_argument("--data-dir", type=Path, help="where deployments.json lives (default: settings data_dir)")
    deploy.add_argument("--owner", help="vault owner address (non-local chains; default: the deployer)")
    deploy.add_argument("--operator", help="operator address (required on non-local chains)")
    deploy.add_argument(
        "--key-env",
        metavar="VAR",
        help="name of an environment variable holding the deployer key (non-local chains)",
    )
    upgrade.add_argument(
        "--key-env",
        metavar="VAR",
        help="name of an environment variable holding the owner key (non-local chains)",
    )
    upgrade.add_argument(
        "--implementation",
        default="AgentVaultV3",
        choices=["AgentVaultV2", "AgentVaultV3"],
        help="the implementation to upgrade to (default AgentVaultV3: freeze switch and time lock)",
    )
    upgrade.add_argument(
        "--vault",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="also upgrade this vault (e.g. a user's own vault) if the key owns it; repeatable",
    )
    return chain


def _key_from_env(name: str | None) -> SecretStr | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ImpressoxError(f"environment variable {name} is empty or not set")
    return SecretStr(value)


async def _run(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    from chain.deploy import deploy, upgrade  # imported late: `impressox --help` need not load web3

    rpc_url = args.rpc_url or getattr(settings, "chain_rpc_url", None)
    if not rpc_url:
        raise ImpressoxError("no RPC URL: pass --rpc-url or set chain_rpc_url (IMPRESSOX_CHAIN_RPC_URL)")
    data_dir = args.data_dir or settings.data_dir
    key = _key_from_env(getattr(args, "key_env", None))
    if args.chain_command == "deploy":
        return await deploy(rpc_url, data_dir, deployer_key=key, owner=args.owner, operator=args.operator)
    return await upgrade(rpc_url, data_dir, owner_key=key, vaults=args.vault, implementation=args.implementation)


def run_chain_command(args: argparse.Namespace, settings: Any) -> int:
    """Run ``chain deploy|upgrade``; print the result JSON; return the process exit code."""
    try:
        result = asyncio.run(_run(args, settings))
    except ImpressoxError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0
