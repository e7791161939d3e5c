"""Sending, editing and deleting the bot's Discord messages, in the terms of ``bots.common.streaming``.

A message's ref says how to reach it again: ``@original`` is a slash command's deferred
response, ``wh:<id>`` a follow-up on the interaction's webhook, a bare id a channel message.
An interaction's webhook lives 15 minutes; when its token is dead, the reply goes to the
channel instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nextcord
from nextcord.http import Route

from bots.common.streaming import RateLimited, Refused, retry_after_seconds
from core.bots import ApprovalButton
from core.schemas import ReplyAddress
from services.chats import call_reference

ORIGINAL = "@original"
WEBHOOK = "wh:"


class DiscordSurface:
    def __init__(self, client: nextcord.Client) -> None:
        self.client = client

    def throttle_key(self, address: ReplyAddress, ref: str | None) -> str | None:
        # Discord limits edits per message; a new message is not an edit
        return f"dc:{address.chat_id}:{address.interaction_token or ''}:{ref}" if ref else None

    async def send(self, address: ReplyAddress, text: str, *, first: bool, buttons: ApprovalButton | None) -> str:
        payload = _payload(text, buttons)
        if address.interaction_token:
            if first and await self._webhook("PATCH", ORIGINAL, address, payload) is not None:
                return ORIGINAL
            message = await self._webhook("POST", None, address, payload)
            if message is not None:
                return WEBHOOK + str(message.get("id", ""))
        if first and address.reply_to:
            payload["message_reference"] = reference(address.reply_to)
        with _platform_errors():
            message = await self.client.http.request(
                Route("POST", "/channels/{channel_id}/messages", channel_id=address.chat_id), json=payload
            )
        return str(message["id"])

    async def edit(self, address: ReplyAddress, ref: str, text: str, *, buttons: ApprovalButton | None) -> None:
        await self._change("PATCH", address, ref, _payload(text, buttons))

    async def delete(self, address: ReplyAddress, ref: str) -> None:
        try:
            await self._change("DELETE", address, ref, None)
        except Refused:
            pass  # already gone

    async def _change(self, method: str, address: ReplyAddress, ref: str, payload: dict[str, Any] | None) -> None:
        if ref == ORIGINAL or ref.startswith(WEBHOOK):
            if await self._webhook(method, ref.removeprefix(WEBHOOK), address, payload) is None:
                raise Refused("the interaction's webhook is gone")
            return
        with _platform_errors():
            await self.client.http.request(
                Route(
                    method, "/channels/{channel_id}/messages/{message_id}", channel_id=address.chat_id, message_id=ref
                ),
                json=payload,
            )

    async def _webhook(
        self, method: str, message: str | None, address: ReplyAddress, payload: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """One call on the interaction's webhook (``message``: one of its messages); None when its
        token is dead. A 429 is raised as ``RateLimited``."""
        path = "/webhooks/{application_id}/{token}" + (f"/messages/{message}" if message else "")
        route = Route(method, path, application_id=self.client.application_id, token=address.interaction_token)
        try:
            with _platform_errors():
                reply = await self.client.http.request(route, json=payload)
        except Refused:
            return None
        return reply if isinstance(reply, dict) else {}


@contextmanager
def _platform_errors() -> Iterator[None]:
    try:
        yield
    except nextcord.HTTPException as exc:
        if exc.status == 429:
            headers = getattr(exc.response, "headers", {}) or {}
            raise RateLimited(retry_after_seconds(headers.get("Retry-After"))) from None
        if exc.status in (400, 401, 403, 404):
            raise Refused(str(exc)) from None
        raise


def reference(message_id: str | int) -> dict[str, Any]:
    return {"message_id": str(message_id), "fail_if_not_exists": False}


def _payload(text: str, buttons: ApprovalButton | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"content": text, "allowed_mentions": {"parse": []}}
    if buttons is not None:
        payload["components"] = approval_buttons(buttons)
    return payload


def approval_buttons(approval: ApprovalButton) -> list[dict[str, Any]]:
    suffix = approval.session_id.rsplit(":", 1)[-1]
    ref = call_reference(approval.call_id)
    if approval.cancel:
        return [
            {"type": 1, "components": [{"type": 2, "style": 4, "label": "Cancel", "custom_id": f"ap:c:{suffix}:{ref}"}]}
        ]
    return [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 3, "label": "Approve", "custom_id": f"ap:y:{suffix}:{ref}"},
                {"type": 2, "style": 4, "label": "Reject", "custom_id": f"ap:n:{suffix}:{ref}"},
            ],
        }
    ]
