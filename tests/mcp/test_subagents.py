"""Agents asking agents: ``ask_<name>`` runs the agent as a child workflow of the session, its usage
joins the parent turn's, a chain of agents nests, a child killed with its worker resumes, and cycles
are refused when the agents file loads."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from temporalio.client import Client

from core.agents import AgentFactory
from core.errors import ConfigError
from core.schemas import NodeOutput
from core.settings import Settings
from devstack.processes import stop_process
from devstack.redis_server import RedisServer
from services.sessions import SessionService
from services.tools import load_tools
from tests.conftest import TemporalServer, make_settings, worker_process
from tests.mcp.conftest import AGENTS, everything_stdio, time_server
from tests.turns import done


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    servers = {"time": time_server(), "everything": everything_stdio()}
    return make_settings(temporal_server, redis_server.url, tmp_path, agents_file=AGENTS, mcp_servers=servers)


@pytest.fixture
def sessions(client: Client, settings: Settings) -> SessionService:
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    return SessionService(client, settings, agents)


async def children(client: Client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.HasField("start_child_workflow_execution_initiated_event_attributes")
    ]


async def node_usage(client: Client, workflow_id: str) -> int:
    """Total tokens of the node.llm results in a workflow's history (the tests' codec decodes them)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    }
    total = 0
    for e in history.events:
        if e.HasField("activity_task_completed_event_attributes"):
            a = e.activity_task_completed_event_attributes
            if scheduled.get(a.scheduled_event_id) == "node.llm":
                payloads = await client.data_converter.decode(a.result.payloads, [NodeOutput])
                total += payloads[0].usage.total_tokens
    return total


async def test_an_agent_asks_another_as_a_child_workflow_and_the_usage_adds_up(
    worker: None, sessions: SessionService, client: Client
) -> None:
    sid = await sessions.create("local", "helper")
    turn = done(await sessions.send("local", sid, "ask the calculator agent: what is 6 * 7?", 90))
    assert "42" in turn.reply and [c.name for c in turn.tool_calls] == ["ask_calculator"]
    [child] = await children(client, sid)
    assert child.startswith(sid) and child.endswith("/calculator")
    own, theirs = await node_usage(client, sid), await node_usage(client, child)
    assert own > 0 and theirs > 0
    assert turn.usage.total_tokens == own + theirs
    assert (await sessions.get("local", sid)).usage.total_tokens == own + theirs

    # nested: manager -> helper -> calculator, each a child of the one that asked
    top = await sessions.create("local", "manager")
    nested = done(
        await sessions.send("local", top, "ask the helper agent: ask the calculator agent: what is 2 * 21?", 90)
    )
    assert "42" in nested.reply
    [helper] = await children(client, top)
    assert len(await children(client, helper)) == 1


async def test_a_child_agent_killed_with_its_worker_mid_turn_resumes(
    settings: Settings, sessions: SessionService, client: Client
) -> None:
    notes = settings.data_dir / "notes.log"
    first = worker_process(settings, settings.data_dir / "w1.ready")
    second = None
    try:
        sid = await sessions.create("local", "boss")
        ask = 'ask the noter agent: /tool slow_note {"text": "from the boss", "seconds": 4}'
        pending = await sessions.send("local", sid, ask, wait=0)
        for _ in range(1200):
            if notes.exists() and notes.read_text():
                break
            await asyncio.sleep(0.1)
        assert notes.exists(), "the child agent's tool never ran"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = worker_process(settings, settings.data_dir / "w2.ready")
        watch = await sessions.watch_turn("local", sid, pending.message_id)
        result = await asyncio.wait_for(watch.result(), 120)
        assert result.status == "done" and "noted: from the boss" in result.reply, result
        assert len(notes.read_text().splitlines()) == 1, "the child's side effect happened once"
        assert len(await children(client, sid)) == 1, "the child resumed, it was not started again"
    finally:
        for proc in (first, second):
            if proc is not None:
                stop_process(proc)


def test_a_cycle_of_agents_asking_agents_is_refused_when_the_file_loads(settings: Settings, tmp_path: Path) -> None:
    cyclic = tmp_path / "agents.yaml"
    cyclic.write_text(
        "agents:\n  a: {persona: A, agents: [b]}\n  b: {persona: B, agents: [c]}\n  c: {persona: C, agents: [a]}\n"
    )
    with pytest.raises(ConfigError, match="cycle: a -> b -> c -> a"):
        AgentFactory.from_yaml(cyclic, load_tools(settings.tool_modules), settings)
    deep = tmp_path / "deep.yaml"
    deep.write_text(
        "agents:\n"
        + "".join(f"  a{i}: {{persona: P, agents: [a{i + 1}]}}\n" for i in range(5))
        + "  a5: {persona: P}\n"
    )
    with pytest.raises(ConfigError, match="deeper than max_agent_depth 3"):
        AgentFactory.from_yaml(deep, load_tools(settings.tool_modules), settings)
