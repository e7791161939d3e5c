"""Record histories of AgentSessionWorkflow for the replay test (tests/test_replay.py).

Run after a deliberate, compatible workflow change:
    .venv/bin/python -m tests.histories.record PREFIX [idle-compact]
Each scenario's history is written to tests/histories/PREFIX-<scenario>-<run>.json. Keep the
old files: they stand for the sessions already running in production.

Payloads are encrypted by the codec, as in production, with RECORDING_CODEC_KEY: a fixed,
public test key, committed so the replay test can decrypt them (never use it for real data).
"""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.worker import Worker

from bots.common.delivery import DeliveryPlugin
from core.agents import AgentFactory
from core.bots import DELIVER, Delivery, bot_task_queue
from core.cache import MemoryCache
from core.schemas import ReplyAddress
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port
from devstack.temporal_server import TemporalDevServer
from services.sessions import SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.conftest import make_settings
from tests.mcp.conftest import AGENTS as MCP_AGENTS
from tests.mcp.conftest import everything_stdio, time_server

HERE = Path(__file__).parent
#: the fixed test key of the recorded (encrypted) histories; public, for tests only
RECORDING_CODEC_KEY = "recording-test:0dMFl5BsQAhTYzQIjmK/6hvdCv01ePEfkhc5xUnManY="


delivered: list[Delivery] = []


@activity.defn(name=DELIVER)
async def deliver(delivery: Delivery) -> None:
    """The chat platform's edge: what the bot would send is only noted."""
    delivered.append(delivery)


async def record_idle_compact(prefix: str) -> None:
    """One scenario alone (recorded with v6): a session idle after its turn continues as new with
    its compact state (IDLE_COMPACT), and the new run takes the next turn."""
    tmp = Path(tempfile.mkdtemp())
    server = TemporalDevServer(free_port(), tmp / "t.db").start()
    settings = make_settings(server, "redis://127.0.0.1:1/0", tmp, codec_keys=[RECORDING_CODEC_KEY])
    settings = settings.model_copy(update={"session_idle_compact_after": timedelta(seconds=1)})
    client = await connect(settings)
    await ensure_registered(client)
    registry = load_tools(settings.tool_modules)
    sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
    try:
        async with build_worker(client, settings, registry, MemoryCache()):
            sid = await sessions.create("local", "tester", session_id="replay-idle-compact")
            await sessions.send("local", sid, "what is 17 * 23?", wait=30)
            first = (await client.get_workflow_handle(sid).describe()).run_id
            while (await client.get_workflow_handle(sid).describe()).run_id == first:
                await asyncio.sleep(0.2)
            await sessions.send("local", sid, "what is 2 + 2?", wait=30)
            await asyncio.sleep(2)  # and the second run compacts in turn
            await _save(client, sid, prefix + "-idle-compact")
    finally:
        del sessions, client
        gc.collect()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def record(prefix: str) -> None:
    tmp = Path(tempfile.mkdtemp())
    server = TemporalDevServer(free_port(), tmp / "t.db").start()
    settings = make_settings(
        server,
        "redis://127.0.0.1:1/0",
        tmp,
        continue_as_new_after_turns=3,
        codec_keys=[RECORDING_CODEC_KEY],
        mcp_servers={"time": time_server(), "everything": everything_stdio()},
    )
    client = await connect(settings)
    await ensure_registered(client)
    registry = load_tools(settings.tool_modules)
    sessions = SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))
    try:
        async with build_worker(client, settings, registry, MemoryCache()):
            sid = await sessions.create("local", "tester", session_id="replay-basic")
            for text in ("what is 17 * 23?", "what time is it in Tokyo?", "hello", "time in Atlantis"):
                await sessions.send("local", sid, text, wait=30)
            await _save(client, sid, prefix + "-basic-and-continue-as-new")

            sid = await sessions.create("local", "tester", session_id="replay-approval")
            for approve in (True, False):
                await sessions.send("local", sid, '/tool pay {"amount": "1", "to": "bob"}', wait=30)
                # queued behind the approval: answered at once (v3+), taken after the decision
                await sessions.send("local", sid, "what is 1 + 1?", wait=30)
                [p] = (await sessions.get("local", sid)).pending_approvals
                await sessions.decide("local", sid, p.call_id, approve)
            await _save(client, sid, prefix + "-approvals")

            # a chat turn: the reply and an approval prompt go out through the bot's deliver activity
            chat = Worker(
                client, task_queue=bot_task_queue("telegram", settings.task_queue), plugins=[DeliveryPlugin(deliver)]
            )
            async with chat:
                sid = await sessions.create("tg-7", "tester", session_id="replay", platform="telegram")
                address = ReplyAddress(platform="telegram", chat_id="7", user_id="7")
                await sessions.send("tg-7", sid, "what is 2 * 21?", wait=30, message_id="tg-1", reply_to=address)
                await sessions.send("tg-7", sid, '/tool pay {"amount": "1", "to": "bob"}', wait=30, reply_to=address)
                [p] = (await sessions.get("tg-7", sid)).pending_approvals
                await sessions.decide("tg-7", sid, p.call_id, False)
                while len(delivered) < 3:  # the reply, the prompt, the answer after the decision
                    await asyncio.sleep(0.1)
            await _save(client, sid, prefix + "-bot-delivery")

            # turn control: a withdrawn approval, a queued message cancelled before its turn, an
            # interrupt waiting for a shielded side effect, a rollback that degrades to an interrupt
            sid = await sessions.create("local", "tester", session_id="replay-turn-control")
            await sessions.send("local", sid, '/tool pay {"amount": "1", "to": "bob"}', wait=30)
            await sessions.turns.cancel("local", sid)
            note = '/tool slow_note {"text": "n", "seconds": 1}'
            running = await sessions.send("local", sid, note, wait=0)
            queued = await sessions.send("local", sid, "what is 3 + 3?", wait=0)
            await sessions.turns.cancel("local", sid, queued.message_id)
            await sessions.send("local", sid, "what is 1 + 1?", wait=30, multitask="interrupt")
            await sessions.send("local", sid, note, wait=30, message_id=running.message_id)
            await sessions.send("local", sid, note.replace('"n"', '"m"'), wait=0)
            await sessions.send("local", sid, "what is 2 + 2?", wait=30, multitask="rollback")
            await _save(client, sid, prefix + "-turn-control")
            # MCP tools, a child agent and the running summary (the agents of tests/mcp/agents.yaml)
            open_agents = SessionService(client, settings, AgentFactory.from_yaml(MCP_AGENTS, registry, settings))
            sid = await open_agents.create("local", "helper", session_id="replay-agents")
            await open_agents.send("local", sid, "ask the calculator agent: what is 6 * 7?", wait=60)
            await _save(client, sid, prefix + "-child-agent")
            sid = await open_agents.create("local", "assistant", session_id="replay-mcp")
            await open_agents.send("local", sid, '/tool time_get_current_time {"timezone": "UTC"}', wait=60)
            await open_agents.send("local", sid, '/tool time_get_current_time {"timezone": "Mars/X"}', wait=60)
            await _save(client, sid, prefix + "-mcp-tools")
            sid = await open_agents.create("local", "rememberer", session_id="replay-summary")
            await open_agents.send("local", sid, "My locker code is 4711.", wait=60)
            for i in range(4):
                await open_agents.send("local", sid, f"what is {i} + 1?", wait=60)
            await open_agents.send("local", sid, "what is my locker code?", wait=60)
            await _save(client, sid, prefix + "-summary")

            sid = await sessions.create("local", "tester", session_id="replay-concurrent")
            await asyncio.gather(*(sessions.send("local", sid, f"what is {i} + 1?", wait=30) for i in range(3)))
            await sessions.send("local", sid, '/tool flaky {"fail_times": 1}', wait=30)
            await _save(client, sid, prefix + "-concurrent-and-retry")
    finally:
        del sessions, client  # drop client references before exit
        gc.collect()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def without_stack_traces(history_json: str) -> str:
    """Failure stack traces name the recording machine's paths; replay does not need them."""

    def scrub(node: object) -> object:
        if isinstance(node, dict):
            return {k: ("" if k == "stackTrace" else scrub(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node

    return json.dumps(scrub(json.loads(history_json)), indent=2)


async def _save(client, sid: str, name: str) -> None:
    runs = [w.run_id async for w in client.list_workflows(f"WorkflowId='{sid}'")]
    for i, run_id in enumerate(sorted(runs, key=str)):
        history = await client.get_workflow_handle(sid, run_id=run_id).fetch_history()
        (HERE / f"{name}-{i}.json").write_text(without_stack_traces(history.to_json()))
        print(f"wrote {name}-{i}.json ({len(history.events)} events)")


if __name__ == "__main__":
    import sys

    scenario = sys.argv[2] if len(sys.argv) > 2 else None  # "idle-compact": that scenario alone
    prefix = sys.argv[1] if len(sys.argv) > 1 else "new"
    asyncio.run(record_idle_compact(prefix) if scenario == "idle-compact" else record(prefix))
    gc.collect()
