"""Deploying through CREATE2: deterministic, idempotent, recorded in deployments.json."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

import pytest

from chain.accounts import ANVIL_ACCOUNTS
from chain.artifacts import load_artifact
from chain.cli import add_chain_commands, run_chain_command
from chain.deploy import ERC1967_IMPLEMENTATION_SLOT, deploy, read_deployments
from chain.units import from_base_units


async def test_deploy_sets_up_proxy_owner_operator_and_demo_assets(deployment, w3, data_dir: Path) -> None:
    vault = w3.eth.contract(address=deployment["vault"], abi=load_artifact("AgentVault").abi)
    slot = await w3.eth.get_storage_at(deployment["vault"], ERC1967_IMPLEMENTATION_SLOT)
    assert "0x" + bytes(slot)[-20:].hex() == deployment["implementation"].lower()
    assert await vault.functions.owner().call() == ANVIL_ACCOUNTS[0].address == deployment["owner"]
    assert await vault.functions.operator().call() == ANVIL_ACCOUNTS[1].address == deployment["operator"]
    assert await vault.functions.version().call() == "1"
    assert deployment["chain_id"] == 31337
    assert set(deployment["price_feeds"]) == {"ETH", "BTC", "TUSD"}

    # funded once with demo money, with daily limits that let small transfers through
    assert from_base_units(await w3.eth.get_balance(deployment["vault"]), 18) == Decimal(100)
    token = w3.eth.contract(address=deployment["token"], abi=load_artifact("TestToken").abi)
    assert await token.functions.symbol().call() == "TUSD"
    assert from_base_units(await token.functions.balanceOf(deployment["vault"]).call(), 18) == Decimal(1_000_000)
    eth_limit = await vault.functions.dailyLimit("0x" + "00" * 20).call()
    assert from_base_units(eth_limit, 18) == Decimal(1)
    assert from_base_units(await vault.functions.dailyLimit(deployment["token"]).call(), 18) == Decimal(1000)

    # the implementation itself cannot be initialised by anyone (initializers disabled)
    impl = w3.eth.contract(address=deployment["implementation"], abi=load_artifact("AgentVault").abi)
    with pytest.raises(Exception, match="0xf92ee8a9|InvalidInitialization"):
        await impl.functions.initialize(ANVIL_ACCOUNTS[2].address, ANVIL_ACCOUNTS[2].address).call()

    recorded = read_deployments(data_dir)["31337"]
    assert recorded["vault"] == deployment["vault"]


async def test_second_deploy_reuses_contracts_without_transactions(deployment, anvil, w3, tmp_path: Path) -> None:
    block_before = await w3.eth.block_number
    again = await deploy(anvil.rpc_url, tmp_path / "other-data-dir")
    assert await w3.eth.block_number == block_before, "a repeated deploy must send no transaction"
    for key in ("vault", "implementation", "token", "price_feeds", "owner", "operator", "deployed_block"):
        assert again[key] == deployment[key], key
    assert again["created"] is False and again["funded"] is False
    # recorded in the other data dir too, so its services find the vault
    assert (
        json.loads((tmp_path / "other-data-dir" / "deployments.json").read_text())["31337"]["vault"] == again["vault"]
    )


def test_cli_deploy_prints_one_json_object(deployment, anvil, tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="impressox")
    add_chain_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chain", "deploy", "--rpc-url", anvil.rpc_url, "--data-dir", str(tmp_path)])
    code = run_chain_command(args, settings=argparse.Namespace(chain_rpc_url=None, data_dir=tmp_path / "unused"))
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert len(out) == 1
    assert json.loads(out[0])["vault"] == deployment["vault"]


def test_cli_reports_unreachable_node_in_one_line(tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser(prog="impressox")
    add_chain_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["chain", "deploy", "--rpc-url", "http://127.0.0.1:9", "--data-dir", str(tmp_path)])
    code = run_chain_command(args, settings=argparse.Namespace(chain_rpc_url=None, data_dir=tmp_path))
    captured = capsys.readouterr()
    assert code != 0
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "unavailable" in lines[0]
