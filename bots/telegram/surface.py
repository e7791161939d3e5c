"""Sending, editing and deleting the bot's Telegram messages, in the terms of ``bots.common.streaming``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters

from bots.common.streaming import RateLimited, Refused
from bots.telegram.formatting import to_entities
from core.bots import ApprovalButton
from core.schemas import ReplyAddress
from services.chats import call_reference


class TelegramSurface:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def throttle_key(self, address: ReplyAddress, ref: str | None) -> str | None:
        # Telegram counts a bot's messages and edits per chat
        return f"tg:{address.chat_id}"

    async def send(self, address: ReplyAddress, text: str, *, first: bool, buttons: ApprovalButton | None) -> str:
        reply = address.reply_to if first else None
        with _platform_errors():
            message = await self.bot.send_message(
                chat_id=int(address.chat_id),
                **to_entities(text),
                reply_parameters=(
                    ReplyParameters(message_id=int(reply), allow_sending_without_reply=True) if reply else None
                ),
                reply_markup=keyboard(buttons) if buttons else None,
            )
        return str(message.message_id)

    async def edit(self, address: ReplyAddress, ref: str, text: str, *, buttons: ApprovalButton | None) -> None:
        try:
            with _platform_errors():
                await self.bot.edit_message_text(
                    chat_id=int(address.chat_id),
                    message_id=int(ref),
                    **to_entities(text),
                    reply_markup=keyboard(buttons) if buttons else None,
                )
        except Refused as exc:
            if "not modified" not in str(exc):  # the same text again (a retried delivery) is fine
                raise

    async def delete(self, address: ReplyAddress, ref: str) -> None:
        try:
            with _platform_errors():
                await self.bot.delete_message(chat_id=int(address.chat_id), message_id=int(ref))
        except Refused:
            pass  # already gone


@contextmanager
def _platform_errors() -> Iterator[None]:
    try:
        yield
    except TelegramRetryAfter as exc:
        raise RateLimited(exc.retry_after) from None
    except (TelegramForbiddenError, TelegramBadRequest) as exc:  # blocked, kicked, a message Telegram refuses
        raise Refused(exc.message) from None


def keyboard(approval: ApprovalButton) -> InlineKeyboardMarkup:
    """Approve / Reject buttons (or Cancel, in an undo window); the data names the session by its
    suffix and the call by a short ref."""
    suffix = approval.session_id.rsplit(":", 1)[-1]
    ref = call_reference(approval.call_id)
    if approval.cancel:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="🛑 Cancel", callback_data=f"ap:c:{suffix}:{ref}")]]
        )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="✅ Approve", callback_data=f"ap:y:{suffix}:{ref}"),
                InlineKeyboardButton(text="❌ Reject", callback_data=f"ap:n:{suffix}:{ref}"),
            ]
        ]
    )
