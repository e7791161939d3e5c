"""The Discord bot (nextcord 2.6): the gateway for messages and interactions, a Temporal worker
for deliveries on the ``impressox-discord`` task queue.

Handlers resolve the conversation's session and signal the message with a reply address; the
session's ``deliver`` activity, hosted here, sends the reply (a channel message, or the slash
command's deferred response). Approval buttons carry a stable ``custom_id`` and are handled by
the interaction listener, so they keep working after a restart (persistent, no view state).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import nextcord
from nextcord import Interaction, InteractionType, SlashOption
from nextcord.ext import commands
from nextcord.http import Route
from temporalio import activity
from temporalio.worker import Worker

from bots.common import undo
from bots.common.commands import ENDED, HELP, NOTHING_TO_END, parse_command
from bots.common.delivery import DeliveryPlugin
from bots.common.runtime import BotRuntime
from bots.common.start_errors import discord_start_error
from bots.common.streaming import StreamingReplies
from bots.discord.platform import DISCORD, DiscordSettings
from bots.discord.surface import DiscordSurface, reference
from core.bots import DELIVER, Delivery, bot_task_queue
from core.errors import BadInputError, ImpressoxError, NotFoundError
from core.schemas import ReplyAddress
from core.settings import Settings
from services.chats import ChatService, LinkError, conversation_key, new_message_id

log = logging.getLogger("impressox.discord")
PLATFORM = DISCORD.name
TYPING_SECONDS = 120.0
#: Discord shows "typing…" for about 10 s per trigger
TYPING_EVERY = 8.0


def intents() -> nextcord.Intents:
    i = nextcord.Intents.default()
    i.message_content = True  # guild messages that reply to the bot (mentions come through anyway)
    i.dm_messages = True
    i.guild_messages = True
    return i


class ChatCog(commands.Cog):
    """Slash commands, DMs and mentions, and the approval buttons."""

    def __init__(self, app: DiscordBot) -> None:
        self.app = app
        self.chats: ChatService = app.chats

    # ------------------------------------------------------------------ slash commands
    @nextcord.slash_command(name="ask", description="Ask the agent")
    async def ask(
        self, interaction: Interaction, question: str = SlashOption(description="your question", required=True)
    ) -> None:
        await interaction.response.defer()  # at once: Discord drops interactions not acknowledged in 3 s
        user = str(interaction.user.id if interaction.user else 0)
        channel = str(interaction.channel_id)
        private = interaction.guild_id is None
        address = ReplyAddress(platform=PLATFORM, chat_id=channel, user_id=user, interaction_token=interaction.token)
        mid = new_message_id(PLATFORM, channel, interaction.id)
        try:
            _, sid = await self.chats.send(PLATFORM, user, conversation_key(channel, private), question, address, mid)
        except Exception as exc:
            log.error("/ask failed: %r", exc, exc_info=exc)
            why = str(exc) if isinstance(exc, ImpressoxError) else "please try again"
            await interaction.followup.send(f"Sorry, something went wrong: {why}.")
            return
        self.app.spawn(self.app.typing(channel, sid, mid))
        self.app.spawn(self.app.replies.follow(sid, mid, address))

    @nextcord.slash_command(name="new", description="Start a fresh conversation")
    async def new(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "new", ""))

    @nextcord.slash_command(name="stop", description="Stop the answer being written")
    async def stop_turn(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "stop", ""))

    @nextcord.slash_command(name="end", description="End this conversation's session")
    async def end(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "end", ""))

    @nextcord.slash_command(name="link", description="Link your platform account")
    async def link(
        self, interaction: Interaction, code: str = SlashOption(description="the code from POST /v1/links")
    ) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "link", code))

    @nextcord.slash_command(name="unlink", description="Unlink your platform account")
    async def unlink(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "unlink", ""))

    @nextcord.slash_command(name="freeze", description="Stop every transfer from your vault now")
    async def freeze(self, interaction: Interaction) -> None:
        await interaction.response.defer()
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "freeze", ""))

    @nextcord.slash_command(name="notify_on", description="Your notifications in this channel")
    async def notify_on(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "notify_on", ""))

    @nextcord.slash_command(name="notify_off", description="No notifications in this channel")
    async def notify_off(self, interaction: Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(await self.app.command(interaction_identity(interaction), "notify_off", ""))

    # ------------------------------------------------------------------ messages
    @commands.Cog.listener()
    async def on_message(self, message: nextcord.Message) -> None:
        try:
            await self.app.on_message(message)
        except Exception as exc:
            log.error("message %s failed: %r", message.id, exc, exc_info=exc)
            why = str(exc) if isinstance(exc, ImpressoxError) else "please try again"
            await self.app.post(str(message.channel.id), {"content": f"Sorry, something went wrong: {why}."})

    # ------------------------------------------------------------------ buttons
    @commands.Cog.listener()
    async def on_interaction(self, interaction: Interaction) -> None:
        if interaction.type != InteractionType.component:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id") or "")
        if not custom_id.startswith("ap:"):
            return
        await interaction.response.defer()  # at once, then decide
        user = str(interaction.user.id if interaction.user else 0)
        pressed = interaction.message
        address = ReplyAddress(platform=PLATFORM, chat_id=str(interaction.channel_id))
        try:
            _, verdict, suffix, ref = custom_id.split(":")
            if verdict == "c":
                await self._cancel(interaction, user, suffix, ref, address)
                return
            owner, sid, call_id = await self.chats.resolve_approval(PLATFORM, user, suffix, ref)
        except (ValueError, NotFoundError, BadInputError):
            await interaction.followup.send(
                "Only the person who asked can decide this (or it was already decided).", ephemeral=True
            )
            return
        notice = await undo.decide_pressed(self.chats, owner, sid, call_id, verdict == "y")
        if notice is not None and pressed is not None:
            text, button = notice
            await self.app.surface.edit(address, str(pressed.id), text, buttons=button)

    async def _cancel(self, interaction: Interaction, user: str, suffix: str, ref: str, address: ReplyAddress) -> None:
        """A Cancel press on a transfer in its undo window (bots/common/undo.py)."""
        outcome = await undo.cancel_pressed(self.chats, PLATFORM, user, suffix, ref)
        pressed = interaction.message
        if pressed is not None and (outcome.cancelled or outcome.done):  # the button goes
            text = outcome.text if outcome.cancelled else pressed.content
            await self.app.surface.edit(address, str(pressed.id), text, buttons=None)
        if not outcome.cancelled:
            await interaction.followup.send(outcome.text, ephemeral=True)


def interaction_identity(interaction: Interaction) -> tuple[str, str]:
    """(user id, channel id) of an interaction."""
    return str(interaction.user.id if interaction.user else 0), str(interaction.channel_id)


class DiscordBot:
    def __init__(self, runtime: BotRuntime, config: DiscordSettings | None = None) -> None:
        self.runtime = runtime
        self.chats = runtime.chats
        #: the Discord settings group (IMPRESSOX_DISCORD_*): the token, the REST base, the edit cadence
        self.config = config or DISCORD.settings(runtime.settings)
        # REST base (and so the gateway URL, from its /gateway): real Discord, or a fake in tests
        Route.BASE = self.config.api_url.rstrip("/")
        self.client = commands.Bot(intents=intents())
        self.client.add_cog(ChatCog(self))
        self._tasks: set[asyncio.Task[Any]] = set()
        self.surface = DiscordSurface(self.client)
        self.replies = StreamingReplies(
            self.surface,
            DISCORD,
            runtime.streams,
            interval=self.config.edit_interval_seconds,
            grace=runtime.settings.bot_live_grace_seconds,
        )

    async def run(self, stop: asyncio.Event, ready_file: Path | None = None) -> None:
        assert self.config.token is not None
        worker = Worker(
            self.runtime.client,
            task_queue=bot_task_queue(PLATFORM, self.runtime.settings.task_queue),
            plugins=[DeliveryPlugin(self.deliver)],
            max_concurrent_activities=50,
        )
        async with worker:
            gateway = asyncio.create_task(self.client.start(self.config.token.get_secret_value()))
            if ready_file:
                ready_file.write_text(str(os.getpid()))
            done, _ = await asyncio.wait(
                [gateway, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
            )
            await self.client.close()
            [outcome] = await asyncio.gather(gateway, return_exceptions=True)
            if gateway in done and not stop.is_set():  # the gateway gave up before anyone asked it to stop
                raise discord_start_error(outcome, self.config.api_url)
        await self.replies.close()
        for task in list(self._tasks):
            task.cancel()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ messages
    async def on_message(self, message: nextcord.Message) -> None:
        me = self.client.user
        if me is None or message.author.bot:
            return
        private = message.guild is None
        text = message.content or ""
        if not private:
            mentioned = any(u.id == me.id for u in message.mentions)
            ref = message.reference.resolved if message.reference else None
            replied = isinstance(ref, nextcord.Message) and ref.author.id == me.id
            if not (mentioned or replied):
                return
            text = text.replace(f"<@{me.id}>", "").replace(f"<@!{me.id}>", "")
        text = text.strip()
        if not text:
            return
        user, channel = str(message.author.id), str(message.channel.id)
        command = parse_command(text)
        if command is not None:
            answer = await self.command((user, channel), *command, private=private)
            await self.post(channel, {"content": answer, "message_reference": reference(message.id)})
            return
        address = ReplyAddress(
            platform=PLATFORM, chat_id=channel, reply_to=None if private else str(message.id), user_id=user
        )
        mid = new_message_id(PLATFORM, channel, message.id)
        _, sid = await self.chats.send(PLATFORM, user, conversation_key(channel, private), text, address, mid)
        self.spawn(self.typing(channel, sid, mid))
        self.spawn(self.replies.follow(sid, mid, address))

    async def command(self, who: tuple[str, str], name: str, arg: str, private: bool = True) -> str:
        user, channel = who
        if name in ("start", "help"):
            return HELP
        if name == "new":
            await self.chats.new_session(PLATFORM, user, conversation_key(channel, private))
            return "Started a fresh conversation."
        if name == "stop":
            return await self.chats.stop(PLATFORM, user, conversation_key(channel, private))
        if name == "end":
            ended = await self.chats.end_session(PLATFORM, user, conversation_key(channel, private))
            return ENDED if ended else NOTHING_TO_END
        if name == "link":
            if not arg:
                return "Send /link CODE with a code from POST /v1/links (or the web page)."
            try:
                return f"Linked: this chat now acts as {await self.chats.link(PLATFORM, user, arg)}."
            except LinkError as exc:
                return f"Not linked: {exc}."
        if name == "unlink":
            await self.chats.unlink(PLATFORM, user)
            return "Unlinked: this chat acts on its own again."
        if name == "freeze":
            try:
                return await self.chats.freeze(PLATFORM, user)
            except ImpressoxError as exc:
                return f"Not frozen: {exc}."
        on = name == "notify_on"
        address = ReplyAddress(platform=PLATFORM, chat_id=channel, user_id=user)
        owner = await self.chats.notify(PLATFORM, user, address, on)
        return f"Notifications of {owner} will arrive here." if on else "No more notifications here."

    async def typing(self, channel: str, session_id: str, message_id: str) -> None:
        waiting = asyncio.create_task(self.chats.wait_turn(session_id, message_id, TYPING_SECONDS))
        try:
            while not waiting.done():
                try:
                    await self.client.http.request(Route("POST", "/channels/{channel_id}/typing", channel_id=channel))
                except nextcord.HTTPException:
                    pass
                await asyncio.wait([waiting], timeout=TYPING_EVERY)
        finally:
            waiting.cancel()

    async def post(self, channel: str, payload: dict[str, Any]) -> Any:
        return await self.client.http.request(
            Route("POST", "/channels/{channel_id}/messages", channel_id=channel), json=payload
        )

    # ------------------------------------------------------------------ delivery (activity)
    @activity.defn(name=DELIVER)
    async def deliver(self, delivery: Delivery) -> None:
        """Send one reply, approval prompt or notification (into the turn's live drafts, if any)."""
        await self.replies.deliver(delivery, activity.info().workflow_id or "")


async def run_discord(
    settings: Settings, config: DiscordSettings, stop: asyncio.Event, ready_file: Path | None = None
) -> None:
    runtime = await BotRuntime.start(settings)
    try:
        await DiscordBot(runtime, config).run(stop, ready_file)
    finally:
        await runtime.close()
