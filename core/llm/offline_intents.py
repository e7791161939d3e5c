"""Plain-English intent parsing for the offline model: text in, (tool name, args) out.

Deterministic and dependency-free so the offline model is testable on its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.llm.offline_worker_intents import SYMBOL_ALIASES, normalize_symbol, parse_worker_intent

_NUMBER_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "hundred": "100",
    "thousand": "1000",
}
# longest phrases first so "multiplied by" wins over "by"
_OPERATOR_WORDS = [
    ("to the power of", "^"),
    ("raised to", "^"),
    ("multiplied by", "*"),
    ("divided by", "/"),
    ("plus", "+"),
    ("minus", "-"),
    ("times", "*"),
    ("over", "/"),
    ("mod", "%"),
    ("modulo", "%"),
    ("squared", "^2"),
    ("cubed", "^3"),
    ("x", "*"),
]
_EXPR_CHARS = re.compile(r"^[\d\s.+\-*/^%()]+$")
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
_GREETING = re.compile(
    r"^(hi|hello|hey|hiya|howdy|yo|greetings|good\s+(morning|afternoon|evening|day))\b(\s+there)?[\s!.,]*$", re.I
)
_HELP = re.compile(
    r"^(help|what\s+can\s+(you|i)\s+(do|ask)|what\s+do\s+you\s+do|who\s+are\s+you|what\s+are\s+you|"
    r"commands|how\s+does\s+this\s+work)\b[\s?!.]*(for\s+me)?[\s?!.]*$",
    re.I,
)
_THANKS = re.compile(r"^(thanks|thank\s+you|thx|ty|cheers|much\s+appreciated)\b", re.I)


@dataclass(frozen=True)
class Intent:
    tool: str
    args: dict[str, Any]


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


def small_talk(text: str) -> str | None:
    """``"greeting"``, ``"help"`` or ``"thanks"`` for the small talk the offline model answers in kind."""
    t = text.strip()
    if _GREETING.match(t):
        return "greeting"
    if _HELP.match(t):
        return "help"
    if _THANKS.match(t):
        return "thanks"
    return None


def _price_symbol(text: str) -> str | None:
    named = re.search(r"\b(?:of|for)\s+(?:an?\s+|one\s+)?([A-Za-z]{2,10})\b", text)
    found = named or _ALIAS_WORD.search(text) or re.search(r"\b([A-Z]{2,10})\b", text)
    return normalize_symbol(found.group(1)) if found else None


def _arithmetic(text: str) -> str | None:
    t = text.lower().strip().rstrip("?.!")
    t = re.sub(r"^(hey|hi|please|ok|so)[,\s]+", "", t)
    t = re.sub(
        r"^(what\s+is|what's|whats|what\s+are|calculate|compute|evaluate|how\s+much\s+is|solve|tell\s+me)\s+",
        "",
        t,
    )
    t = t.replace("×", "*").replace("÷", "/").replace("**", "^")
    for word, op in _OPERATOR_WORDS:
        t = re.sub(rf"(?<![a-z]){re.escape(word)}(?![a-z])", f" {op} ", t)
    for word, digit in _NUMBER_WORDS.items():
        t = re.sub(rf"\b{word}\b", digit, t)
    t = re.sub(r"\s+", " ", t).strip()
    if not t or not _EXPR_CHARS.match(t) or not re.search(r"\d", t):
        return None
    if not re.search(r"[+\-*/^%]", t.strip().lstrip("-")):
        return None
    return t


def _time_zone(text: str) -> str | None:
    t = text.strip().rstrip("?.!")
    if not re.search(r"\b(time|clock|date|day is it|today)\b", t, re.I):
        return None
    m = re.search(r"\b(?:in|at|for)\s+([A-Za-z_/ .'-]+?)\s*(?:right now|now|today)?$", t, re.I)
    return m.group(1).strip() if m else "UTC"


def _transfer(text: str) -> Intent | None:
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


def parse_intent(text: str, available: set[str]) -> Intent | None:
    """The tool call a plain-English request asks for, if an available tool can answer it."""
    # tool names as model APIs allow them (MCP tools: ``everything_get-sum``)
    explicit = re.match(r"^/tool\s+([A-Za-z_][A-Za-z0-9_-]*)\s*(\{.*\})?\s*$", text.strip(), re.S)
    if explicit and explicit.group(1) in available:
        try:
            parsed = json.loads(explicit.group(2) or "{}")
        except ValueError:
            parsed = {}
        return Intent(explicit.group(1), parsed if isinstance(parsed, dict) else {})

    # "ask the calculator agent: what is 6 * 7?" -> ask_calculator (agents calling agents)
    asked = re.match(r"^\s*ask\s+(?:the\s+)?([a-z][a-z0-9_]*)\s+agent\s*[:,]?\s*(.+)$", text, re.I | re.S)
    if asked and f"ask_{asked.group(1).lower()}" in available:
        return Intent(f"ask_{asked.group(1).lower()}", {"message": asked.group(2).strip()})

    # schedules and alerts first: their sentences embed other requests ("every hour check my balance")
    if worker := parse_worker_intent(text, available):
        return Intent(*worker)

    lowered = text.lower()
    if "transfer" in available and (intent := _transfer(text)):
        return intent
    if "get_token_price" in available and (conversion := parse_conversion(text)):
        return Intent("get_token_price", {"symbol": conversion.symbol})
    if "get_token_price" in available and re.search(r"\bprice\b|\bworth\b|\bcost\b", lowered):
        if sym := _price_symbol(text):
            return Intent("get_token_price", {"symbol": sym})
    if "vault_status" in available and re.search(
        r"\bvault\b.*\b(status|limit|limits)\b|\bspent today\b|"
        r"\bspend(ing)? limits?\b",
        lowered,
    ):
        return Intent("vault_status", {})
    if "get_balance" in available and "balance" in lowered:
        args: dict[str, Any] = {}
        if addr := _ADDRESS.search(text):
            args["address"] = addr.group(0)
        if tok := re.search(r"\b(ETH|TUSD|[A-Z]{3,6})\b", text.replace("ETH's", "ETH")):
            if tok.group(1) != "ETH":
                args["token"] = tok.group(1)
        return Intent("get_balance", args)
    if "current_time" in available and (zone := _time_zone(text)):
        return Intent("current_time", {"timezone": zone})
    if "calculator" in available and (expr := _arithmetic(text)):
        return Intent("calculator", {"expression": expr})
    return None
