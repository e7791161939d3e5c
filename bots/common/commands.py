"""The chat commands both bots understand, as plain text (Telegram and Discord DMs alike)."""

from __future__ import annotations

HELP = (
    "I am the Impressox agent. Ask me anything: prices, balances, arithmetic, transfers from your vault "
    "(you approve each one).\n"
    "/new - start a fresh conversation\n"
    "/stop - stop the answer being written (a transfer being sent is finished first)\n"
    "/link CODE - act as your platform account (code from POST /v1/links)\n"
    "/unlink - stop acting as it\n"
    "/notify_on, /notify_off - your notifications in this chat\n"
    "/freeze - stop every transfer from your vault now (only its owner wallet can unfreeze it)\n"
    "In groups, mention me or reply to me."
)
NAMES = ("start", "help", "new", "stop", "link", "unlink", "notify_on", "notify_off", "freeze")


def parse_command(text: str) -> tuple[str, str] | None:
    """``("link", "12345678")`` for ``/link 12345678`` (also ``/link@bot ...``); None for other text."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return (name, rest.strip()) if name in NAMES else None
