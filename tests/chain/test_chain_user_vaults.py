"""Every user has their own vault, on a real anvil: registration is deterministic and idempotent,
only the owner's wallet controls a vault, and the agent tools act on the caller's own vault only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from chain.accounts import ANVIL_ACCOUNTS
from chain.artifacts import load_artifact
from chain.client import chain_errors
from chain.deploy import ERC1967_IMPLEMENTATION_SLOT, SALTS, create2_address, upgrade
from chain.listener import ChainEvent, EventListener
from chain.units import ETH_ADDRESS
from chain.user_vaults import user_vault_address
from chain.vault import reference_from_key
from core.errors import BadInputError, ChainRevertError, ConflictError
from core.settings import Settings, load_settings
from core.tools import ToolContext, ToolResult
from services.chain_access import ChainAccess
from services.tools import load_tools
from services.tools.chain import NoVaultError

# anvil's dev accounts 4..6 (unlocked on anvil): the users' own wallets and a payee
ALICE_WALLET = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
ALICE_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"  # anvil's published dev key
BOB_WALLET = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
PAYEE = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
OPERATOR = ANVIL_ACCOUNTS[1].address
STRANGER = ANVIL_ACCOUNTS[2].address
ETH = 10**18


@pytest.fixture(scope="module")
async def access(anvil, deployment, data_dir: Path) -> Any:
    settings = load_settings(chain_rpc_url=anvil.rpc_url, data_dir=data_dir, redis_url="redis://127.0.0.1:1/0")
    chain = ChainAccess(settings)
    yield chain
    await chain.close()


@pytest.fixture(scope="module")
async def vaults(access: ChainAccess) -> dict[str, Any]:
    return {
        "alice": await access.register("alice", ALICE_WALLET),
        "bob": await access.register("bob", BOB_WALLET),
    }


def ctx(chain: ChainAccess, user: str, key: str = "k") -> ToolContext:
    deps = type("Deps", (), {"chain": chain, "settings": chain.settings})()
    return ToolContext(call_id="c", session_id=f"web:{user}:s", owner=user, idempotency_key=key, deps=deps)


async def send(w3, tx: dict[str, Any]) -> Any:
    receipt = await w3.eth.wait_for_transaction_receipt(await w3.eth.send_transaction(tx))
    assert receipt["status"] == 1
    return receipt


async def refused(w3, sender: str, to: str, data: str) -> str:
    """The custom error a call from ``sender`` reverts with (simulated: nothing is sent)."""
    with pytest.raises(ChainRevertError) as info, chain_errors("call"):
        await w3.eth.call({"from": sender, "to": to, "data": data})
    return info.value.error_name or ""


async def test_two_users_get_different_vaults_and_registering_again_gives_the_same(access, vaults, w3) -> None:
    alice, bob = vaults["alice"], vaults["bob"]
    assert alice.address != bob.address
    assert alice.created and bob.created
    assert alice.address == user_vault_address("alice", OPERATOR)  # derivable from the user alone
    again = await access.register("alice", ALICE_WALLET)
    assert again.address == alice.address and not again.created
    for vault, wallet in ((alice, ALICE_WALLET), (bob, BOB_WALLET)):
        c = w3.eth.contract(address=vault.address, abi=load_artifact("AgentVault").abi)
        assert await c.functions.owner().call() == wallet
        assert await c.functions.operator().call() == OPERATOR
        assert await c.functions.dailyLimit(ETH_ADDRESS).call() == ETH  # the configured defaults
        slot = await w3.eth.get_storage_at(vault.address, ERC1967_IMPLEMENTATION_SLOT)
        assert (
            "0x" + bytes(slot)[-20:].hex()
            == create2_address(SALTS["AgentVaultV3"], load_artifact("AgentVaultV3").initcode).lower()
        )  # the v1 proxy's address, upgraded to V3 before it was handed over
    with pytest.raises(ConflictError, match="already owned by"):
        await access.register("alice", BOB_WALLET)
    for not_a_wallet in (OPERATOR, ETH_ADDRESS):  # the platform would keep control: refused before any tx
        with pytest.raises(BadInputError, match="must be your own wallet"):
            await access.register("dave", not_a_wallet)
    assert await w3.eth.get_code(user_vault_address("dave", OPERATOR)) == b""


async def test_only_the_owners_wallet_controls_the_vault(vaults, w3) -> None:
    vault = vaults["alice"].address
    c = w3.eth.contract(address=vault, abi=load_artifact("AgentVault").abi)
    await send(w3, {"from": ALICE_WALLET, "to": vault, "value": 2 * ETH})
    owner_only = {
        "setDailyLimit": c.encode_abi("setDailyLimit", [ETH_ADDRESS, 100 * ETH]),
        "withdraw": c.encode_abi("withdraw", [ETH_ADDRESS, STRANGER, ETH]),
        "setOperator": c.encode_abi("setOperator", [STRANGER]),
        "transferOwnership": c.encode_abi("transferOwnership", [STRANGER]),
        "upgradeToAndCall": c.encode_abi(
            "upgradeToAndCall", [create2_address(SALTS["AgentVaultV2"], load_artifact("AgentVaultV2").initcode), b""]
        ),
    }
    for name, data in owner_only.items():
        for sender in (OPERATOR, STRANGER, BOB_WALLET):  # the platform's operator, a stranger, another user
            assert await refused(w3, sender, vault, data) == "OwnableUnauthorizedAccount", (name, sender)
    # the operator may only spend within today's limit, once per reference
    too_much = c.encode_abi("spend", [reference_from_key("big"), ETH_ADDRESS, PAYEE, ETH + 1])
    assert await refused(w3, OPERATOR, vault, too_much) == "LimitExceeded"
    assert await refused(w3, STRANGER, vault, c.encode_abi("spend", [b"\1" * 32, ETH_ADDRESS, PAYEE, 1])) == (
        "NotOperator"
    )
    # the owner's wallet can raise the limit and withdraw
    await send(w3, {"from": ALICE_WALLET, "to": vault, "data": owner_only["setDailyLimit"]})
    assert await c.functions.dailyLimit(ETH_ADDRESS).call() == 100 * ETH
    await send(w3, {"from": ALICE_WALLET, "to": vault, "data": c.encode_abi("setDailyLimit", [ETH_ADDRESS, ETH])})
    before = await w3.eth.get_balance(PAYEE)
    await send(w3, {"from": ALICE_WALLET, "to": vault, "data": c.encode_abi("withdraw", [ETH_ADDRESS, PAYEE, ETH])})
    assert await w3.eth.get_balance(PAYEE) - before == ETH


async def test_the_tools_act_on_the_callers_own_vault_only(access, vaults, w3) -> None:
    tools = load_tools()
    alice, bob = vaults["alice"].address, vaults["bob"].address
    await send(w3, {"from": ALICE_WALLET, "to": alice, "value": ETH})
    status_tool, transfer_tool = tools.get("vault_status"), tools.get("transfer")

    mine = await status_tool.func(status_tool.args_model(), ctx(access, "bob"))
    assert isinstance(mine, ToolResult) and bob in mine.output and alice not in mine.output
    balance_tool = tools.get("get_balance")
    bobs = await balance_tool.func(balance_tool.args_model(), ctx(access, "bob"))
    assert isinstance(bobs, ToolResult) and bobs.data["address"] == bob and bobs.output == "Your vault holds 0 ETH."

    for tool, fields in (
        (status_tool, {}),
        (balance_tool, {}),
        (transfer_tool, {"to": PAYEE, "amount": "0.01"}),
    ):
        with pytest.raises(NoVaultError, match="POST /v1/vault"):
            await tool.func(tool.args_model(**fields), ctx(access, "mallory"))

    before = {a: await w3.eth.get_balance(a) for a in (alice, bob, PAYEE)}
    args = transfer_tool.args_model(to=PAYEE, amount="0.01")
    done = await transfer_tool.func(args, ctx(access, "alice", key="alice-transfer-1"))
    assert isinstance(done, ToolResult) and "transaction 0x" in done.output
    moved = {a: await w3.eth.get_balance(a) - before[a] for a in before}
    assert moved == {alice: -(10**16), bob: 0, PAYEE: 10**16}
    # bob's transfer comes from bob's (empty) vault, never alice's
    with pytest.raises(ChainRevertError, match="not enough funds in the vault"):
        await transfer_tool.func(args, ctx(access, "bob", key="bob-transfer-1"))
    assert await w3.eth.get_balance(alice) == before[alice] - 10**16


async def test_upgrade_upgrades_only_the_vaults_the_key_owns(anvil, vaults, deployment, data_dir, w3) -> None:
    result = await upgrade(anvil.rpc_url, data_dir, vaults=[vaults["alice"].address])
    assert result["vault"] == deployment["vault"] and result["version"] == "2"
    assert vaults["alice"].address in result["skipped"]  # alice's wallet owns it, not anvil account 0
    c = w3.eth.contract(address=vaults["alice"].address, abi=load_artifact("AgentVault").abi)
    assert await c.functions.version().call() == "3"  # registration made it V3 (pause switch, time lock)
    # with alice's own key (anvil account 4, published) her vault is upgraded, the platform's is not
    mine = await upgrade(anvil.rpc_url, data_dir, owner_key=SecretStr(ALICE_KEY), vaults=[vaults["alice"].address])
    assert mine["vaults"][vaults["alice"].address]["version"] == "2"
    assert deployment["vault"] in mine["skipped"]
    assert await c.functions.owner().call() == ALICE_WALLET


def test_settings_have_default_vault_limits() -> None:
    assert Settings.model_fields["chain_vault_daily_limits"].get_default(call_default_factory=True) == {
        "ETH": Decimal(1),
        "TUSD": Decimal(1000),
    }


async def test_a_vault_followed_late_still_delivers_its_earlier_deposits_once(vaults, deployment, w3, tmp_path) -> None:
    bob = vaults["bob"]
    got: list[ChainEvent] = []

    def listener() -> EventListener:
        it = EventListener(w3, deployment, tmp_path, name="late")

        @it.on("AgentVault", "Deposited")
        async def collect(event: ChainEvent) -> None:
            got.append(event)

        return it

    first = listener()
    await first.poll_once()  # the cursor starts at the head
    receipt = await send(w3, {"from": BOB_WALLET, "to": bob.address, "value": 12345})
    await first.poll_once()
    assert got == []  # not followed yet: its blocks were scanned without it
    first.follow("AgentVault", bob.address, bob.from_block)
    for _ in range(20):  # the rescan from the vault's creation block may take more than one range
        await first.poll_once()
        if got:
            break
    assert [(e.address, e.args["amount"]) for e in got] == [(bob.address, 12345)]
    assert got[0].tx_hash == "0x" + bytes(receipt["transactionHash"]).hex()

    # restarted (state file kept): the vault is known as followed, nothing is scanned or delivered again
    second = listener()
    second.follow("AgentVault", bob.address, bob.from_block)
    await second.poll_once()
    assert len(got) == 1
