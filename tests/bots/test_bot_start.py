"""A bot that cannot start (a refused token, no network) exits non-zero saying why in one line,
run as `impressox bot telegram|discord` is run."""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from devstack.processes import find_executable, free_port
from tests.bots.fake_telegram import FakeTelegram
from tests.conftest import TemporalServer


async def bot_command(platform: str, temporal: TemporalServer, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    base.update(IMPRESSOX_TEMPORAL_ADDRESS=temporal.address, IMPRESSOX_TASK_QUEUE="bot-start-test", **env)
    return await asyncio.to_thread(
        subprocess.run,
        [find_executable("impressox"), "bot", platform],
        capture_output=True,
        text=True,
        env=base,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def last_lines(p: subprocess.CompletedProcess) -> list[str]:
    """The command's one-line verdict (log lines of a normal start-up may come before it), and no traceback."""
    said = [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]
    assert "Traceback" not in p.stdout + p.stderr and said, said
    assert said[-1].startswith("impressox:"), said[-5:]
    return [line for line in said if line.startswith("impressox:")]


@pytest.mark.parametrize("refused", [True, False], ids=["refused-token", "no-network"])
async def test_telegram_that_cannot_start_says_why_in_one_line(
    temporal_server: TemporalServer, fake_tg: FakeTelegram, refused: bool
) -> None:
    url = fake_tg.url if refused else f"http://127.0.0.1:{free_port()}"
    p = await bot_command(
        "telegram", temporal_server, IMPRESSOX_TELEGRAM_TOKEN="1:not-the-token", IMPRESSOX_TELEGRAM_API_URL=url
    )
    assert p.returncode != 0
    [line] = last_lines(p)
    assert ("refused IMPRESSOX_TELEGRAM_TOKEN" if refused else "cannot reach the Telegram Bot API") in line, line


async def test_discord_without_network_says_why_in_one_line(temporal_server: TemporalServer) -> None:
    p = await bot_command(
        "discord",
        temporal_server,
        IMPRESSOX_DISCORD_TOKEN="not-a-token",
        IMPRESSOX_DISCORD_API_URL=f"http://127.0.0.1:{free_port()}/api/v10",
    )
    assert p.returncode != 0
    [line] = last_lines(p)
    assert "cannot reach Discord" in line, line
