"""A small fake Discord (REST + gateway websocket, aiohttp, in the test's event loop): the network edge.

The gateway says HELLO, answers IDENTIFY with READY, and sends what ``push_*`` queue
(MESSAGE_CREATE, INTERACTION_CREATE). REST calls are recorded in ``calls``; messages the bot
posts (channel messages, interaction responses, webhook edits) in ``sent``. JSON answers carry
``Content-Type: application/json`` exactly: nextcord compares it with ``==``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

BOT_ID = "900000000000000001"
GUILD_ID = "900000000000000100"
CHANNEL_ID = "900000000000000200"
BOT_USER = {"id": BOT_ID, "username": "impressox", "discriminator": "0", "avatar": None, "bot": True}


def user(uid: int | str) -> dict[str, Any]:
    return {"id": str(uid), "username": f"u{uid}", "discriminator": "0", "avatar": None}


class FakeDiscord:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.sent: list[dict[str, Any]] = []  # {"channel_id", "content", "components", "id", "token"}
        #: what the chats show now: message id -> the message as last edited (deleted ones are gone)
        self.messages: dict[str, dict[str, Any]] = {}
        #: (monotonic time, message id) of every message sent or edited, for the edit cadence
        self.changes: list[tuple[float, str]] = []
        self.originals: dict[str, str] = {}  # interaction token -> id of its original response
        #: the next edits (PATCH) answered 429 with this Retry-After (seconds); (time, path) of each
        self.limit_next: list[float] = []
        self.limited: list[tuple[float, str]] = []
        self.commands: dict[str, dict[str, Any]] = {}
        self.identified = asyncio.Event()
        self.acks: dict[str, int] = {}  # interaction token -> callback type
        self._ids = itertools.count(1)
        self._ws: web.WebSocketResponse | None = None
        self._seq = itertools.count(1)
        self.url = ""

    def snowflake(self) -> str:
        return str(910000000000000000 + next(self._ids))

    async def start(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/ws", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        await self._runner.cleanup()

    # ------------------------------------------------------------------ events in
    def dm_channel(self, uid: int) -> str:
        return str(800000000000000000 + uid)

    async def push_dm(self, uid: int, text: str) -> dict[str, Any]:
        msg = self._message(self.dm_channel(uid), text, user(uid))
        await self._dispatch("MESSAGE_CREATE", msg)
        return msg

    async def push_guild(self, uid: int, text: str, mention: bool = False) -> dict[str, Any]:
        msg = self._message(CHANNEL_ID, f"<@{BOT_ID}> {text}" if mention else text, user(uid))
        msg.update(guild_id=GUILD_ID, member={"roles": [], "joined_at": _now(), "deaf": False, "mute": False})
        if mention:
            msg["mentions"] = [BOT_USER]
        await self._dispatch("MESSAGE_CREATE", msg)
        return msg

    async def push_slash(self, uid: int, name: str, options: dict[str, str]) -> str:
        cmd = self.commands.get(name, {})
        data = {
            "id": cmd.get("id") or self.snowflake(),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in options.items()],
        }
        return await self._interaction(2, uid, self.dm_channel(uid), data)

    async def push_button(self, uid: int, message: dict[str, Any], custom_id: str) -> str:
        return await self._interaction(
            3, uid, message["channel_id"], {"custom_id": custom_id, "component_type": 2}, message=message
        )

    async def _interaction(
        self, itype: int, uid: int, channel: str, data: dict[str, Any], message: dict[str, Any] | None = None
    ) -> str:
        token = f"tok{self.snowflake()}"
        ia: dict[str, Any] = {
            "id": self.snowflake(),
            "application_id": BOT_ID,
            "type": itype,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": channel,
            "user": user(uid),
            "locale": "en-US",
            "app_permissions": "0",
        }
        if message is not None:
            ia["message"] = message
        await self._dispatch("INTERACTION_CREATE", ia)
        return token

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        for _ in range(600):
            if self._ws is not None and not self._ws.closed:
                break
            await asyncio.sleep(0.1)
        assert self._ws is not None
        await self._ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    # ------------------------------------------------------------------ what the bot did
    def texts(self, channel: str | None = None, token: str | None = None) -> list[str]:
        """What the chats show now: the bot's messages, oldest first, with their latest edit."""
        return [
            m["content"]
            for m in self.messages.values()
            if (channel is None or m["channel_id"] == channel) and (token is None or m["token"] == token)
        ]

    def with_buttons(self) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m.get("components")]

    # ------------------------------------------------------------------ gateway
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)

        async def send(op: int, d: Any = None, t: str | None = None) -> None:
            await ws.send_str(json.dumps({"op": op, "d": d, "t": t, "s": next(self._seq) if t else None}))

        await send(10, {"heartbeat_interval": 41250})
        async for raw in ws:
            if raw.type != WSMsgType.TEXT:
                continue
            msg = json.loads(raw.data)
            if msg.get("op") == 1:
                await send(11)
            elif msg.get("op") == 2:
                ready = {
                    "v": 10,
                    "user": {**BOT_USER, "verified": True, "mfa_enabled": False, "flags": 0},
                    "guilds": [],
                    "session_id": "fake",
                    "resume_gateway_url": self.url.replace("http", "ws") + "/ws",
                    "application": {"id": BOT_ID, "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                    "shard": [0, 1],
                }
                await send(0, ready, "READY")
                await send(0, _guild(), "GUILD_CREATE")
                self._ws = ws
                self.identified.set()
        if self._ws is ws:
            self._ws = None
        return ws

    # ------------------------------------------------------------------ REST
    async def _rest(self, request: web.Request) -> web.Response:
        path = re.sub(r"^/api(/v\d+)?", "", request.path)
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.calls.append((request.method, path, body))
        if self.limit_next and request.method == "PATCH" and "/messages/" in path:
            retry = self.limit_next.pop(0)
            self.limited.append((time.monotonic(), path))
            headers = {"Content-Type": "application/json", "Retry-After": str(retry), "X-RateLimit-Scope": "user"}
            body429 = {"message": "You are being rate limited.", "retry_after": retry, "global": False}
            return web.Response(status=429, body=json.dumps(body429).encode(), headers=headers)
        result = self._route(request.method, path, body if isinstance(body, dict | list) else {})
        if result is None:
            return web.Response(status=204)
        # by hand: json_response would add "; charset=utf-8", which nextcord rejects
        return web.Response(body=json.dumps(result).encode(), headers={"Content-Type": "application/json"})

    def _route(self, method: str, path: str, body: Any) -> Any:
        m = re.fullmatch
        if path in ("/gateway", "/gateway/bot"):
            return {
                "url": self.url.replace("http", "ws") + "/ws",
                "shards": 1,
                "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
            }
        if path == "/users/@me":
            return {**BOT_USER, "verified": True, "mfa_enabled": False, "flags": 0}
        if r := m(r"/applications/\d+(?:/guilds/\d+)?/commands(?:/\d+)?", path):
            items = body if isinstance(body, list) else [body] if body else []
            out = []
            for c in items:
                cmd = {
                    "type": 1,
                    **c,
                    "id": self.commands.get(c["name"], {}).get("id") or self.snowflake(),
                    "application_id": BOT_ID,
                    "version": "1",
                }
                self.commands[cmd["name"]] = cmd
                out.append(cmd)
            if method == "GET":
                return list(self.commands.values())
            return out if method == "PUT" else (out[0] if out else {})
        if r := m(r"/channels/(\d+)/typing", path):
            self.sent.append({"channel_id": r[1], "content": "", "typing": True, "token": None})
            return None
        if r := m(r"/channels/(\d+)/messages", path):
            if method == "POST":
                return self._record(r[1], body, None)
            return []
        if r := m(r"/channels/(\d+)/messages/(\d+)", path):
            return self._change(method, r[2], body)
        if r := m(r"/interactions/\d+/([^/]+)/callback", path):
            self.acks[r[1]] = body.get("type")
            return None
        if r := m(r"/webhooks/\d+/([^/]+)/messages/@original", path):
            if r[1] in self.originals:
                return self._change(method, self.originals[r[1]], body)
            msg = self._record(None, body, r[1])
            self.originals[r[1]] = msg["id"]
            return msg
        if r := m(r"/webhooks/\d+/([^/]+)/messages/(\d+)", path):
            return self._change(method, r[2], body)
        if r := m(r"/webhooks/\d+/([^/]+)", path):
            return self._record(None, body, r[1])
        if r := m(r"/channels/(\d+)", path):
            return {"id": r[1], "type": 1, "recipients": [], "last_message_id": None}
        return {}

    def _record(self, channel: str | None, body: dict[str, Any], token: str | None) -> dict[str, Any]:
        msg = self._message(channel or "0", body.get("content") or "", BOT_USER)
        msg["components"] = body.get("components") or []
        self.sent.append({**msg, "token": token})
        self.messages[msg["id"]] = {**msg, "token": token}
        self.changes.append((time.monotonic(), msg["id"]))
        return msg

    def _change(self, method: str, message_id: str, body: dict[str, Any]) -> Any:
        if method == "DELETE":
            self.messages.pop(message_id, None)
            return None
        msg = self.messages[message_id]
        msg.update({k: v for k, v in body.items() if k in ("content", "components")}, edited_timestamp=_now())
        self.changes.append((time.monotonic(), message_id))
        return {k: v for k, v in msg.items() if k != "token"}

    def _message(self, channel: str, content: str, author: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.snowflake(),
            "channel_id": channel,
            "author": author,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }


def _guild() -> dict[str, Any]:
    """One guild with one text channel (the bot learns its channels from this)."""
    channel = {
        "id": CHANNEL_ID,
        "type": 0,
        "guild_id": GUILD_ID,
        "name": "general",
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
    }
    everyone = {
        "id": GUILD_ID,
        "name": "@everyone",
        "permissions": "1071698660929",
        "position": 0,
        "color": 0,
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }
    return {
        "id": GUILD_ID,
        "name": "tests",
        "icon": None,
        "splash": None,
        "banner": None,
        "owner_id": "1",
        "features": [],
        "emojis": [],
        "stickers": [],
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "nsfw_level": 0,
        "joined_at": _now(),
        "large": False,
        "unavailable": False,
        "member_count": 1,
        "members": [{"user": BOT_USER, "roles": [], "joined_at": _now(), "deaf": False, "mute": False}],
        "roles": [everyone],
        "channels": [channel],
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "premium_progress_bar_enabled": False,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat()
