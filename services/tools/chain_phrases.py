"""How the offline model understands the chain tools (core/llm/phrasebook.py): prices, balances, the
vault's limits, transfers, and "convert 2 ETH to USD" in steps (the price, then the calculator)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.llm.phrasebook import PHRASEBOOK, Intent, Results

SYMBOL_ALIASES = {"bitcoin": "BTC", "bitcoins": "BTC", "xbt": "BTC", "ether": "ETH", "ethereum": "ETH", "eth": "ETH"}


def normalize_symbol(word: str) -> str:
    """The token symbol for a name people use (bitcoin -> BTC, ether -> ETH), else the word upper-cased."""
    return SYMBOL_ALIASES.get(word.lower(), word.upper())


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}\b")
_AMOUNT_TOKEN = re.compile(r"(-?\d+(?:\.\d+)?(?:e\d+)?)\s*([A-Za-z][A-Za-z0-9]{1,10})", re.I)
#: names people use for a token -> its symbol
_ALIAS_WORD = re.compile(rf"\b({'|'.join(SYMBOL_ALIASES)})\b", re.I)
# "2 eth in usd", "convert 0.5 bitcoin to dollars", "how much are 3 ETH worth"
_CONVERSION = re.compile(
    r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<symbol>[a-z][a-z0-9]{1,9})\b(?:\s+(?:is|are))?\s*"
    r"(?:(?:to|in|into)\s+(?:usd|us\s+dollars?|dollars?)\b|(?:to|in|into)\s+\$|worth\b)",
    re.I,
)


@dataclass(frozen=True)
class Conversion:
    """A request to value an amount of a token in USD: the price tool, then the calculator."""

    amount: str
    symbol: str


def parse_conversion(text: str) -> Conversion | None:
    """``"convert 2 eth to usd"``, ``"what is 2 eth in usd?"`` -> Conversion("2", "ETH")."""
    m = _CONVERSION.search(text)
    if not m or m.group("symbol").lower() in ("usd", "dollars", "dollar"):
        return None
    return Conversion(m.group("amount"), normalize_symbol(m.group("symbol")))


def _price_symbol(text: str) -> str | None:
    named = re.search(r"\b(?:of|for)\s+(?:an?\s+|one\s+)?([A-Za-z]{2,10})\b", text)
    found = named or _ALIAS_WORD.search(text) or re.search(r"\b([A-Z]{2,10})\b", text)
    return normalize_symbol(found.group(1)) if found else None


@PHRASEBOOK.understands("get_token_price", help='token prices ("what is the price of ETH?")', order=30)
def _price(text: str, available: set[str]) -> Intent | None:
    if conversion := parse_conversion(text):
        return Intent("get_token_price", {"symbol": conversion.symbol})
    if re.search(r"\bprice\b|\bworth\b|\bcost\b", text.lower()) and (sym := _price_symbol(text)):
        return Intent("get_token_price", {"symbol": sym})
    return None


@PHRASEBOOK.understands("get_balance", help='balances ("what\'s my balance?")', order=50)
def _balance(text: str, available: set[str]) -> Intent | None:
    if "balance" not in text.lower():
        return None
    args: dict[str, Any] = {}
    if addr := _ADDRESS.search(text):
        args["address"] = addr.group(0)
    if tok := re.search(r"\b(ETH|TUSD|[A-Z]{3,6})\b", text.replace("ETH's", "ETH")):
        args["token"] = tok.group(1)  # a token named: that one; none: every token it holds
    return Intent("get_balance", args)


@PHRASEBOOK.understands("vault_status", help='your vault\'s limits ("vault status")', order=40)
def _vault_status(text: str, available: set[str]) -> Intent | None:
    asks = re.search(r"\bvault\b.*\b(status|limit|limits)\b|\bspent today\b|\bspend(ing)? limits?\b", text.lower())
    return Intent("vault_status", {}) if asks else None


@PHRASEBOOK.understands(
    "transfer", help='transfers from your vault, after your approval ("send 0.05 ETH to 0x...")', order=20
)
def _transfer(text: str, available: set[str]) -> Intent | None:
    m = re.search(r"\b(send|transfer|pay)\b", text, re.I)
    if not m:
        return None
    rest = text[m.end() :]
    am = _AMOUNT_TOKEN.search(rest)
    to = re.search(r"\bto\s+(\S+)", rest, re.I)
    if not am or not to or am.group(2).lower() == "to":  # "send 5 to 0x..." names no token
        return None
    to_address = to.group(1).rstrip(".,!?")
    return Intent("transfer", {"to": to_address, "amount": am.group(1), "token": normalize_symbol(am.group(2))})


def _dollars(text: str, pattern: str) -> Decimal | None:
    m = re.search(pattern, text)
    try:
        return Decimal(m.group(1).replace(",", "")) if m else None
    except InvalidOperation:
        return None


@PHRASEBOOK.follows_up("get_token_price")
def _conversion_step(user: str, results: Results, available: set[str]) -> Intent | str | None:
    """Next step of "convert 2 ETH to USD": the calculator on the price, then the answer in words."""
    conversion = parse_conversion(user)
    prices = [r for name, r in results if name == "get_token_price"]
    price = _dollars(prices[-1], r"\$([\d,]+(?:\.\d+)?)") if conversion and prices else None
    if conversion is None or price is None or "calculator" not in available:
        return None
    done = [r for name, r in results if name == "calculator"]
    if not done:
        return Intent("calculator", {"expression": f"{conversion.amount} * {price}"})
    value = _dollars(done[-1], r"=\s*(-?[\d,]+(?:\.\d+)?)\s*$")
    if value is None:
        return done[-1]
    return (
        f"{conversion.amount} {conversion.symbol} is ${value:,.2f} "
        f"(at ${price:,.2f} per {conversion.symbol}, on-chain price feed)."
    )
