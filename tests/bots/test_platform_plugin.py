"""A third chat platform written as docs/extending.md shows it (one module, named by
IMPRESSOX_PLATFORM_MODULES) answers a chat through the real session workflow: its message signals
the session, and the reply comes back through its own ``deliver`` activity on its own task queue."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from temporalio.client import Client

from bots.common.platforms import load_platforms
from bots.common.runtime import BotRuntime
from core.settings import Settings
from devstack.processes import free_port
from tests.unit.test_extending_docs import files_of_the_doc


async def test_the_documented_lines_platform_answers_over_tcp(
    client: Client, settings: Settings, worker: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lines_platform.py").write_text(files_of_the_doc()["lines_platform.py"])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lines_platform", raising=False)
    port = free_port()
    mine = settings.model_copy(
        update={"platform_modules": ["lines_platform"], "platforms": {"lines": {"token": "on", "port": str(port)}}}
    )
    lines = load_platforms(mine.platform_modules).get("lines")
    stop, ready = asyncio.Event(), tmp_path / "lines.ready"
    running = asyncio.create_task(lines.run(mine, lines.settings(mine), stop, ready))
    try:
        for _ in range(600):
            if ready.exists() or running.done():
                break
            await asyncio.sleep(0.1)
        assert ready.exists(), running
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        me = str(writer.get_extra_info("sockname")[1])
        writer.write(b"what is 17 * 23?\n")
        await writer.drain()
        said = ""
        while "391" not in said:
            line = await asyncio.wait_for(reader.readline(), 60)
            assert line, f"the platform hung up; it said {said!r}"
            said += line.decode()
        writer.close()

        runtime = await BotRuntime.start(mine, client)
        try:
            view = await runtime.chats.identity("lines", me)
            assert runtime.chats.owner(view) == f"ln-{me}"  # an unlinked user of the platform, under its prefix
            assert view.sessions["dm"].startswith(f"lines:ln-{me}:")
        finally:
            await runtime.close()
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
