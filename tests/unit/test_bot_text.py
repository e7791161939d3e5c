"""Splitting bot replies and parsing their commands (pure functions; Telegram's formatting, which imports
aiogram, is tested in tests/bots/test_telegram_formatting.py)."""

from __future__ import annotations

from bots.common.commands import parse_command
from bots.common.text import split_text
from bots.discord.platform import DISCORD
from bots.telegram.platform import TELEGRAM
from core.bots import bot_task_queue

TELEGRAM_LIMIT, DISCORD_LIMIT = TELEGRAM.text_limit, DISCORD.text_limit


def test_split_keeps_lines_whole_and_limits() -> None:
    text = "\n".join(f"line {i} " + "y" * 90 for i in range(100))
    for limit in (TELEGRAM_LIMIT, DISCORD_LIMIT):
        parts = split_text(text, limit)
        assert all(len(p) <= limit for p in parts)
        assert "\n".join(parts) == text
        assert all(p.startswith("line ") for p in parts)


def test_split_cuts_a_line_longer_than_a_message() -> None:
    parts = split_text("z" * 5000, TELEGRAM_LIMIT)
    assert [len(p) for p in parts] == [4096, 904]


def test_the_platforms_limits() -> None:
    assert (TELEGRAM_LIMIT, DISCORD_LIMIT) == (4096, 2000)


def test_commands_and_queues() -> None:
    assert parse_command("/link@impressox_bot 12345678") == ("link", "12345678")
    assert parse_command("/unknown x") is None and parse_command("hello") is None
    assert bot_task_queue("telegram") == "impressox-telegram"
    assert bot_task_queue("discord", "test-abc") == "test-abc-discord"
