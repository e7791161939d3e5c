"""``POST /v1/links`` / ``GET /v1/links`` through the API, and ``/link`` through the service."""

from __future__ import annotations

import asyncio

import httpx
from temporalio.client import Client

from bots.common.runtime import BotRuntime
from core.settings import Settings


async def test_code_links_an_identity_listed_for_the_user(
    api: httpx.AsyncClient, client: Client, settings: Settings
) -> None:
    r = await api.post("/v1/links", json={})
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert code.isdigit() and len(code) >= 6

    chats = (await BotRuntime.start(settings, client)).chats
    assert await chats.link("discord", "42", code) == "local"
    owner, sid = await chats.session_for("discord", "42", "dm")
    assert owner == "local" and sid.startswith("discord:local:")

    for _ in range(50):  # visibility follows the link a moment later
        listed = (await api.get("/v1/links")).json()
        if listed:
            break
        await asyncio.sleep(0.2)
    assert [x["identity"] for x in listed] == ["discord:42"]

    await chats.unlink("discord", "42")
    owner, sid = await chats.session_for("discord", "42", "dm")
    assert owner == "dc-42" and sid.startswith("discord:dc-42:")


async def test_a_code_is_made_for_a_request_without_a_body(api: httpx.AsyncClient) -> None:
    # the web page's "Make a link code" posts no body at all
    for r in (await api.post("/v1/links"), await api.post("/v1/links", headers={"content-type": "application/json"})):
        assert r.status_code == 201, r.text
        assert r.json()["code"].isdigit()
    assert (await api.post("/v1/links", json={"extra": 1})).status_code == 422
