"""``impressox chat "TEXT"``: one message through the session service, reply on stdout."""

from __future__ import annotations

import sys

from core.agents import AgentFactory
from core.settings import Settings
from services.sessions import PendingTurn, SessionService
from services.tools import load_tools
from temporal.client import connect


async def chat(settings: Settings, text: str, session: str | None, agent: str, wait: float) -> int:
    client = await connect(settings, wait_seconds=5)
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    sessions = SessionService(client, settings, agents)
    sid = session or await sessions.create(settings.local_user, agent)
    result = await sessions.send(settings.local_user, sid, text, wait)
    print(f"session: {sid}", file=sys.stderr)
    if isinstance(result, PendingTurn):
        if result.status == "queued_behind_approval":
            print(f"(message {result.message_id} is queued behind a pending approval: {result.detail})")
        else:
            print(f"(no reply within {wait:.0f}s; message {result.message_id} is queued and will be answered)")
        return 3
    for call in result.tool_calls:
        print(f"[tool {call.name} {call.args} -> {call.result}]", file=sys.stderr)
    print(result.reply)
    return 0
