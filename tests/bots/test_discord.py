"""The Discord bot (real nextcord) against a fake Discord REST + gateway, with a real worker and Temporal."""

from __future__ import annotations

import asyncio

from core.settings import Settings
from tests.bots.conftest import Running, wait_for
from tests.bots.fake_discord import FakeDiscord

OWNER, STRANGER = 5001, 6006


async def test_dm_and_slash_command(discord: Running, fake_dc: FakeDiscord) -> None:
    await fake_dc.push_dm(OWNER, "what is 17 * 23?")
    dm = fake_dc.dm_channel(OWNER)
    assert await wait_for(fake_dc, lambda: any("391" in t for t in fake_dc.texts(dm)))
    token = await fake_dc.push_slash(OWNER, "ask", {"question": "what is 6 * 7?"})
    assert await wait_for(fake_dc, lambda: any("42" in t for t in fake_dc.texts(token=token)))
    assert fake_dc.acks[token] == 5  # deferred at once


async def test_guild_needs_a_mention(discord: Running, fake_dc: FakeDiscord) -> None:
    await fake_dc.push_guild(OWNER, "what is 2 + 3?")
    await fake_dc.push_guild(OWNER, "what is 5 * 9?", mention=True)
    assert await wait_for(fake_dc, lambda: any("45" in t for t in fake_dc.texts()))
    await asyncio.sleep(2)
    assert not any("5" == t.strip() for t in fake_dc.texts())


async def test_long_answer_is_split(discord: Running, fake_dc: FakeDiscord) -> None:
    await fake_dc.push_dm(OWNER, '/tool long_text {"chars": 10000}')
    dm = fake_dc.dm_channel(OWNER)
    parts = await wait_for(
        fake_dc, lambda: (p := [t for t in fake_dc.texts(dm) if "xxx" in t]) and sum(len(t) for t in p) >= 9900 and p
    )
    assert parts and all(len(t) <= 2000 for t in parts) and len(parts) >= 5


async def test_approval_button_for_the_owner_only(discord: Running, fake_dc: FakeDiscord, settings: Settings) -> None:
    await fake_dc.push_dm(OWNER, '/tool pay {"amount": "7", "to": "carol"}')
    found = await wait_for(fake_dc, fake_dc.with_buttons)
    assert found
    message = found[0]
    approve = next(b for b in message["components"][0]["components"] if b["label"] == "Approve")
    ledger = settings.data_dir / "payments.log"

    token = await fake_dc.push_button(STRANGER, message, approve["custom_id"])
    assert await wait_for(fake_dc, lambda: any("Only the person" in t for t in fake_dc.texts(token=token)))
    assert not ledger.exists()

    await fake_dc.push_button(OWNER, message, approve["custom_id"])
    assert await wait_for(fake_dc, lambda: any("paid 7 to carol" in t for t in fake_dc.texts()))
    assert ledger.read_text().count(" 7 carol") == 1
