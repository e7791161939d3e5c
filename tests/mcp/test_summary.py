"""The running summary: what leaves the model's context is folded into a summary (``node.summarise``)
that the model receives, continue-as-new carries it, and a fact from turn 1 is recalled long after
the transcript window dropped it."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from core.agents import AgentFactory
from core.settings import Settings
from devstack.redis_server import RedisServer
from services.sessions import SessionService
from services.tools import load_tools
from tests.conftest import TemporalServer, make_settings
from tests.mcp.conftest import AGENTS, everything_stdio, time_server
from tests.turns import done

FILLER_TURNS = 40


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    servers = {"time": time_server(), "everything": everything_stdio()}
    return make_settings(
        temporal_server,
        redis_server.url,
        tmp_path,
        agents_file=AGENTS,
        mcp_servers=servers,
        transcript_window=10,
        continue_as_new_after_turns=7,
    )


@pytest.fixture
def sessions(client: Client, settings: Settings) -> SessionService:
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    return SessionService(client, settings, agents)


async def test_a_fact_from_turn_one_is_recalled_after_the_window_and_several_continue_as_new(
    worker: None, sessions: SessionService, client: Client
) -> None:
    sid = await sessions.create("local", "rememberer")
    done(await sessions.send("local", sid, "My locker code is 4711 and my landlord is called Berenice.", 60))
    for i in range(FILLER_TURNS):
        done(await sessions.send("local", sid, f"what is {i} + 1?", 60))
    view = await sessions.get("local", sid)
    assert view.turn_count == FILLER_TURNS + 1
    assert all(m.turn > 1 for m in view.messages), "turn 1 has left the transcript"
    runs = [wf async for wf in client.list_workflows(f"WorkflowId = '{sid}'")]
    assert len(runs) >= 5, "the session continued as new several times"

    code = done(await sessions.send("local", sid, "what is my locker code?", 60))
    assert "4711" in code.reply and "turn 1" in code.reply, code.reply
    landlord = done(await sessions.send("local", sid, "who is my landlord?", 60))
    assert "Berenice" in landlord.reply, landlord.reply
    # the folds are node.summarise activities, in the runs before this one too
    folds = 0
    for run in runs:
        history = await client.get_workflow_handle(sid, run_id=run.run_id).fetch_history()
        folds += sum(
            1
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name == "node.summarise"
        )
    assert folds >= FILLER_TURNS // 4, f"{folds} folds of 4 messages for {FILLER_TURNS} turns"
