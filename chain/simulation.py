"""What a vault spend would do, worked out against the latest block before anyone approves it.

``simulate_spend`` runs the operator's ``spend`` as an ``eth_call`` and an ``estimateGas`` (nothing
is signed or sent) and reads the balances it moves, so the person approving sees the effect the
chain will have: the vault's and the recipient's balance before and after, the fee the platform's
operator pays, what is left of today's limit, and whether the call would revert (and why). Amounts
are decimal strings in the token's smallest unit (exact, never floats, never ``1E-19``); ``display``
holds the same amounts for people.

The vault pays exactly ``amount`` and the recipient receives exactly ``amount``: the gas is paid by
the operator, never by either of them, so the simulated balances equal the mined ones as long as
nothing else moves the two balances in between (which the re-simulation at approval time checks).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from web3 import exceptions as w3x
from web3.types import TxParams

from chain.client import chain_errors, decode_revert
from chain.units import ETH_ADDRESS, checksum_address, from_base_units, to_base_units
from core.errors import ImpressoxError

#: the vault's custom errors in the words a person reads
REVERT_WORDS = {
    "LimitExceeded": "that is over today's limit",
    "InsufficientBalance": "there are not enough funds in the vault",
    "NotOperator": "the platform's key is not this vault's operator",
    "ReferenceUsed": "this transfer was already made",
    "ZeroAddress": "the recipient is the zero address",
    "ZeroAmount": "the amount is zero",
    "EthTransferFailed": "the recipient does not accept ETH",
    "VaultPaused": "the vault is frozen; only its owner wallet can unfreeze it",
    "MustQueue": "the amount is above the vault's time-lock threshold",
}


def plain(amount: Decimal) -> str:
    """A decimal in positional notation, trailing zeros dropped: 1E-19 -> '0.0000000000000000001'."""
    text = format(amount, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def show(base: int, decimals: int, symbol: str) -> str:
    return f"{plain(from_base_units(base, decimals))} {symbol}"


async def _token_balance(vault: Any, holder: str, token: str) -> int:
    if token == ETH_ADDRESS:
        return int(await vault.w3.eth.get_balance(checksum_address(holder)))
    erc20 = vault.w3.eth.contract(address=checksum_address(token), abi=vault._erc20_abi)
    return int(await erc20.functions.balanceOf(checksum_address(holder)).call())


async def simulate_spend(
    vault: Any, reference: bytes, symbol: str, to: str, amount: Decimal | str, *, eth_usd: Decimal | None = None
) -> dict[str, Any]:
    """The simulated effect of ``vault.spend(reference, symbol, to, amount)`` (a VaultService)."""
    symbol = symbol.upper()
    token = vault.token_address(symbol)
    decimals = await vault._token_decimals(token)
    base = to_base_units(amount, decimals)
    recipient = checksum_address(to, "recipient")
    operator = vault.signer.address if vault.signer is not None else None
    f = vault.vault.functions
    with chain_errors("simulate the transfer"):
        block = await vault.w3.eth.get_block("latest")
        if operator is None:
            operator = await f.operator().call(block_identifier=block["number"])
        vault_before = await _token_balance(vault, vault.vault_address, token)
        to_before = await _token_balance(vault, recipient, token)
        limit = int(await f.dailyLimit(token).call())
        spent = int(await f.spentToday(token).call())
        gas_price = int(block.get("baseFeePerGas") or 0) + int(await vault.w3.eth.max_priority_fee)
    tx = {
        "from": operator,
        "to": vault.vault_address,
        "data": vault.vault.encode_abi("spend", [reference, token, recipient, base]),
    }
    will_revert, reason, error, gas = False, None, None, 0
    try:
        with chain_errors("simulate the transfer"):
            await vault.w3.eth.call(cast(TxParams, tx), block_identifier="latest")
            gas = int(await vault.w3.eth.estimate_gas(cast(TxParams, tx)))
    except w3x.ContractLogicError as exc:
        info = decode_revert(exc.data)
        will_revert, error = True, info.name if info else "Reverted"
        reason = REVERT_WORDS.get(error, f"the vault contract refused it ({error})")
    except ImpressoxError as exc:
        name = getattr(exc, "error_name", None)
        if not name:
            raise
        will_revert, error, reason = True, name, REVERT_WORDS.get(name, str(exc))
    fee = gas * gas_price
    fee_usd = (Decimal(fee).scaleb(-18) * eth_usd).quantize(Decimal("0.000001")) if eth_usd is not None else None
    moved = 0 if will_revert else base
    self_send = recipient == vault.vault_address
    left = max(limit - spent, 0)
    sim: dict[str, Any] = {
        "token": symbol,
        "token_address": token,
        "decimals": decimals,
        "amount": str(base),
        "block_number": int(block["number"]),
        "vault_balance_before": str(vault_before),
        "vault_balance_after": str(vault_before if self_send else vault_before - moved),
        "recipient_balance_before": str(to_before),
        "recipient_balance_after": str(to_before if self_send else to_before + moved),
        "fee_wei": str(fee),
        "fee_usd": plain(fee_usd) if fee_usd is not None else None,
        "gas": str(gas),
        "gas_price_wei": str(gas_price),
        "daily_limit_left_after": str(left - moved if left >= moved else 0),
        "will_revert": will_revert,
        "revert_reason": reason,
        "revert_error": error,
    }
    sim["display"] = {
        "amount": show(base, decimals, symbol),
        "vault_balance_before": show(vault_before, decimals, symbol),
        "vault_balance_after": show(int(sim["vault_balance_after"]), decimals, symbol),
        "recipient_balance_before": show(to_before, decimals, symbol),
        "recipient_balance_after": show(int(sim["recipient_balance_after"]), decimals, symbol),
        "fee": f"{show(fee, 18, 'ETH')}" + (f" (${plain(fee_usd)})" if fee_usd is not None else ""),
        "daily_limit_left_after": show(int(sim["daily_limit_left_after"]), decimals, symbol),
    }
    return sim
