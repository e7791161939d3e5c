"""One vault per platform user: a CREATE2 proxy whose address follows from the user's name.

Every user vault is an ERC1967 proxy made by the CREATE2 deterministic deployer with

* salt = keccak256("impressox.AgentVault.user.v1:" + user), and
* init code = ERC1967Proxy(AgentVault v1 implementation, initialize(registrar, operator)),

where the registrar is the platform's operator key. The init code does not depend on the
user's owner address, so the vault's address is known from the user alone (plus the platform's
fixed implementation and operator), whoever asks: API, worker or listener. The proxy is
initialised in its own constructor, so nobody can front-run ``initialize``; whoever pays for
the deployment, the vault starts owned by the platform. Registration then sets the default
daily limits and hands ownership to the user's own address (three more transactions, each
skipped when already done, so an interrupted registration is finished by the next attempt).
Once ownership moved, only the user's wallet can raise limits, withdraw or upgrade.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from eth_abi import encode as abi_encode
from eth_typing import ChecksumAddress
from eth_utils import function_signature_to_4byte_selector, keccak
from web3 import AsyncWeb3

from chain.accounts import Signer
from chain.artifacts import load_artifact
from chain.client import chain_errors
from chain.deploy import (
    CREATE2_DEPLOYER,
    ERC1967_IMPLEMENTATION_SLOT,
    SALTS,
    DeployError,
    _create2,
    _creation_block,
    create2_address,
)
from chain.nonces import NonceManager
from chain.tx import transact
from chain.units import ETH_ADDRESS, checksum_address, to_base_units
from core.errors import BadInputError, ConflictError
from core.vaults import UserVault

log = logging.getLogger(__name__)

SALT_PREFIX = "impressox.AgentVault.user.v1:"


def user_salt(user: str) -> bytes:
    if not isinstance(user, str) or not user:
        raise BadInputError("a vault needs a user name")
    return keccak(text=SALT_PREFIX + user)


def implementation_v1() -> str:
    """The AgentVault v1 implementation every user proxy starts on (deploy() puts it on chain)."""
    return create2_address(SALTS["AgentVault"], load_artifact("AgentVault").initcode)


def proxy_initcode(implementation: str, registrar: str, operator: str) -> bytes:
    """ERC1967Proxy(implementation, initialize(registrar, operator)): the same for every user."""
    init = function_signature_to_4byte_selector("initialize(address,address)") + abi_encode(
        ["address", "address"], [checksum_address(registrar), checksum_address(operator)]
    )
    args = abi_encode(["address", "bytes"], [checksum_address(implementation), init])
    return load_artifact("ERC1967Proxy").initcode + args


def user_vault_address(user: str, registrar: str, implementation: str | None = None) -> ChecksumAddress:
    """Where ``user``'s vault lives (or will live): it depends only on the user, the platform's
    registrar (= operator) address and the v1 implementation."""
    impl = implementation or implementation_v1()
    return create2_address(user_salt(user), proxy_initcode(impl, registrar, registrar))


async def _decimals(w3: AsyncWeb3, token: str) -> int:
    if token == ETH_ADDRESS:
        return 18
    erc20 = w3.eth.contract(address=checksum_address(token), abi=load_artifact("TestToken").abi)
    with chain_errors(f"read decimals of {token}"):
        return int(await erc20.functions.decimals().call())


async def read_owner(w3: AsyncWeb3, address: ChecksumAddress) -> str | None:
    """The vault's owner, or None when no vault is deployed at ``address``."""
    with chain_errors(f"read vault at {address}"):
        if len(await w3.eth.get_code(address)) == 0:
            return None
        vault = w3.eth.contract(address=address, abi=load_artifact("AgentVault").abi)
        return checksum_address(await vault.functions.owner().call())


async def _upgrade_to_v3(
    w3: AsyncWeb3, registrar: Signer, nonces: NonceManager, address: ChecksumAddress, user: str
) -> None:
    """While the platform still owns the new vault: point it at AgentVaultV3 (the freeze switch its
    user's API key can pull, the owner's time lock). The address stays the v1 proxy's, so it still
    follows from the user's name alone."""
    v3, _ = await _create2(
        w3, registrar, nonces, SALTS["AgentVaultV3"], load_artifact("AgentVaultV3").initcode, "AgentVaultV3"
    )
    with chain_errors("read vault implementation"):
        slot = await w3.eth.get_storage_at(address, ERC1967_IMPLEMENTATION_SLOT)
    if checksum_address("0x" + bytes(slot)[-20:].hex()) == v3:
        return
    vault = w3.eth.contract(address=address, abi=load_artifact("AgentVault").abi)
    await transact(
        w3,
        registrar,
        {"to": address, "data": vault.encode_abi("upgradeToAndCall", args=[v3, b""])},
        action=f"upgrade {user}'s vault to AgentVaultV3",
        nonces=nonces,
    )


async def register_user_vault(
    w3: AsyncWeb3,
    deployment: dict[str, Any],
    registrar: Signer,
    nonces: NonceManager,
    user: str,
    owner: str,
    limits: dict[str, Decimal],
) -> UserVault:
    """Deploy (or find) ``user``'s vault, set the default ``limits`` (symbol -> whole units) and
    make ``owner`` its owner. Idempotent; ConflictError when the vault already has another owner."""
    owner = checksum_address(owner, "owner_address")
    operator = registrar.address
    if owner in (operator, ETH_ADDRESS):
        # the operator as owner would leave the platform in full control of the user's money
        raise BadInputError(f"owner_address {owner} must be your own wallet, not the platform's operator or zero")
    implementation = implementation_v1()
    address = user_vault_address(user, operator, implementation)
    with chain_errors("read chain id"):
        chain_id = await w3.eth.chain_id
    current = await read_owner(w3, address)
    created = False
    if current is None:
        await transact(
            w3,
            registrar,
            {"to": CREATE2_DEPLOYER, "data": user_salt(user) + proxy_initcode(implementation, operator, operator)},
            action=f"deploy the vault of {user}",
            nonces=nonces,
        )
        current = await read_owner(w3, address)
        if current is None:
            raise DeployError(f"deploy the vault of {user}: the CREATE2 factory left no code at {address}")
        created = True
    if current != registrar.address and current != owner:
        raise ConflictError(
            f"the vault of {user} ({address}) is already owned by {current}; its owner can transfer it on-chain"
        )
    vault = w3.eth.contract(address=address, abi=load_artifact("AgentVault").abi)
    if current == registrar.address:  # registration not finished: V3, limits, then ownership
        await _upgrade_to_v3(w3, registrar, nonces, address, user)
        tokens = {"ETH": ETH_ADDRESS, **{s.upper(): a for s, a in (deployment.get("tokens") or {}).items()}}
        for symbol, limit in limits.items():
            token = tokens.get(symbol.upper())
            if token is None:
                log.warning("default limit for unknown token %s ignored", symbol)
                continue
            base = to_base_units(limit, await _decimals(w3, token), allow_zero=True)
            with chain_errors("read vault limit"):
                if await vault.functions.dailyLimit(checksum_address(token)).call() == base:
                    continue
            await transact(
                w3,
                registrar,
                {"to": address, "data": vault.encode_abi("setDailyLimit", args=[checksum_address(token), base])},
                action=f"set the {symbol} daily limit of {user}'s vault",
                nonces=nonces,
            )
        await transact(
            w3,
            registrar,
            {"to": address, "data": vault.encode_abi("transferOwnership", args=[owner])},
            action=f"hand {user}'s vault to its owner",
            nonces=nonces,
        )
    return UserVault(
        user=user,
        address=address,
        owner=owner,
        operator=operator,
        chain_id=chain_id,
        from_block=await _creation_block(w3, address),
        created=created,
    )
