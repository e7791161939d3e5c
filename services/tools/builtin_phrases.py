"""How the offline model understands the calculator and the clock (core/llm/phrasebook.py):
"what is 17 * 23?", "seventeen times twenty-three", "what time is it in Tokyo?"."""

from __future__ import annotations

import re

from core.llm.phrasebook import PHRASEBOOK, Intent

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


@PHRASEBOOK.understands("current_time", help='the time anywhere ("what time is it in Tokyo?")', order=60)
def _current_time(text: str, available: set[str]) -> Intent | None:
    zone = _time_zone(text)
    return Intent("current_time", {"timezone": zone}) if zone else None


@PHRASEBOOK.understands("calculator", help='arithmetic ("what is 17 * 23?")', order=70)
def _calculator(text: str, available: set[str]) -> Intent | None:
    expr = _arithmetic(text)
    return Intent("calculator", {"expression": expr}) if expr else None


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
