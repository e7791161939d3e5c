"""The README's "Use a real model" blocks, each run as written against a fake of its provider at
the network edge (a real HTTP server on localhost speaking the OpenAI or Anthropic API; only the
base URL is pointed at it). And a misconfigured model, as a user meets it: the turn fails at once
(no retries) with a reply naming the setting to fix, a final `error` event, and `impressox chat`
exiting non-zero."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import SecretStr
from temporalio.client import Client

from api.app import create_app
from core.agents import AgentFactory
from core.cache import Cache
from core.schemas import TurnResult
from core.settings import Settings
from devstack.processes import find_executable, free_port, port_open, wait_until
from devstack.stackfile import StackInfo, write_stack
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.served import served
from tests.test_remote_llm import FakeOpenAI

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_configs() -> dict[str, dict[str, str]]:
    """``{"OpenAI": {"IMPRESSOX_MODEL": ...}, ...}``: the section's ``export`` blocks by their label."""
    section = README.read_text().split("## Use a real model", 1)[1].split("\n## ", 1)[0]
    configs = {}
    for before, block in re.findall(r"((?:[^`]|`[^`])*?)```sh\n(.*?)```", section, re.S):
        paragraph = " ".join(before.strip().split("\n\n")[-1].split())  # the text just above the block
        configs[paragraph.split(" (")[0].rstrip(":")] = dict(re.findall(r"^export (\w+)=(\S+)$", block, re.M))
    return configs


class FakeAnthropic:
    """Answers like Anthropic's Messages API: a calculator tool call, then an answer from its
    result, streamed as Anthropic's server-sent events when the request asks for ``stream``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.app = FastAPI()
        self.app.post("/v1/messages")(self.complete)

    async def complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"key": request.headers.get("x-api-key"), "body": body})
        last = body["messages"][-1]
        blocks = last["content"] if isinstance(last["content"], list) else []
        result = next((b for b in blocks if b.get("type") == "tool_result"), None)
        if result is not None:
            content = result["content"]
            text = content if isinstance(content, str) else "".join(c.get("text", "") for c in content)
            block: dict[str, Any] = {"type": "text", "text": f"The calculator says: {text}"}
            stop = "end_turn"
        else:
            block = {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expression": "6 * 7"}}
            stop = "tool_use"
        message = {"id": "msg_fake", "type": "message", "role": "assistant", "model": body["model"]}
        usage = {"input_tokens": 11, "output_tokens": 7}
        if not body.get("stream"):
            return JSONResponse({**message, "content": [block], "stop_reason": stop, "usage": usage})
        return StreamingResponse(self.events(message, block, stop), media_type="text/event-stream")

    async def events(self, message: dict, block: dict, stop: str):
        def event(kind: str, **data: Any) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        yield event(
            "message_start",
            message={**message, "content": [], "stop_reason": None, "usage": {"input_tokens": 11, "output_tokens": 0}},
        )
        if block["type"] == "text":
            yield event("content_block_start", index=0, content_block={"type": "text", "text": ""})
            for i, word in enumerate(block["text"].split(" ")):
                yield event(
                    "content_block_delta", index=0, delta={"type": "text_delta", "text": (" " if i else "") + word}
                )
        else:
            start = {**block, "input": {}}
            yield event("content_block_start", index=0, content_block=start)
            partial = json.dumps(block["input"])
            yield event("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": partial})
        yield event("content_block_stop", index=0)
        yield event("message_delta", delta={"stop_reason": stop, "stop_sequence": None}, usage={"output_tokens": 7})
        yield event("message_stop")


def serve_in_thread(app: FastAPI) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: port_open(port), 10, "a fake model provider")
    yield port
    server.should_exit = True
    thread.join(5)


@pytest.fixture(scope="module")
def fakes() -> Iterator[dict[str, tuple[Any, int]]]:
    openai, anthropic = FakeOpenAI(), FakeAnthropic()
    for port_openai in serve_in_thread(openai.app):
        for port_anthropic in serve_in_thread(anthropic.app):
            yield {"openai": (openai, port_openai), "anthropic": (anthropic, port_anthropic)}


@pytest.fixture(autouse=True)
def no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what the block sets: no provider key lying around in the test's environment."""
    for name in list(os.environ):
        if name.endswith("_API_KEY") or name.startswith("IMPRESSOX_LLM_") or name == "IMPRESSOX_MODEL":
            monkeypatch.delenv(name)


def configured(settings: Settings, block: dict[str, str], api_base: str) -> Settings:
    """The settings as the block's environment makes them, its server moved to the fake's address."""
    assert set(block) <= {"IMPRESSOX_MODEL", "IMPRESSOX_LLM_API_KEY", "IMPRESSOX_LLM_API_BASE"}, block
    return settings.model_copy(
        update={
            "model": block["IMPRESSOX_MODEL"],
            "llm_api_key": SecretStr(block["IMPRESSOX_LLM_API_KEY"]) if "IMPRESSOX_LLM_API_KEY" in block else None,
            "llm_api_base": api_base,
            "llm_timeout_seconds": 10.0,
        }
    )


@pytest.fixture
async def run_turn(client: Client, cache: Cache) -> Any:
    async def turn(settings: Settings, text: str = "what is six times seven?") -> tuple[TurnResult, str]:
        registry = load_tools(settings.tool_modules)
        agents = AgentFactory.from_yaml(Path(settings.agents_file), registry, settings)
        async with build_worker(client, settings, registry, cache):
            sessions = SessionService(client, settings, agents)
            sid = await sessions.create("local", "assistant")
            result = await sessions.send("local", sid, text, wait=60)
        assert isinstance(result, TurnResult), result
        return result, sid

    return turn


def test_the_readme_has_the_three_configs() -> None:
    configs = readme_configs()
    assert set(configs) == {"OpenAI", "Anthropic", "A local OpenAI-compatible server, e.g. ollama"}, configs
    assert configs["A local OpenAI-compatible server, e.g. ollama"]["IMPRESSOX_LLM_API_BASE"].startswith("http://")


@pytest.mark.parametrize(
    ("label", "provider", "path"),
    [
        ("OpenAI", "openai", "/v1"),
        ("Anthropic", "anthropic", ""),
        ("A local OpenAI-compatible server, e.g. ollama", "openai", "/v1"),
    ],
)
async def test_each_readme_config_answers_with_tools(
    label: str, provider: str, path: str, settings: Settings, fakes: dict, run_turn: Any
) -> None:
    block = readme_configs()[label]
    fake, port = fakes[provider]
    fake.requests.clear()
    result, _ = await run_turn(configured(settings, block, f"http://127.0.0.1:{port}{path}"))
    assert result.status == "done" and result.reply == "The calculator says: 6 * 7 = 42", result.reply
    assert len(fake.requests) >= 2  # a tool call, then the answer (an attempt a loaded machine timed out may repeat)
    first = fake.requests[0]
    sent_key = first["key"] if provider == "anthropic" else first["auth"].removeprefix("Bearer ")
    assert sent_key == block["IMPRESSOX_LLM_API_KEY"]
    assert first["body"]["model"] == block["IMPRESSOX_MODEL"].split("/", 1)[1]


@pytest.mark.parametrize(
    ("model", "key", "base", "says"),
    [
        ("openai/gpt-4o-mini", None, None, "has no API key: set IMPRESSOX_LLM_API_KEY (or OPENAI_API_KEY)"),
        ("anthropic/claude-3-5-haiku-latest", None, None, "set IMPRESSOX_LLM_API_KEY (or ANTHROPIC_API_KEY)"),
        ("nosuchprovider/some-model", "k", None, "set the agent's `model`"),
        ("openai/gpt-4o-mini", "k", "http://127.0.0.1:{dead}/v1", "check IMPRESSOX_LLM_API_BASE"),
    ],
)
async def test_a_misconfigured_model_fails_at_once_naming_the_setting(
    model: str, key: str | None, base: str | None, says: str, settings: Settings, run_turn: Any, client: Client
) -> None:
    broken = settings.model_copy(
        update={
            "model": model,
            "llm_api_key": SecretStr(key) if key else None,
            "llm_api_base": base.format(dead=free_port()) if base else None,
        }
    )
    result, sid = await run_turn(broken)
    assert result.status == "failed" and says in result.reply, result.reply
    history = (await client.get_workflow_handle(sid).fetch_history()).to_json()
    assert history.count('"activityTaskStartedEventAttributes"') == 1, "the misconfiguration was retried"


@pytest.fixture
async def broken_stack(client: Client, settings: Settings, cache: Cache, tmp_path: Path) -> AsyncIterator[Path]:
    """A stack whose model has no key, found by `impressox` through the data dir's stack file."""
    broken = settings.model_copy(update={"model": "openai/gpt-4o-mini", "llm_api_key": None})
    async with build_worker(client, broken, load_tools(broken.tool_modules), cache):
        async with served(create_app(broken)) as url:
            info = StackInfo(
                temporal_address=broken.temporal_address, api_url=url, redis_url=broken.redis_url, pid=os.getpid()
            )
            write_stack(tmp_path, info)
            yield tmp_path


async def test_impressox_chat_exits_non_zero_with_the_setting_to_fix(broken_stack: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    env["IMPRESSOX_DATA_DIR"] = str(broken_stack)
    for flags in ([], ["--no-stream"]):
        p = await asyncio.to_thread(
            subprocess.run,
            [find_executable("impressox"), "chat", *flags, "what is six times seven?"],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )
        assert p.returncode != 0, p.stdout
        lines = [line for line in p.stdout.splitlines() if line.strip()]
        assert len(lines) == 1 and "IMPRESSOX_LLM_API_KEY" in lines[0], p.stdout


async def test_the_stream_says_error_once_and_final(settings: Settings, client: Client, cache: Cache) -> None:
    broken = settings.model_copy(update={"model": "openai/gpt-4o-mini", "llm_api_key": None})
    async with build_worker(client, broken, load_tools(broken.tool_modules), cache):
        async with served(create_app(broken)) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
            sid = (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
            events: list[tuple[str, str]] = []
            async with http.stream(
                "POST", f"/v1/sessions/{sid}/messages", params={"stream": "true"}, json={"text": "what is 6*7?"}
            ) as r:
                kind = ""
                async for line in r.aiter_lines():
                    if line.startswith("event:"):
                        kind = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        events.append((kind, line.split(":", 1)[1].strip()))
    errors = [json.loads(data) for kind, data in events if kind == "error"]
    assert len(errors) == 1 and errors[0]["final"] is True and "IMPRESSOX_LLM_API_KEY" in errors[0]["message"]
    assert [kind for kind, _ in events][-1] == "done" and "reset" not in [kind for kind, _ in events]
