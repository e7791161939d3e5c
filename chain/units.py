"""Amounts and addresses from users: Decimal <-> integer base units, checksum addresses.

Never float: a float cannot represent 0.1 exactly, and money must not drift. Every
rejection is a BadInputError whose message tells the user what to fix.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from eth_typing import ChecksumAddress
from eth_utils import is_address, is_checksum_address, to_checksum_address

from core.errors import BadInputError

#: Larger whole-unit amounts than this are certainly a typo (a pasted address, a base-unit
#: value passed as a human amount); refusing them beats a confusing on-chain revert.
MAX_AMOUNT = Decimal(10) ** 15
UINT256_MAX = 2**256 - 1
#: The pseudo token address that stands for native ETH (AgentVault.ETH = address(0)).
ETH_ADDRESS = "0x" + "00" * 20


def parse_amount(value: object) -> Decimal:
    """Turn user input into a finite Decimal; floats are refused on purpose."""
    if isinstance(value, bool) or isinstance(value, float):
        raise BadInputError(f"amount {value!r}: give a decimal string such as '1.5', not a {type(value).__name__}")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int | str):
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise BadInputError(f"amount {value!r} is not a number") from None
    else:
        raise BadInputError(f"amount {value!r}: expected a decimal number, got {type(value).__name__}")
    if not amount.is_finite():
        raise BadInputError(f"amount {value!r} is not a finite number")
    return amount


def to_base_units(value: Decimal | str | int, decimals: int, *, allow_zero: bool = False) -> int:
    """Convert a human amount (e.g. Decimal("1.5") ETH) to integer base units (wei)."""
    amount = parse_amount(value)
    shown = value.strip() if isinstance(value, str) else format(amount, "f")  # as typed, never 1E-19
    if amount < 0:
        raise BadInputError(f"amount {shown} is negative; amounts must be positive")
    if amount == 0 and not allow_zero:
        raise BadInputError("amount must be greater than zero")
    if amount > MAX_AMOUNT:
        raise BadInputError(f"amount {shown} is absurdly large (more than {MAX_AMOUNT:,.0f}); check the number")
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise BadInputError(f"amount {shown} has more than {decimals} decimal places")
    base = int(scaled)
    if base > UINT256_MAX:
        raise BadInputError(f"amount {shown} does not fit in 256 bits")
    return base


def from_base_units(value: int, decimals: int) -> Decimal:
    """Integer base units to a Decimal in whole units, exact (no rounding)."""
    amount = Decimal(int(value)).scaleb(-decimals)
    # normalize() alone would print 100 as 1E+2; keep integers plain and drop trailing zeros otherwise
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount.normalize()


def checksum_address(value: str, what: str = "address") -> ChecksumAddress:
    """Validate an EVM address; return it checksummed.

    All-lowercase (or all-uppercase) input is accepted and checksummed; mixed case must be a
    valid EIP-55 checksum, since a wrong checksum usually means a mistyped character.
    """
    if not isinstance(value, str) or not is_address(value.strip().lower()):
        raise BadInputError(f"{what} {value!r} is not a valid address (expected 0x followed by 40 hex digits)")
    value = value.strip()
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise BadInputError(f"{what} {value!r} has a wrong checksum (mixed case that does not match EIP-55)")
    return to_checksum_address(value)
