"""A bot that cannot start says why in one line (and its process exits non-zero): a token the
platform refuses, or a platform nobody can reach. ``impressox`` prints an ImpressoxError as
``impressox: <message>`` and exits 1, so these are ImpressoxErrors carrying that one line."""

from __future__ import annotations

from core.errors import ImpressoxError


class BotStartError(ImpressoxError):
    """The bot could not start; the message says what to fix."""


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:159] + "…"


def discord_start_error(outcome: object, api_url: str) -> BotStartError:
    """What a Discord gateway that ended on its own (``outcome``: its exception or result) means."""
    import nextcord  # the Discord extra: only a Discord bot gets here

    if isinstance(outcome, nextcord.LoginFailure) or (
        isinstance(outcome, nextcord.HTTPException) and getattr(outcome, "status", None) == 401
    ):
        return BotStartError("Discord refused IMPRESSOX_DISCORD_TOKEN (401): set the bot token of your application")
    if isinstance(outcome, BaseException):
        return BotStartError(f"cannot reach Discord at {api_url} ({one_line(outcome)}): is there a network?")
    return BotStartError("the Discord gateway closed before the bot was asked to stop")
