"""The Telegram bot (aiogram 3): long polling for updates, a Temporal worker for deliveries.

Handlers only resolve the conversation's session and signal the message with a reply
address; the session workflow hands the reply back through the ``deliver`` activity this
process hosts on the ``impressox-telegram`` task queue. A reply therefore waits in Temporal
while the bot is down and goes out when it is back.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramNotFound, TelegramUnauthorizedError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    ErrorEvent,
    Message,
    User,
)
from aiogram.utils.chat_action import ChatActionSender
from temporalio import activity
from temporalio.worker import Worker

from bots.common import undo
from bots.common.commands import ENDED, HELP, NOTHING_TO_END
from bots.common.delivery import DeliveryPlugin
from bots.common.runtime import BotRuntime
from bots.common.start_errors import BotStartError, one_line
from bots.common.streaming import StreamingReplies
from bots.telegram.platform import TELEGRAM, TelegramSettings
from bots.telegram.surface import TelegramSurface
from core.bots import DELIVER, Delivery, bot_task_queue
from core.errors import BadInputError, ImpressoxError, NotFoundError
from core.schemas import ReplyAddress
from core.settings import Settings
from services.chats import LinkError, conversation_key, new_message_id

log = logging.getLogger("impressox.telegram")
PLATFORM = TELEGRAM.name
#: how long "typing…" is kept up for one turn at most
TYPING_SECONDS = 120.0

COMMANDS = [
    BotCommand(command="start", description="what I can do"),
    BotCommand(command="help", description="what I can do"),
    BotCommand(command="new", description="start a fresh conversation"),
    BotCommand(command="stop", description="stop the answer being written"),
    BotCommand(command="end", description="end this conversation's session"),
    BotCommand(command="link", description="link your platform account: /link CODE"),
    BotCommand(command="unlink", description="unlink your platform account"),
    BotCommand(command="notify_on", description="your notifications in this chat"),
    BotCommand(command="freeze", description="stop every transfer from your vault now"),
    BotCommand(command="notify_off", description="no notifications in this chat"),
]


def build_bot(token: str, api_url: str | None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url)) if api_url else AiohttpSession()
    return Bot(token, session=session)


class TelegramBot:
    def __init__(self, runtime: BotRuntime, bot: Bot, config: TelegramSettings | None = None) -> None:
        self.runtime = runtime
        self.chats = runtime.chats
        self.bot = bot
        #: the Telegram settings group (IMPRESSOX_TELEGRAM_*): the Bot API base, the edit cadence
        self.config = config or TELEGRAM.settings(runtime.settings)
        self.me: User | None = None
        self.surface = TelegramSurface(bot)
        self.replies = StreamingReplies(
            self.surface,
            TELEGRAM,
            runtime.streams,
            interval=self.config.edit_interval_seconds,
            grace=runtime.settings.bot_live_grace_seconds,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.dp = Dispatcher()
        self.dp.include_routers(self._commands(), self._approvals(), self._messages())
        self.dp.errors.register(self._on_error)

    # ------------------------------------------------------------------ running
    async def run(self, stop: asyncio.Event, ready_file: Path | None = None) -> None:
        """Poll updates and serve deliveries until ``stop``."""
        try:
            self.me = await self._me()
        finally:
            if self.me is None:  # no "unclosed client session" after the one line
                await self.bot.session.close()
        try:
            await self.bot.set_my_commands(COMMANDS)
        except Exception:
            log.warning("setMyCommands failed", exc_info=True)
        await self._serve(stop, ready_file)

    async def _me(self) -> User:
        """The bot's own user, or the one line that says why the Bot API would not give it."""
        try:
            return await self.bot.me()
        except (TelegramUnauthorizedError, TelegramNotFound):  # 404: a token of the wrong shape
            raise BotStartError(
                "the Telegram Bot API refused IMPRESSOX_TELEGRAM_TOKEN: set the token @BotFather gave"
            ) from None
        except TelegramNetworkError as exc:
            where = self.config.api_url or "https://api.telegram.org"
            raise BotStartError(
                f"cannot reach the Telegram Bot API at {where} ({one_line(exc)}): is there a network?"
            ) from None
        except TelegramAPIError as exc:
            raise BotStartError(f"the Telegram Bot API would not start the bot: {one_line(exc)}") from None

    async def _serve(self, stop: asyncio.Event, ready_file: Path | None) -> None:
        assert self.me is not None
        worker = Worker(
            self.runtime.client,
            task_queue=bot_task_queue(PLATFORM, self.runtime.settings.task_queue),
            plugins=[DeliveryPlugin(self.deliver)],
            max_concurrent_activities=50,
        )
        async with worker:
            polling = asyncio.create_task(self.dp.start_polling(self.bot, handle_signals=False, polling_timeout=10))
            log.info("telegram bot @%s polling", self.me.username)
            if ready_file:
                ready_file.write_text(str(os.getpid()))
            await stop.wait()
            await self.dp.stop_polling()
            await asyncio.gather(polling, return_exceptions=True)
        await self.replies.close()
        for task in list(self._tasks):
            task.cancel()
        await self.bot.session.close()

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ delivery (activity)
    @activity.defn(name=DELIVER)
    async def deliver(self, delivery: Delivery) -> None:
        """Send one reply, approval prompt or notification (into the turn's live drafts, if any)."""
        await self.replies.deliver(delivery, activity.info().workflow_id or "")

    # ------------------------------------------------------------------ routers
    def _commands(self) -> Router:
        router = Router(name="commands")

        @router.message(CommandStart())
        @router.message(Command("help"))
        async def start(message: Message) -> None:
            await message.answer(HELP)

        @router.message(Command("new"))
        async def new(message: Message) -> None:
            conv = conversation_key(message.chat.id, message.chat.type == "private")
            await self.chats.new_session(PLATFORM, _uid(message), conv)
            await message.answer("Started a fresh conversation.")

        @router.message(Command("stop"))
        async def stop(message: Message) -> None:
            conv = conversation_key(message.chat.id, message.chat.type == "private")
            await message.answer(await self.chats.stop(PLATFORM, _uid(message), conv))

        @router.message(Command("end"))
        async def end(message: Message) -> None:
            conv = conversation_key(message.chat.id, message.chat.type == "private")
            ended = await self.chats.end_session(PLATFORM, _uid(message), conv)
            await message.answer(ENDED if ended else NOTHING_TO_END)

        @router.message(Command("link"))
        async def link(message: Message, command: CommandObject) -> None:
            if not command.args:
                await message.answer("Send /link CODE with a code from POST /v1/links (or the web page).")
                return
            try:
                user = await self.chats.link(PLATFORM, _uid(message), command.args)
            except LinkError as exc:
                await message.answer(f"Not linked: {exc}.")
                return
            await message.answer(f"Linked: this chat now acts as {user}.")

        @router.message(Command("unlink"))
        async def unlink(message: Message) -> None:
            await self.chats.unlink(PLATFORM, _uid(message))
            await message.answer("Unlinked: this chat acts on its own again.")

        @router.message(Command("freeze"))
        async def freeze(message: Message) -> None:
            try:
                await message.answer(await self.chats.freeze(PLATFORM, _uid(message)))
            except ImpressoxError as exc:
                await message.answer(f"Not frozen: {exc}.")

        @router.message(Command("notify_on", "notify_off"))
        async def notify(message: Message, command: CommandObject) -> None:
            on = command.command == "notify_on"
            address = ReplyAddress(platform=PLATFORM, chat_id=str(message.chat.id), user_id=_uid(message))
            user = await self.chats.notify(PLATFORM, _uid(message), address, on)
            await message.answer(f"Notifications of {user} will arrive here." if on else "No more notifications here.")

        return router

    def _approvals(self) -> Router:
        router = Router(name="approvals")

        @router.callback_query(F.data.startswith("ap:"))
        async def press(query: CallbackQuery) -> None:
            try:
                _, verdict, suffix, ref = (query.data or "").split(":")
            except ValueError:
                await query.answer("This button is broken.", show_alert=True)
                return
            if verdict == "c":
                await self._cancel(query, suffix, ref)
                return
            try:
                owner, sid, call_id = await self.chats.resolve_approval(PLATFORM, str(query.from_user.id), suffix, ref)
            except (NotFoundError, BadInputError):
                # a stranger, or a decided approval: nothing moves
                await query.answer(
                    "Only the person who asked can decide this (or it was already decided).", show_alert=True
                )
                return
            approve = verdict == "y"
            await query.answer("Approved" if approve else "Rejected")
            message = query.message if isinstance(query.message, Message) else None
            if message is not None:
                await _drop_keyboard(message)
            notice = await undo.decide_pressed(self.chats, owner, sid, call_id, approve)
            if notice is not None and message is not None:
                text, button = notice
                address = ReplyAddress(platform=PLATFORM, chat_id=str(message.chat.id))
                await self.surface.edit(address, str(message.message_id), text, buttons=button)

        return router

    async def _cancel(self, query: CallbackQuery, suffix: str, ref: str) -> None:
        """A Cancel press on a transfer in its undo window (bots/common/undo.py)."""
        outcome = await undo.cancel_pressed(self.chats, PLATFORM, str(query.from_user.id), suffix, ref)
        await query.answer(outcome.text, show_alert=not outcome.cancelled)
        message = query.message if isinstance(query.message, Message) else None
        if message is None:
            return
        if outcome.cancelled:
            address = ReplyAddress(platform=PLATFORM, chat_id=str(message.chat.id))
            await self.surface.edit(address, str(message.message_id), outcome.text, buttons=None)
        elif outcome.done:
            await _drop_keyboard(message)

    def _messages(self) -> Router:
        router = Router(name="chat")

        @router.message(F.text)
        async def chat(message: Message) -> None:
            text = self._addressed(message)
            if text is None:
                return
            private = message.chat.type == "private"
            address = ReplyAddress(
                platform=PLATFORM,
                chat_id=str(message.chat.id),
                reply_to=None if private else str(message.message_id),
                user_id=_uid(message),
            )
            mid = new_message_id(PLATFORM, message.chat.id, message.message_id)
            _, sid = await self.chats.send(
                PLATFORM, _uid(message), conversation_key(message.chat.id, private), text, address, mid
            )
            self._spawn(self._typing(message.chat.id, sid, mid))
            self._spawn(self.replies.follow(sid, mid, address))

        return router

    def _addressed(self, message: Message) -> str | None:
        """The text meant for the bot: all of a DM; in groups only a mention or a reply to the bot."""
        text = message.text or ""
        if message.chat.type == "private":
            return text.strip() or None
        assert self.me is not None
        handle = f"@{self.me.username}".lower()
        for entity in message.entities or []:
            if entity.type == "mention" and entity.extract_from(text).lower() == handle:
                stripped = (text[: entity.offset] + text[entity.offset + entity.length :]).strip()
                return stripped or None
        replied = message.reply_to_message
        if replied and replied.from_user and replied.from_user.id == self.me.id:
            return text.strip() or None
        return None

    async def _typing(self, chat_id: int, session_id: str, message_id: str) -> None:
        async with ChatActionSender.typing(bot=self.bot, chat_id=chat_id):
            await self.chats.wait_turn(session_id, message_id, TYPING_SECONDS)

    async def _on_error(self, event: ErrorEvent) -> bool:
        """One place for every handler failure: a short apology to the user, the details in the log."""
        log.error("update %s failed: %r", event.update.update_id, event.exception, exc_info=event.exception)
        message = event.update.message
        if message is not None:
            why = str(event.exception) if isinstance(event.exception, ImpressoxError) else "please try again"
            try:
                await message.answer(f"Sorry, something went wrong: {why}.")
            except Exception:
                log.warning("could not send the apology", exc_info=True)
        elif event.update.callback_query is not None:
            try:
                await event.update.callback_query.answer("Sorry, something went wrong.", show_alert=True)
            except Exception:  # noqa: BLE001
                pass
        return True


def _uid(message: Message) -> str:
    return str(message.from_user.id if message.from_user else message.chat.id)


async def _drop_keyboard(message: Message) -> None:
    try:
        await message.edit_reply_markup(reply_markup=None)
    except Exception:
        log.debug("could not remove the buttons", exc_info=True)


async def run_telegram(
    settings: Settings, config: TelegramSettings, stop: asyncio.Event, ready_file: Path | None = None
) -> None:
    assert config.token is not None
    runtime = await BotRuntime.start(settings)
    bot = TelegramBot(runtime, build_bot(config.token.get_secret_value(), config.api_url), config)
    try:
        await bot.run(stop, ready_file)
    finally:
        await runtime.close()
