"""Upgrading the vault proxy to AgentVaultV2 keeps every piece of state; only the owner may."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chain.accounts import ANVIL_ACCOUNTS, anvil_signer
from chain.artifacts import load_artifact
from chain.deploy import ERC1967_IMPLEMENTATION_SLOT, SALTS, create2_address, upgrade
from chain.tx import transact
from chain.vault import VaultService, reference_from_key
from core.errors import ChainRevertError

PAYEE = ANVIL_ACCOUNTS[3].address


async def test_non_owner_cannot_upgrade(deployment, w3) -> None:
    v2 = create2_address(SALTS["AgentVaultV2"], load_artifact("AgentVaultV2").initcode)
    vault = w3.eth.contract(address=deployment["vault"], abi=load_artifact("AgentVault").abi)
    data = vault.encode_abi("upgradeToAndCall", args=[deployment["implementation"], b""])
    for index in (1, 2):  # the operator and a stranger
        with pytest.raises(ChainRevertError, match="OwnableUnauthorizedAccount") as info:
            await transact(w3, anvil_signer(index), {"to": deployment["vault"], "data": data}, action="upgrade")
        assert info.value.error_name == "OwnableUnauthorizedAccount"
    assert await vault.functions.version().call() == "1"
    assert v2 != deployment["implementation"]


async def test_upgrade_keeps_address_owner_limits_balances_and_references(deployment, anvil, w3, data_dir) -> None:
    service = VaultService(w3, deployment, anvil_signer(1))
    ref = reference_from_key("upgrade:before")
    await service.spend(ref, "TUSD", PAYEE, Decimal("7"))
    before = await service.status()

    result = await upgrade(anvil.rpc_url, data_dir)

    assert result["vault"] == deployment["vault"]
    assert result["version"] == "2" and result["upgraded"] is True
    assert result["implementation"] != deployment["implementation"]
    slot = await w3.eth.get_storage_at(deployment["vault"], ERC1967_IMPLEMENTATION_SLOT)
    assert "0x" + bytes(slot)[-20:].hex() == result["implementation"].lower()
    after = await service.status()
    assert after.version == "2"
    assert (
        (after.owner, after.operator)
        == (before.owner, before.operator)
        == (ANVIL_ACCOUNTS[0].address, ANVIL_ACCOUNTS[1].address)
    )
    assert after.tokens == before.tokens  # limits, spent today and balances
    assert await service.reference_used(ref)
    # the used reference is still refused on-chain by the new implementation
    data = service.vault.encode_abi("spend", args=[ref, deployment["token"], PAYEE, 10**18])
    with pytest.raises(ChainRevertError, match="ReferenceUsed"):
        await transact(w3, anvil_signer(1), {"to": deployment["vault"], "data": data}, action="spend")
    # and spending still works within the limits
    await service.spend(reference_from_key("upgrade:after"), "TUSD", PAYEE, Decimal("3"))
    assert await service.balance(PAYEE, "TUSD") >= Decimal("10")

    again = await upgrade(anvil.rpc_url, data_dir)
    assert again["upgraded"] is False and again["implementation"] == result["implementation"]
