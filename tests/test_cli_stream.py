"""`impressox chat` streams: the tokens it prints as they arrive add up to the workflow's reply, and a
turn that stops for an approval is shown at once (over real HTTP: an in-process transport would
hold the stream until the turn ends). The command itself, run as a user runs it: its answer
appears while the turn runs, or with ``--no-stream`` once, when the turn is over; Ctrl-C once stops
the turn on the server (it ends ``cancelled`` with the text printed), twice exits at once."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
from temporalio.client import Client

from api.app import create_app
from cli.backend import ApiBackend
from core.cache import Cache
from core.schemas import TurnResult
from core.settings import Settings
from devstack.processes import find_executable
from devstack.stackfile import StackInfo, write_stack
from services.tools import load_tools
from temporal.worker import build_worker
from tests.served import served


@pytest.fixture
async def backend(settings: Settings, worker: None) -> AsyncIterator[ApiBackend]:
    async with served(create_app(settings)) as url:
        client = ApiBackend(url)
        try:
            yield client
        finally:
            await client.close()


async def test_chat_prints_the_streamed_tokens_and_ends_with_the_turn_result(backend: ApiBackend) -> None:
    sid = await backend.create("assistant")
    pieces: list[str] = []
    result = await backend.send_streaming(sid, "what is 17 * 23?", 60, pieces.append)
    assert isinstance(result, TurnResult)
    assert "391" in result.reply
    assert len(pieces) >= 2  # word by word, not one block
    assert "".join(pieces).strip() == result.reply.strip()


async def test_a_streamed_transfer_stops_at_its_approval(backend: ApiBackend) -> None:
    sid = await backend.create("tester")
    result = await backend.send_streaming(sid, '/tool pay {"amount": "5 USD", "to": "bob"}', 60, lambda _: None)
    assert isinstance(result, TurnResult) and result.status == "awaiting_approval"
    assert (await backend.view(sid)).pending_approvals


class Stack(NamedTuple):
    data_dir: Path
    api_url: str


@pytest.fixture
async def slow_stack(client: Client, settings: Settings, cache: Cache, tmp_path: Path) -> AsyncIterator[Stack]:
    """A worker whose offline model writes a word every 150 ms, the API over real HTTP, and the
    stack file by which `impressox` finds them in its data dir."""
    slow = settings.model_copy(update={"offline_token_delay_ms": 150.0})
    async with build_worker(client, slow, load_tools(slow.tool_modules), cache):
        async with served(create_app(slow)) as url:
            stack = StackInfo(
                temporal_address=slow.temporal_address, api_url=url, redis_url=slow.redis_url, pid=os.getpid()
            )
            write_stack(tmp_path, stack)
            yield Stack(tmp_path, url)


async def chat_command(stack: Stack, *flags: str) -> tuple[str, str, bool, str]:
    """Run `impressox chat` on a question it has not seen (a cached answer is not paced) in a new
    session. Returns (its first output, all of its output, whether the session had answered when
    the first output appeared, the session's answer)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    env["IMPRESSOX_DATA_DIR"] = str(stack.data_dir)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
        r = await http.post("/v1/sessions", json={"agent": "assistant"})
        sid = r.json()["session_id"]
        question = f"tell me how streaming works {uuid.uuid4().hex[:8]}"
        proc = await asyncio.create_subprocess_exec(
            find_executable("impressox"),
            "chat",
            "--session",
            sid,
            *flags,
            question,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            assert proc.stdout is not None and proc.stderr is not None
            first = (await asyncio.wait_for(proc.stdout.read(65536), 120)).decode()
            answered_then = _answer(await http.get(f"/v1/sessions/{sid}")) is not None
            rest = (await asyncio.wait_for(proc.stdout.read(), 120)).decode()
            errors = (await asyncio.wait_for(proc.stderr.read(), 60)).decode()
            assert await asyncio.wait_for(proc.wait(), 60) == 0, errors
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        answer = _answer(await http.get(f"/v1/sessions/{sid}"))
    assert answer is not None and f"session: {sid}" in errors
    return first, first + rest, answered_then, answer


def _answer(view: httpx.Response) -> str | None:
    assert view.status_code == 200, view.text
    replies = [m["content"] for m in view.json()["messages"] if m["role"] == "assistant"]
    return replies[-1] if replies else None


async def test_the_chat_command_prints_the_answer_while_the_model_writes_it(slow_stack: Stack) -> None:
    first, out, answered_then, answer = await chat_command(slow_stack)
    assert not answered_then  # the first words were on screen before the turn was over
    assert first and answer.startswith(first) and first != answer
    assert out == answer + "\n"  # and the answer is shown once, not again at the end


async def test_the_chat_command_with_no_stream_prints_the_answer_once_it_is_complete(slow_stack: Stack) -> None:
    first, out, answered_then, answer = await chat_command(slow_stack, "--no-stream")
    assert answered_then  # nothing was printed while the turn ran
    assert out == answer + "\n" and "offline model" in answer


async def interrupted_chat(stack: Stack, sid: str, presses: int) -> tuple[int, str, str]:
    """Run `impressox chat` on a long answer in session ``sid``, press Ctrl-C ``presses`` times once
    the answer is on screen; (its exit status, its stdout, its stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    env["IMPRESSOX_DATA_DIR"] = str(stack.data_dir)
    proc = await asyncio.create_subprocess_exec(
        find_executable("impressox"),
        "chat",
        "--session",
        sid,
        '/tool long_text {"chars": 29999}',  # 303 lines of x's, one every 150 ms: 45 s in all
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        shown = b""
        while shown.count(b"x") < 300:  # the answer is on screen and growing
            piece = await asyncio.wait_for(proc.stdout.read(65536), 120)
            assert piece, (shown, await proc.stderr.read())
            shown += piece
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
            await asyncio.sleep(0.05)
        code = await asyncio.wait_for(proc.wait(), 30)
        return code, (shown + await proc.stdout.read()).decode(), (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_ctrl_c_in_the_chat_command_stops_the_turn_on_the_server(slow_stack: Stack) -> None:
    """Ctrl-C once while the answer streams: the turn ends ``cancelled`` on the server with the text
    the command printed, the command says so and exits (130, as an interrupted command does), and
    the session answers its next message."""
    async with httpx.AsyncClient(base_url=slow_stack.api_url, timeout=60) as http:
        sid = (await http.post("/v1/sessions", json={"agent": "tester"})).json()["session_id"]
        code, out, errors = await interrupted_chat(slow_stack, sid, presses=1)
        assert code == 130, errors
        assert "Traceback" not in errors and "stopping the turn" in errors, errors
        assert re.search(r"\(cancelled: turn 1 stopped; kept \d+ characters\)", errors), errors

        view = (await http.get(f"/v1/sessions/{sid}")).json()
        assert view["current_turn"] is None  # not left running
        [answer] = [m for m in view["messages"] if m["role"] == "assistant"]
        assert answer["status"] == "cancelled"
        assert answer["content"].strip() == out.strip()  # what was printed is what was kept
        assert 0 < answer["content"].count("x") < 29999 * 0.9
        nxt = await http.post(f"/v1/sessions/{sid}/messages?wait=30", json={"text": "what is 6 * 7?"})
        assert nxt.status_code == 200 and "42" in nxt.json()["reply"]


async def test_ctrl_c_twice_exits_the_chat_command_at_once(slow_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=slow_stack.api_url, timeout=60) as http:
        sid = (await http.post("/v1/sessions", json={"agent": "tester"})).json()["session_id"]
        code, out, errors = await interrupted_chat(slow_stack, sid, presses=2)
    assert code == 130, errors
    assert "Traceback" not in errors and "Ctrl-C again to quit" in errors, errors
