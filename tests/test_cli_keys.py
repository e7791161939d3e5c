"""The CLI with API keys on, run as a user runs it (the `impressox` executable, the stack found
through the data dir's stack file): a missing or refused key is one line saying how to give one;
`impressox login` stores the key (0600) for every later command; `impressox chat` continues the
last session unless --new; `impressox sessions` lists titles under a header, as JSON with --json,
survives a closed pipe, and `sessions end` ends sessions by id or by idleness."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import pytest

from api.app import create_app
from core.settings import ApiKey, Settings
from devstack.processes import find_executable
from devstack.stackfile import StackInfo, write_stack
from tests.served import served

ALICE = "alice-key-0123456789abcdef"
#: the key's user, this run's own: other tests' sessions of "alice" share the session's Temporal server
#: and would be listed by `impressox sessions` too
USER = f"alice-{uuid.uuid4().hex[:6]}"


class Stack(NamedTuple):
    data_dir: Path
    api_url: str


@pytest.fixture
async def keyed_stack(settings: Settings, worker: None, tmp_path: Path) -> AsyncIterator[Stack]:
    keyed = settings.model_copy(update={"api_keys": [ApiKey(user=USER, key=ALICE)]})
    async with served(create_app(keyed)) as url:
        info = StackInfo(
            temporal_address=keyed.temporal_address, api_url=url, redis_url=keyed.redis_url, pid=os.getpid()
        )
        write_stack(tmp_path, info)
        yield Stack(tmp_path, url)


def env_of(stack: Stack, key: str | None = None) -> dict[str, str]:
    """A user's shell: the data dir and the key if any, none of the server's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    env["IMPRESSOX_DATA_DIR"] = str(stack.data_dir)
    if key is not None:
        env["IMPRESSOX_API_KEY"] = key
    return env


async def impressox(stack: Stack, *args: str, key: str | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    """The command in a thread: the API it talks to is served by this test's event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [find_executable("impressox"), *args],
        capture_output=True,
        text=True,
        env=env_of(stack, key),
        input=stdin,
        timeout=180,
    )


def said(p: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (p.stdout + p.stderr).splitlines() if line.strip()]


async def test_a_missing_or_refused_key_is_one_line_saying_how_to_give_one(keyed_stack: Stack) -> None:
    missing = await impressox(keyed_stack, "chat", "what is 2+2?")
    assert missing.returncode != 0
    [line] = said(missing)
    assert "IMPRESSOX_API_KEY" in line and "--api-key" in line and "impressox login" in line

    wrong = await impressox(keyed_stack, "sessions", "--api-key", "not-a-key")
    assert wrong.returncode != 0
    [line] = said(wrong)
    assert "refused the API key from --api-key" in line


async def test_login_stores_the_key_for_every_command_and_chat_continues_its_session(keyed_stack: Stack) -> None:
    refused = await impressox(keyed_stack, "login", "--stdin", stdin="wrong-key\n")
    assert refused.returncode != 0 and not (keyed_stack.data_dir / "cli" / "api_key").exists()

    login = await impressox(keyed_stack, "login", "--stdin", stdin=ALICE + "\n")
    assert login.returncode == 0, login.stderr
    stored = keyed_stack.data_dir / "cli" / "api_key"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    first = await impressox(keyed_stack, "chat", "--no-stream", "what is 17 * 23?")
    assert first.returncode == 0, first.stderr
    assert "391" in first.stdout
    second = await impressox(keyed_stack, "chat", "--no-stream", "what is 2 + 2?")
    assert "4" in second.stdout
    session_of = [line for p in (first, second) for line in p.stderr.splitlines() if line.startswith("session: ")]
    assert session_of[0] == session_of[1]  # the second chat continued the first one's session
    new = await impressox(keyed_stack, "chat", "--no-stream", "--new", "what is 3 + 3?")
    assert "6" in new.stdout and f"session: {session_of[0][9:]}" not in new.stderr

    # the list is Temporal's visibility, which trails a new session by a moment on a loaded machine
    for _ in range(40):
        as_json = json.loads((await impressox(keyed_stack, "sessions", "--json")).stdout)
        if {s["title"] for s in as_json} == {"what is 17 * 23?", "what is 3 + 3?"}:
            break
        await asyncio.sleep(0.5)
    assert {s["title"] for s in as_json} == {"what is 17 * 23?", "what is 3 + 3?"}, as_json
    listing = await impressox(keyed_stack, "sessions")
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split()[:2] == ["SESSION", "TITLE"]
    assert any(session_of[0][9:] in row and "what is 17 * 23?" in row for row in rows), listing.stdout

    assert (await impressox(keyed_stack, "logout")).returncode == 0 and not stored.exists()
    assert (await impressox(keyed_stack, "sessions")).returncode != 0


async def test_sessions_survives_a_closed_pipe_and_ends_sessions(keyed_stack: Stack) -> None:
    made = []
    for question in ("what is 1 + 1?", "what is 2 + 2?"):
        chat = await impressox(keyed_stack, "chat", "--new", "--no-stream", question, key=ALICE)
        assert chat.returncode == 0, chat.stderr
        made += [line[9:] for line in chat.stderr.splitlines() if line.startswith("session: ")]

    # the reader goes away before the list is printed (as `impressox sessions | head -0` does)
    reader, writer = os.pipe()
    os.close(reader)
    closed = await asyncio.to_thread(
        subprocess.run,
        [find_executable("impressox"), "sessions"],
        stdout=writer,
        stderr=subprocess.PIPE,
        text=True,
        env=env_of(keyed_stack, ALICE),
        timeout=180,
    )
    os.close(writer)
    assert closed.returncode == 0 and closed.stderr == "", closed.stderr

    listed = json.loads((await impressox(keyed_stack, "sessions", "--json", key=ALICE)).stdout)
    assert set(made) <= {s["session_id"] for s in listed}  # (other tests' sessions of alice may be listed too)
    one, other = made
    ended = await impressox(keyed_stack, "sessions", "end", one, key=ALICE)
    assert ended.returncode == 0 and f"ended {one}" in ended.stdout
    await asyncio.sleep(1.5)
    idle = await impressox(keyed_stack, "sessions", "end", "--idle", "1s", key=ALICE)
    assert idle.returncode == 0 and f"ended {other}" in idle.stdout and f"ended {one}" not in idle.stdout, idle.stdout
