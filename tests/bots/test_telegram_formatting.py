"""Telegram formatting of bot replies: entities, never escaped MarkdownV2 (a pure function over aiogram's
formatting nodes; here rather than in tests/unit because importing aiogram takes seconds)."""

from __future__ import annotations

from bots.telegram.formatting import to_entities


def test_formatting_is_entities_never_escaped_markdown() -> None:
    out = to_entities("Pay **0.5 ETH** to `0xabc` now_ok [x](y)\n```py\nprint(1)\n```")
    assert out["text"].startswith("Pay 0.5 ETH to 0xabc now_ok [x](y)")
    kinds = sorted(e.type for e in out["entities"])
    assert kinds == ["bold", "code", "pre"]
