"""A network LLM by config (litellm `openai/...` model), faked at the network edge: a real HTTP
server on localhost speaking the OpenAI chat API. Our gateway, nodes and workflow run for real."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import SecretStr
from temporalio.client import Client

from core.agents import AgentFactory
from core.cache import Cache
from core.schemas import TurnResult
from core.settings import Settings
from devstack.processes import free_port, port_open, wait_until
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.conftest import decoded_payloads
from tests.turns import done


class FakeOpenAI:
    """Answers like OpenAI: a calculator tool call first, then an answer from the tool result,
    streamed as server-sent chunks when the request asks for ``stream``.
    ``fail_with`` statuses are returned first, one per request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_with: list[int] = []
        self.slow_calls = 0  # this many requests hang for longer than the LLM timeout
        self.broken_streams = 0  # this many streamed answers break off after their first tokens
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.complete)

    async def complete(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"auth": request.headers.get("authorization"), "body": body})
        if self.slow_calls:
            self.slow_calls -= 1
            await asyncio.sleep(3)
        if self.fail_with:
            status = self.fail_with.pop(0)
            return JSONResponse({"error": {"message": f"fake {status}", "type": "fake"}}, status_code=status)
        last = body["messages"][-1]
        if last["role"] == "tool":
            message: dict[str, Any] = {"role": "assistant", "content": f"The calculator says: {last['content']}"}
            finish = "stop"
        else:
            call = {
                "id": f"call_{len(self.requests)}",
                "type": "function",
                "function": {"name": "calculator", "arguments": json.dumps({"expression": "6 * 7"})},
            }
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        if body.get("stream"):
            return StreamingResponse(self.chunks(body, message, finish), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
        )

    async def chunks(self, body: dict, message: dict, finish: str):
        def frame(choices: list, **extra: object) -> str:
            data = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
            return f"data: {json.dumps({**data, 'choices': choices, **extra})}\n\n"

        def chunk(delta: dict, finish_reason: str | None = None) -> str:
            return frame([{"index": 0, "delta": delta, "finish_reason": finish_reason}])

        words = (message["content"] or "").split(" ")
        for i, word in enumerate(words):
            yield chunk({"role": "assistant", "content": word if i == 0 else " " + word})
            await asyncio.sleep(0.01)
            if i == 2 and self.broken_streams:
                self.broken_streams -= 1
                raise ConnectionResetError("the fake model's stream breaks off")
        for i, call in enumerate(message.get("tool_calls") or []):
            yield chunk({"tool_calls": [{"index": i, **call}]})
        yield chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            yield frame([], usage={"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18})
        yield "data: [DONE]\n\n"


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[tuple[FakeOpenAI, int]]:
    fake, port = FakeOpenAI(), free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: port_open(port), 10, "the fake OpenAI server")
    yield fake, port
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def remote_settings(settings: Settings, fake_openai: tuple[FakeOpenAI, int]) -> Settings:
    fake, port = fake_openai
    fake.requests.clear()
    fake.fail_with.clear()
    fake.slow_calls = 0
    fake.broken_streams = 0
    return settings.model_copy(
        update={
            "model": "openai/gpt-4o-mini",
            "llm_api_base": f"http://127.0.0.1:{port}/v1",
            "llm_api_key": SecretStr("sk-test-secret-key"),
            "llm_timeout_seconds": 1.0,
        }
    )


@pytest.fixture
async def remote(client: Client, remote_settings: Settings, cache: Cache) -> AsyncIterator[SessionService]:
    registry = load_tools(remote_settings.tool_modules)
    agents = AgentFactory.from_yaml(Path(remote_settings.agents_file), registry, remote_settings)
    async with build_worker(client, remote_settings, registry, cache):
        yield SessionService(client, remote_settings, agents)


async def test_a_network_model_by_config_answers_with_tools(remote: SessionService, fake_openai, client: Client):
    fake, _ = fake_openai
    sid = await remote.create("local", "assistant")
    r = await remote.send("local", sid, "what is six times seven?", wait=30)
    assert isinstance(r, TurnResult) and r.reply == "The calculator says: 6 * 7 = 42"
    assert r.usage.total_tokens == 36  # two model calls, usage recorded for the turn
    assert len(fake.requests) == 2
    first = fake.requests[0]
    assert first["auth"] == "Bearer sk-test-secret-key"
    assert first["body"]["model"] == "gpt-4o-mini"
    assert [t["function"]["name"] for t in first["body"]["tools"]] == ["calculator", "current_time"]
    assert first["body"]["messages"][0]["role"] == "system"
    history = decoded_payloads((await client.get_workflow_handle(sid).fetch_history()).to_json())
    assert "6 * 7 = 42" in history and "sk-test-secret-key" not in history


async def test_an_auth_error_is_not_retried_and_the_user_is_told(remote: SessionService, fake_openai):
    fake, _ = fake_openai
    fake.fail_with = [401] * 10
    sid = await remote.create("local", "assistant")
    r = await remote.send("local", sid, "what is six times seven?", wait=30)
    assert r.status == "failed" and "IMPRESSOX_LLM_API_KEY (or OPENAI_API_KEY)" in r.reply
    assert len(fake.requests) == 1, "an auth failure was retried"


async def test_a_provider_outage_is_retried_by_temporal(remote: SessionService, fake_openai):
    fake, _ = fake_openai
    fake.fail_with = [503, 503]
    sid = await remote.create("local", "assistant")
    r = done(await remote.send("local", sid, "what is six times seven?", wait=30))
    assert r.status == "done" and "42" in r.reply
    assert len(fake.requests) == 4  # 2 failures retried by Temporal (one request each), then 2 calls


async def test_the_same_message_is_answered_while_the_model_is_slow_to_recover(remote: SessionService, fake_openai):
    fake, _ = fake_openai
    fake.fail_with = [500]
    sid = await remote.create("local", "assistant")
    first, second = map(
        done,
        await asyncio.gather(
            remote.send("local", sid, "what is six times seven?", wait=30, message_id="m-1"),
            remote.send("local", sid, "what is six times seven?", wait=30, message_id="m-1"),
        ),
    )
    assert first.turn == second.turn == 1 and first.reply == second.reply


async def test_an_llm_timeout_is_retried_and_the_turn_completes(remote: SessionService, fake_openai):
    fake, _ = fake_openai
    fake.slow_calls = 1
    sid = await remote.create("local", "assistant")
    r = done(await remote.send("local", sid, "what is six times seven?", wait=30))
    assert r.status == "done" and "42" in r.reply
    assert len(fake.requests) == 3  # the hung call, its retry, the answer
