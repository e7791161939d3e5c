"""The offline model understands the phrasings of the automations' tools (schedules and alerts)."""

from __future__ import annotations

import pytest

from core.llm.offline_intents import parse_intent

# the phrasings of the built-in tools, as loading the tools declares them
from services.tools import automations_phrases, builtin_phrases, chain_phrases  # noqa: F401

TOOLS = {
    "calculator",
    "get_token_price",
    "get_balance",
    "transfer",
    "schedule_prompt",
    "list_schedules",
    "pause_schedule",
    "resume_schedule",
    "delete_schedule",
    "create_alert",
    "list_alerts",
    "delete_alert",
}
WALLET = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


@pytest.mark.parametrize(
    ("text", "tool", "args"),
    [
        (
            "every day at 9:00 send me the ETH price",
            "schedule_prompt",
            {"prompt": "send me the ETH price", "cron": "0 9 * * *"},
        ),
        ("every hour check my balance", "schedule_prompt", {"prompt": "check my balance", "every_seconds": 3600}),
        ("every 30 minutes, what is 2+2", "schedule_prompt", {"prompt": "what is 2+2", "every_seconds": 1800}),
        ("tell me when ETH goes above 4,000", "create_alert", {"kind": "price", "symbol": "ETH", "above": "4000"}),
        ("alert me if BTC drops below 50000", "create_alert", {"kind": "price", "symbol": "BTC", "below": "50000"}),
        (
            "tell me when bitcoin goes above 100000",
            "create_alert",
            {"kind": "price", "symbol": "BTC", "above": "100000"},
        ),
        (
            "tell me if ETH moves more than 5% in an hour",
            "create_alert",
            {"kind": "price", "symbol": "ETH", "move_pct": "5", "window_seconds": 3600},
        ),
        (
            f"watch wallet {WALLET} and tell me about incoming transfers",
            "create_alert",
            {"kind": "wallet", "address": WALLET, "direction": "in", "token": None},
        ),
        ("list my alerts", "list_alerts", {}),
        ("show my schedules", "list_schedules", {}),
        ("stop the ETH alert", "delete_alert", {"alert": "eth"}),
        ("pause my morning report", "pause_schedule", {"schedule": "morning report"}),
        ("resume my morning report", "resume_schedule", {"schedule": "morning report"}),
    ],
)
def test_phrasings(text: str, tool: str, args: dict) -> None:
    intent = parse_intent(text, TOOLS)
    assert intent is not None and (intent.tool, intent.args) == (tool, args)


def tool_of(text: str) -> str | None:
    intent = parse_intent(text, TOOLS)
    return intent.tool if intent else None


def test_other_requests_keep_their_tools() -> None:
    assert tool_of("what is 6 * 7?") == "calculator"
    assert tool_of(f"send 0.1 ETH to {WALLET}") == "transfer"
    assert tool_of("check my balance") == "get_balance"
    assert parse_intent("stop talking", TOOLS) is None
