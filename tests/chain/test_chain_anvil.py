"""The embedded anvil keeps chain state in the data dir across restarts; signers keep keys private."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account
from eth_typing import HexStr
from pydantic import SecretStr

from chain.accounts import ANVIL_ACCOUNTS, anvil_signer, load_operator_signer, signer_from_key
from chain.client import close_web3, make_web3
from chain.deploy import deploy
from chain.vault import VaultService, reference_from_key
from core.errors import ConfigError
from devstack.anvil import Anvil, find_anvil
from devstack.processes import free_port


async def test_state_file_keeps_the_deployment_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    node = Anvil(free_port(), state_file=state, binary=find_anvil())
    await node.start()
    try:
        first = await deploy(node.rpc_url, tmp_path)
        w3 = make_web3(node.rpc_url)
        try:
            service = VaultService(w3, first, anvil_signer(1))
            await service.spend(reference_from_key("anvil:restart"), "ETH", ANVIL_ACCOUNTS[3].address, Decimal("0.5"))
        finally:
            await close_web3(w3)
    finally:
        await node.stop()
    assert state.exists() and json.loads(state.read_text())

    again = Anvil(free_port(), state_file=state, binary=find_anvil())
    await again.start()
    try:
        second = await deploy(again.rpc_url, tmp_path)
        assert second["created"] is False and second["vault"] == first["vault"]
        w3 = make_web3(again.rpc_url)
        try:
            service = VaultService(w3, second)
            assert await service.reference_used(reference_from_key("anvil:restart"))
            assert await service.balance(None, "ETH") == Decimal("99.5")
        finally:
            await close_web3(w3)
    finally:
        await again.stop()


def test_signer_never_shows_its_key(tmp_path: Path) -> None:
    key = ANVIL_ACCOUNTS[1].private_key
    signer = signer_from_key(SecretStr(key))
    assert signer.address == ANVIL_ACCOUNTS[1].address
    for text in (repr(signer), str(signer), f"{signer}"):
        assert key[2:] not in text and signer.address in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_operator_from_encrypted_keystore(tmp_path: Path) -> None:
    keystore = tmp_path / "operator.json"
    keystore.write_text(json.dumps(Account.encrypt(HexStr(ANVIL_ACCOUNTS[2].private_key), "s3cret", iterations=2)))
    signer = load_operator_signer(keystore_file=keystore, keystore_password=SecretStr("s3cret"))
    assert signer is not None and signer.address == ANVIL_ACCOUNTS[2].address
    with pytest.raises(ConfigError, match="wrong password"):
        load_operator_signer(keystore_file=keystore, keystore_password=SecretStr("nope"))
    with pytest.raises(ConfigError, match="not a valid private key") as info:
        signer_from_key(SecretStr("0xnot-a-key"))
    assert "not-a-key" not in str(info.value)
    # nothing configured: the local chain uses anvil's operator, any other chain has none
    local = load_operator_signer(chain_id=31337)
    assert local is not None and local.address == ANVIL_ACCOUNTS[1].address
    assert load_operator_signer(chain_id=1) is None
