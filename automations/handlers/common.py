"""Helpers the chain event handlers share: token metadata and short addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.exceptions import DecodingError
from web3 import exceptions as w3x

from chain.artifacts import load_artifact
from chain.client import chain_errors
from chain.units import ETH_ADDRESS, checksum_address
from core.errors import ChainRevertError


@dataclass(frozen=True)
class TokenInfo:
    symbol: str
    decimals: int | None  # None: unknown, amounts are shown in base units


def short(value: str, head: int = 6, tail: int = 4) -> str:
    """0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC -> 0x3C44…93BC"""
    return value if len(value) <= head + tail + 1 else f"{value[:head]}…{value[-tail:]}"


async def _optional_call(call: Any, action: str) -> Any:
    """An ERC-20 metadata read; None when the token does not implement it (a node outage still raises)."""
    try:
        with chain_errors(action):
            return await call.call()
    except (ChainRevertError, w3x.BadFunctionCallOutput, DecodingError):
        return None


async def token_info(ctx: Any, address: str) -> TokenInfo:
    """Symbol and decimals of a token (ETH for the zero address), read once per listener."""
    tokens: dict[str, TokenInfo] = ctx.memo.setdefault("tokens", {ETH_ADDRESS: TokenInfo("ETH", 18)})
    key = address.lower()
    if key not in tokens:
        known = {a.lower(): s.upper() for s, a in (ctx.deployment.get("tokens") or {}).items()}
        contract = ctx.w3.eth.contract(address=checksum_address(address, "token"), abi=load_artifact("TestToken").abi)
        decimals = await _optional_call(contract.functions.decimals(), f"read decimals of {address}")
        symbol = known.get(key) or await _optional_call(contract.functions.symbol(), f"read symbol of {address}")
        tokens[key] = TokenInfo(
            str(symbol) if symbol else short(checksum_address(address)),
            int(decimals) if decimals is not None else None,
        )
    return tokens[key]
