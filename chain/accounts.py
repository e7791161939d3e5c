"""Signers: anvil's well-known dev accounts, and the operator key from a keystore or a SecretStr.

A :class:`Signer` holds the private key privately: its repr shows only the address, it has no
accessor for the key, and nothing here logs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from pydantic import SecretStr

from core.errors import ConfigError

LOCAL_CHAIN_ID = 31337


@dataclass(frozen=True)
class DevAccount:
    address: str
    private_key: str

    def __repr__(self) -> str:
        return f"DevAccount({self.address})"


# LOCAL CHAIN ONLY. These are the first four accounts anvil (and hardhat) derive from the
# public test mnemonic "test test ... junk". Their keys are published everywhere: anything
# sent to them on a real chain is stolen within seconds. Use them only with chain id 31337.
ANVIL_ACCOUNTS: tuple[DevAccount, ...] = (
    DevAccount(
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    DevAccount(
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    DevAccount(
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
    DevAccount(
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ),
)
#: On the local chain: account 0 owns the vault (and deploys), account 1 is the operator.
LOCAL_OWNER = ANVIL_ACCOUNTS[0]
LOCAL_OPERATOR = ANVIL_ACCOUNTS[1]


class Signer:
    """Signs transactions for one address; the key never leaves this object."""

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> ChecksumAddress:
        return self._account.address

    def sign_transaction(self, tx: dict[str, Any]) -> tuple[bytes, bytes]:
        """Return (raw signed transaction, transaction hash)."""
        signed = self._account.sign_transaction(tx)
        return bytes(signed.raw_transaction), bytes(signed.hash)

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # refuse pickling: a pickled signer would carry the key into workflow payloads or logs
        raise TypeError("Signer cannot be pickled (it holds a private key)")


def signer_from_key(key: SecretStr | str) -> Signer:
    raw = key.get_secret_value() if isinstance(key, SecretStr) else key
    try:
        return Signer(Account.from_key(raw.strip()))
    except Exception:  # noqa: BLE001 - never echo the key (or its parse error) back
        raise ConfigError("the chain signer key is not a valid private key (32 bytes hex)") from None


def signer_from_keystore(path: Path, password: SecretStr | str) -> Signer:
    """Decrypt an Ethereum JSON keystore (as made by geth, cast or eth_account.Account.encrypt)."""
    secret = password.get_secret_value() if isinstance(password, SecretStr) else password
    try:
        keystore = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"keystore file {path} does not exist") from None
    except ValueError:
        raise ConfigError(f"keystore file {path} is not valid JSON") from None
    try:
        key = Account.decrypt(keystore, secret)
    except ValueError:
        raise ConfigError(f"cannot decrypt keystore {path}: wrong password or corrupt file") from None
    return Signer(Account.from_key(key))


def anvil_signer(index: int) -> Signer:
    """LOCAL CHAIN ONLY: the signer of anvil's default account ``index`` (0..3)."""
    return Signer(Account.from_key(ANVIL_ACCOUNTS[index].private_key))


def load_operator_signer(
    *,
    key: SecretStr | None = None,
    keystore_file: Path | None = None,
    keystore_password: SecretStr | None = None,
    chain_id: int | None = None,
) -> Signer | None:
    """The operator signer from configuration: keystore first, then a raw key.

    With neither configured, the local chain (31337) falls back to anvil account 1, the
    operator that deploy.py sets there; any other chain gets None (read-only service).
    """
    if keystore_file is not None:
        if keystore_password is None:
            raise ConfigError("chain_keystore_file is set but chain_keystore_password is not")
        return signer_from_keystore(keystore_file, keystore_password)
    if key is not None:
        return signer_from_key(key)
    if chain_id == LOCAL_CHAIN_ID:
        return anvil_signer(1)
    return None


def operator_signer_from_settings(settings: Any, chain_id: int | None = None) -> Signer | None:
    """Shortcut over :func:`load_operator_signer` reading core.settings.Settings fields."""
    return load_operator_signer(
        key=settings.chain_operator_key,
        keystore_file=settings.chain_keystore_file,
        keystore_password=settings.chain_keystore_password,
        chain_id=chain_id,
    )
