"""Deploy and upgrade the vault through the CREATE2 deterministic deployer; idempotent.

Every contract is created by the factory anvil pre-installs at 0x4e59...956c with a fixed salt,
so its address depends only on the chain, the salt and the init code. A second deploy (another
process, another data dir) computes the same addresses, finds code there and reuses it. The
addresses are recorded per chain id in ``<data_dir>/deployments.json``.

On the local chain (31337) anvil account 0 owns the vault and account 1 operates it; the demo
token and price feeds are deployed too, and the vault is funded and given daily limits.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils import keccak, to_checksum_address
from pydantic import SecretStr
from web3 import AsyncWeb3

from chain.accounts import LOCAL_CHAIN_ID, LOCAL_OPERATOR, LOCAL_OWNER, Signer, anvil_signer, signer_from_key
from chain.artifacts import Artifact, load_artifact
from chain.client import chain_errors, close_web3, make_web3
from chain.nonces import NonceManager
from chain.tx import transact
from chain.units import ETH_ADDRESS, checksum_address, to_base_units
from core.errors import BadInputError, ChainError, ConfigError, PermanentError
from core.files import write_json_atomic

CREATE2_DEPLOYER = to_checksum_address("0x4e59b44847b379578588920ca78fbf26c0b4956c")
ERC1967_IMPLEMENTATION_SLOT = 0x360894A13BA1A3210667C828492DB98DCA3E2076CC3735A920A3CA505D382BBC
DEPLOYMENTS_FILE = "deployments.json"

# Fixed salts: changing one moves that contract to a new address on every chain.
SALTS = {
    "AgentVault": keccak(text="impressox.AgentVault.implementation.v1"),
    "AgentVaultV2": keccak(text="impressox.AgentVault.implementation.v2"),
    "AgentVaultV3": keccak(text="impressox.AgentVault.implementation.v3"),
    "proxy": keccak(text="impressox.AgentVault.proxy.v1"),
    "TestToken": keccak(text="impressox.TestToken.v1"),
    "feed:ETH": keccak(text="impressox.MockPriceFeed.ETH-USD.v1"),
    "feed:BTC": keccak(text="impressox.MockPriceFeed.BTC-USD.v1"),
    "feed:TUSD": keccak(text="impressox.MockPriceFeed.TUSD-USD.v1"),
}

# Local demo setup: prices (8 decimals like Chainlink's USD feeds), funding and daily limits.
FEED_DECIMALS = 8
LOCAL_FEEDS = {"ETH": Decimal("3000.00"), "BTC": Decimal("60000.00"), "TUSD": Decimal("1.00")}
TOKEN_SUPPLY = Decimal(1_000_000_000)
FUND_ETH = Decimal(100)
FUND_TUSD = Decimal(1_000_000)
LIMIT_ETH = Decimal(1)
LIMIT_TUSD = Decimal(1_000)


class DeployError(ChainError, PermanentError):
    """The chain cannot take this deployment (no CREATE2 factory, missing owner key, ...)."""


def create2_address(salt: bytes, initcode: bytes, deployer: str = CREATE2_DEPLOYER) -> ChecksumAddress:
    raw = keccak(b"\xff" + bytes.fromhex(deployer[2:]) + salt + keccak(initcode))[12:]
    return checksum_address("0x" + raw.hex())


def _initcode(artifact: Artifact, types: list[str] | None = None, args: list[Any] | None = None) -> bytes:
    return artifact.initcode + (abi_encode(types, args or []) if types else b"")


async def _has_code(w3: AsyncWeb3, address: ChecksumAddress) -> bool:
    with chain_errors(f"read code at {address}"):
        return len(await w3.eth.get_code(address)) > 0


async def _create2(
    w3: AsyncWeb3, signer: Signer, nonces: NonceManager, salt: bytes, initcode: bytes, what: str
) -> tuple[ChecksumAddress, bool]:
    """Deploy ``initcode`` at its CREATE2 address unless code is there; return (address, created)."""
    address = create2_address(salt, initcode)
    if await _has_code(w3, address):
        return address, False
    await transact(
        w3,
        signer,
        {"to": CREATE2_DEPLOYER, "data": salt + initcode},
        action=f"deploy {what}",
        nonces=nonces,
    )
    if not await _has_code(w3, address):
        raise DeployError(f"deploy {what}: the CREATE2 factory left no code at {address}")
    return address, True


async def _creation_block(w3: AsyncWeb3, address: ChecksumAddress) -> int:
    """The first block with code at ``address`` (binary search), where log queries can start."""
    with chain_errors("find creation block"):
        lo, hi = 0, int(await w3.eth.block_number)
    try:
        while lo < hi:
            mid = (lo + hi) // 2
            if len(await w3.eth.get_code(address, block_identifier=mid)) > 0:
                hi = mid
            else:
                lo = mid + 1
    except Exception:  # noqa: BLE001 - no historical state (e.g. anvil reloaded from --state): scan from 0
        return 0
    return lo


def _contract(w3: AsyncWeb3, name: str, address: ChecksumAddress) -> Any:
    return w3.eth.contract(address=address, abi=load_artifact(name).abi)


def read_deployments(data_dir: Path) -> dict[str, Any]:
    path = Path(data_dir) / DEPLOYMENTS_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


def deployment_for(data_dir: Path, chain_id: int) -> dict[str, Any] | None:
    """The recorded deployment for ``chain_id``, or None if this data dir has none."""
    return read_deployments(data_dir).get(str(chain_id))


def _write_deployment(data_dir: Path, chain_id: int, record: dict[str, Any]) -> None:
    """Merge one chain's record into deployments.json atomically (temp file + rename)."""
    data_dir = Path(data_dir)
    all_records = read_deployments(data_dir)
    all_records[str(chain_id)] = record
    write_json_atomic(data_dir / DEPLOYMENTS_FILE, all_records, indent=2, sort_keys=True)


async def _require_factory(w3: AsyncWeb3) -> None:
    if not await _has_code(w3, CREATE2_DEPLOYER):
        raise DeployError(
            f"no CREATE2 deterministic deployer at {CREATE2_DEPLOYER} on this chain; deploy it first "
            "(see github.com/Arachnid/deterministic-deployment-proxy)"
        )


async def deploy(
    rpc_url: str,
    data_dir: Path | str,
    *,
    deployer_key: SecretStr | None = None,
    owner: str | None = None,
    operator: str | None = None,
    price_feeds: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Deploy (or find) the vault proxy and its implementation; return the deployment record.

    Local chain: no key needed (anvil accounts 0/1), demo token and feeds included. Other chains:
    ``deployer_key`` pays for the deployment, ``owner`` defaults to the deployer's address and
    ``operator`` is required; ``price_feeds`` maps symbols to existing AggregatorV3 feeds.
    """
    w3 = make_web3(rpc_url)
    try:
        return await _deploy(w3, Path(data_dir), deployer_key, owner, operator, price_feeds)
    finally:
        await close_web3(w3)


async def _deploy(
    w3: AsyncWeb3,
    data_dir: Path,
    deployer_key: SecretStr | None,
    owner: str | None,
    operator: str | None,
    price_feeds: dict[str, str] | None,
) -> dict[str, Any]:
    with chain_errors("read chain id"):
        chain_id = await w3.eth.chain_id
    local = chain_id == LOCAL_CHAIN_ID
    if deployer_key is not None:
        signer = signer_from_key(deployer_key)
    elif local:
        signer = anvil_signer(0)
    else:
        raise ConfigError(f"chain {chain_id} is not the local chain: a deployer key is required")
    owner = checksum_address(owner, "owner") if owner else (LOCAL_OWNER.address if local else signer.address)
    if operator:
        operator = checksum_address(operator, "operator")
    elif local:
        operator = LOCAL_OPERATOR.address
    else:
        raise BadInputError(f"chain {chain_id} is not the local chain: give the operator address")
    await _require_factory(w3)
    nonces = NonceManager(w3)

    impl, _ = await _create2(
        w3,
        signer,
        nonces,
        SALTS["AgentVault"],
        load_artifact("AgentVault").initcode,
        "AgentVault implementation",
    )
    vault_abi = load_artifact("AgentVault").abi
    init_data = w3.eth.contract(abi=vault_abi).encode_abi("initialize", args=[owner, operator])
    proxy_code = _initcode(load_artifact("ERC1967Proxy"), ["address", "bytes"], [impl, bytes.fromhex(init_data[2:])])
    vault, created = await _create2(w3, signer, nonces, SALTS["proxy"], proxy_code, "AgentVault proxy")

    record: dict[str, Any] = {
        "chain_id": chain_id,
        "vault": vault,
        "owner": owner,
        "operator": operator,
        "deployer": signer.address,
        "create2_deployer": CREATE2_DEPLOYER,
        "created": created,
    }
    if local:
        record.update(await _deploy_local_extras(w3, signer, nonces, vault))
    elif price_feeds:
        record["price_feeds"] = {s.upper(): checksum_address(a, f"{s} price feed") for s, a in price_feeds.items()}
    record.update(await _read_vault_state(w3, vault))
    known = deployment_for(data_dir, chain_id) or {}
    if not created and known.get("vault") == vault and "deployed_block" in known:
        record["deployed_block"] = known["deployed_block"]
    else:
        record["deployed_block"] = await _creation_block(w3, vault)
    _write_deployment(data_dir, chain_id, record)
    return record


async def _read_vault_state(w3: AsyncWeb3, vault: ChecksumAddress) -> dict[str, Any]:
    """What the chain says now: implementation (ERC1967 slot), owner, operator, version."""
    c = _contract(w3, "AgentVault", vault)
    with chain_errors("read vault"):
        slot = await w3.eth.get_storage_at(vault, ERC1967_IMPLEMENTATION_SLOT)
        return {
            "implementation": checksum_address("0x" + bytes(slot)[-20:].hex()),
            "owner": await c.functions.owner().call(),
            "operator": await c.functions.operator().call(),
            "version": await c.functions.version().call(),
        }


async def _deploy_local_extras(
    w3: AsyncWeb3, signer: Signer, nonces: NonceManager, vault: ChecksumAddress
) -> dict[str, Any]:
    """LOCAL CHAIN ONLY: TestToken, mock price feeds, and (once) funding plus daily limits."""
    token, _ = await _create2(
        w3,
        signer,
        nonces,
        SALTS["TestToken"],
        _initcode(
            load_artifact("TestToken"),
            ["address", "uint256"],
            [signer.address, to_base_units(TOKEN_SUPPLY, 18)],
        ),
        "TestToken",
    )
    feeds: dict[str, str] = {}
    for symbol, price in LOCAL_FEEDS.items():
        feeds[symbol], _ = await _create2(
            w3,
            signer,
            nonces,
            SALTS[f"feed:{symbol}"],
            _initcode(
                load_artifact("MockPriceFeed"),
                ["address", "uint8", "string", "int256"],
                [signer.address, FEED_DECIMALS, f"{symbol} / USD", to_base_units(price, FEED_DECIMALS)],
            ),
            f"{symbol}/USD price feed",
        )
    vault_c = _contract(w3, "AgentVault", vault)
    with chain_errors("read vault limits"):
        configured = await vault_c.functions.dailyLimit(token).call() > 0
    # Limits are set last, so "no TUSD limit yet" means the first deploy's setup never finished:
    # (re)run it. A later deploy never funds again.
    if not configured:
        await transact(
            w3,
            signer,
            {"to": vault, "value": to_base_units(FUND_ETH, 18)},
            action="fund vault with ETH",
            nonces=nonces,
        )
        token_c = _contract(w3, "TestToken", token)
        fund = to_base_units(FUND_TUSD, 18)
        await transact(
            w3,
            signer,
            {"to": token, "data": token_c.encode_abi("approve", args=[vault, fund])},
            action="approve TUSD",
            nonces=nonces,
        )
        await transact(
            w3,
            signer,
            {"to": vault, "data": vault_c.encode_abi("depositToken", args=[token, fund])},
            action="fund vault with TUSD",
            nonces=nonces,
        )
        for addr, limit in ((ETH_ADDRESS, LIMIT_ETH), (token, LIMIT_TUSD)):
            await transact(
                w3,
                signer,
                {
                    "to": vault,
                    "data": vault_c.encode_abi(
                        "setDailyLimit", args=[checksum_address(addr), to_base_units(limit, 18)]
                    ),
                },
                action="set daily limit",
                nonces=nonces,
            )
    return {"token": token, "tokens": {"TUSD": token}, "price_feeds": feeds, "funded": not configured}


async def upgrade(
    rpc_url: str,
    data_dir: Path | str,
    *,
    owner_key: SecretStr | None = None,
    implementation: str = "AgentVaultV2",
    vaults: list[str] | None = None,
) -> dict[str, Any]:
    """Deploy ``implementation`` (CREATE2, idempotent) and point the vault proxies this key owns at it.

    The vaults are the recorded one for this chain (else the deterministic address ``deploy``
    would use) and ``vaults`` (e.g. users' own vaults). Only a vault's owner may upgrade it: on
    the local chain the key is anvil account 0; elsewhere pass ``owner_key``. A vault owned by
    someone else is skipped and listed under ``skipped``. Re-running once upgraded changes nothing.
    """
    w3 = make_web3(rpc_url)
    try:
        with chain_errors("read chain id"):
            chain_id = await w3.eth.chain_id
        record = deployment_for(Path(data_dir), chain_id)
        if record is None:
            if chain_id != LOCAL_CHAIN_ID:
                raise ConfigError(f"no deployment recorded for chain {chain_id} in {data_dir}: run deploy first")
            record = await _deploy(w3, Path(data_dir), None, None, None, None)
        if owner_key is not None:
            signer = signer_from_key(owner_key)
        elif chain_id == LOCAL_CHAIN_ID:
            signer = anvil_signer(0)
        else:
            raise ConfigError(f"chain {chain_id} is not the local chain: the owner key is required to upgrade")
        await _require_factory(w3)
        nonces = NonceManager(w3)
        new_impl, _ = await _create2(
            w3,
            signer,
            nonces,
            SALTS[implementation],
            load_artifact(implementation).initcode,
            f"{implementation} implementation",
        )
        results: dict[str, dict[str, Any]] = {}
        skipped: dict[str, str] = {}
        for vault in dict.fromkeys([record["vault"], *(checksum_address(v, "vault") for v in vaults or [])]):
            if not await _has_code(w3, vault):
                raise DeployError(f"no vault at {vault} on chain {chain_id}: run deploy first")
            before = await _read_vault_state(w3, vault)
            if before["owner"] != signer.address:
                skipped[vault] = f"owned by {before['owner']}, not by {signer.address}"
                continue
            upgraded = False
            if before["implementation"] != new_impl:
                c = _contract(w3, "AgentVault", vault)
                await transact(
                    w3,
                    signer,
                    {"to": vault, "data": c.encode_abi("upgradeToAndCall", args=[new_impl, b""])},
                    action=f"upgrade vault {vault} to {implementation}",
                    nonces=nonces,
                )
                upgraded = True
            results[vault] = {
                **await _read_vault_state(w3, vault),
                "previous_implementation": before["implementation"],
                "upgraded": upgraded,
            }
        if record["vault"] in results:
            record.update(results[record["vault"]])
            _write_deployment(Path(data_dir), chain_id, record)
        else:
            record["upgraded"] = False
        if vaults:
            record["vaults"] = results
        if skipped:
            record["skipped"] = skipped
        return record
    finally:
        await close_web3(w3)
