"""Model fallback: an agent's ``model`` fails in a way retrying it does not fix soon, and the node
calls its ``fallbacks`` (two fake OpenAI providers at the network edge, one failing in each way);
the answering model is in the turn's result and the metrics, and a stream that switches mid-way
is reset, never duplicated."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import uvicorn
from prometheus_client import REGISTRY
from pydantic import SecretStr
from temporalio.client import Client

from core.agents import AgentFactory
from core.cache import Cache
from core.settings import Settings
from core.streams import TurnStreams
from devstack.processes import free_port, port_open, wait_until
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.test_remote_llm import FakeOpenAI
from tests.turns import done

AGENTS = """
agents:
  assistant:
    persona: You are a helpful assistant.
    model: openai/primary
    fallbacks: [openai/backup]
    tools: [calculator]
"""


def serve(fake: FakeOpenAI) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: port_open(port), 10, "a fake OpenAI server")
    return server, thread, port


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[FakeOpenAI, FakeOpenAI, dict[str, str]]]:
    primary, backup = FakeOpenAI(), FakeOpenAI()
    running = [serve(primary), serve(backup)]
    bases = {
        "openai/primary": f"http://127.0.0.1:{running[0][2]}/v1",
        "openai/backup": f"http://127.0.0.1:{running[1][2]}/v1",
    }
    yield primary, backup, bases
    for server, thread, _ in running:
        server.should_exit = True
        thread.join(5)


@pytest.fixture
async def chain(
    client: Client, settings: Settings, cache: Cache, tmp_path: Path, providers
) -> AsyncIterator[tuple[SessionService, Settings]]:
    primary, backup, bases = providers
    for fake in (primary, backup):
        fake.requests.clear()
        fake.fail_with.clear()
        fake.slow_calls = fake.broken_streams = 0
    (tmp_path / "agents.yaml").write_text(AGENTS)
    s = settings.model_copy(
        update={
            "agents_file": tmp_path / "agents.yaml",
            "llm_api_bases": bases,
            "llm_api_key": SecretStr("sk-test-fallback"),
            "llm_timeout_seconds": 1.0,
        }
    )
    registry = load_tools(s.tool_modules)
    async with build_worker(client, s, registry, cache):
        yield SessionService(client, s, AgentFactory.from_yaml(s.agents_file, registry, s)), s


def fallbacks(reason: str) -> float:
    return (
        REGISTRY.get_sample_value("impressox_llm_fallbacks_total", {"model": "openai/primary", "reason": reason}) or 0
    )


@pytest.mark.parametrize(
    ("failure", "reason"), [("503", "server"), ("429", "rate_limit"), ("timeout", "timeout"), ("401", "auth")]
)
async def test_the_fallback_model_answers_when_the_first_fails(chain, providers, failure: str, reason: str) -> None:
    sessions, _ = chain
    primary, backup, _ = providers
    if failure == "timeout":
        primary.slow_calls = 10  # each call hangs past the 1 s LLM timeout
    else:
        primary.fail_with = [int(failure)] * 10
    before = fallbacks(reason)
    sid = await sessions.create("local", "assistant")
    r = done(await sessions.send("local", sid, "what is six times seven?", wait=60))
    assert r.status == "done" and r.reply == "The calculator says: 6 * 7 = 42"
    assert r.model == "openai/backup"
    # both steps went to the backup after one try each at the primary: no Temporal retry of the step
    assert len(primary.requests) == 2 and len(backup.requests) == 2
    assert [q["body"]["model"] for q in backup.requests] == ["backup", "backup"]
    assert fallbacks(reason) - before == 2


async def test_without_a_failure_the_first_model_answers(chain, providers) -> None:
    sessions, _ = chain
    primary, backup, _ = providers
    sid = await sessions.create("local", "assistant")
    r = done(await sessions.send("local", sid, "what is six times seven?", wait=60))
    assert r.model == "openai/primary" and len(primary.requests) == 2 and backup.requests == []


async def test_a_stream_that_breaks_off_switches_model_with_a_reset(chain, providers) -> None:
    sessions, s = chain
    primary, backup, _ = providers
    primary.broken_streams = 1  # the answer's stream breaks off after three words
    sid = await sessions.create("local", "assistant")
    r = done(await sessions.send("local", sid, "what is six times seven?", wait=60, message_id="m1"))
    assert r.model == "openai/backup" and r.reply == "The calculator says: 6 * 7 = 42"
    streams = TurnStreams.from_settings(s)
    try:
        events = await streams.read(sid, "m1")
    finally:
        await streams.close()
    kinds = [e.event for e in events]
    data = [json.loads(e.data) for e in events]
    reset = kinds.index("reset")
    shown_before = "".join(d.get("text", "") for k, d in zip(kinds[:reset], data, strict=False) if k == "token")
    shown_after = "".join(d.get("text", "") for k, d in zip(kinds[reset:], data[reset:], strict=True) if k == "token")
    assert shown_before == "The calculator says:" and data[reset]["reason"] == "fallback"
    assert shown_after == r.reply  # after the reset the whole answer once, from the backup
