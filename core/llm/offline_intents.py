"""What the offline model reads in a user's text: the generic ``/tool NAME {JSON}``, an agent asked by
name, small talk, and otherwise the phrasings the tool modules declared (core/llm/phrasebook.py).

Deterministic and dependency-free so the offline model is testable on its own; it names no tool.
"""

from __future__ import annotations

import json
import re

from core.llm.phrasebook import PHRASEBOOK, Intent

_GREETING = re.compile(
    r"^(hi|hello|hey|hiya|howdy|yo|greetings|good\s+(morning|afternoon|evening|day))\b(\s+there)?[\s!.,]*$", re.I
)
_HELP = re.compile(
    r"^(help|what\s+can\s+(you|i)\s+(do|ask)|what\s+do\s+you\s+do|who\s+are\s+you|what\s+are\s+you|"
    r"commands|how\s+does\s+this\s+work)\b[\s?!.]*(for\s+me)?[\s?!.]*$",
    re.I,
)
_THANKS = re.compile(r"^(thanks|thank\s+you|thx|ty|cheers|much\s+appreciated)\b", re.I)


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

    return PHRASEBOOK.intent(text, available)
