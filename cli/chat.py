"""``impressox chat "TEXT"``: one message through the session service, reply on stdout.

By default the answer is printed as the model produces it (the turn's event stream);
``--no-stream`` prints it once the turn is done, for scripts.
"""

from __future__ import annotations

import asyncio
import json
import sys

from core.agents import AgentFactory
from core.schemas import TurnResult
from core.settings import Settings
from core.streams import TurnStreams
from services.sessions import PendingTurn, SessionService
from services.streams import TurnEventService
from services.tools import load_tools
from temporal.client import connect


async def chat(
    settings: Settings, text: str, session: str | None, agent: str, wait: float, stream: bool = False
) -> int:
    client = await connect(settings, wait_seconds=5)
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    sessions = SessionService(client, settings, agents)
    sid = session or await sessions.create(settings.local_user, agent)
    print(f"session: {sid}", file=sys.stderr)
    if stream:
        result = await _streamed(sessions, settings, sid, text, wait)
    else:
        result = await sessions.send(settings.local_user, sid, text, wait)
    if isinstance(result, PendingTurn):
        print(f"(no reply within {wait:.0f}s; message {result.message_id} is queued and will be answered)")
        return 3
    if not stream:
        for call in result.tool_calls:
            print(f"[tool {call.name} {call.args} -> {call.result}]", file=sys.stderr)
        print(result.reply)
    return 0


async def _streamed(
    sessions: SessionService, settings: Settings, sid: str, text: str, wait: float
) -> TurnResult | PendingTurn:
    """Print tokens as they arrive; the final text is the workflow's (a `reset` redraws it).
    A turn that needs an approval ends here with the request, like the non-streamed call."""
    queued = await sessions.send(settings.local_user, sid, text, 0)
    streams = TurnStreams.from_settings(settings)
    events = TurnEventService(sessions, streams)
    shown = ""
    try:
        async with asyncio.timeout(wait):
            events.watch(settings.local_user, sid, queued.message_id)
            async for event in events.follow(settings.local_user, sid, queued.message_id):
                if event is None:
                    continue
                data = json.loads(event.data)
                if event.event == "token":
                    shown += data["text"]
                    print(data["text"], end="", flush=True)
                elif event.event == "reset" and shown:
                    print("\n[retrying]", file=sys.stderr)
                    shown = ""
                elif event.event == "tool_call":
                    print(f"[tool {data['name']} {data['args']}]", file=sys.stderr)
                elif event.event == "tool_result":
                    print(f"[tool {data['name']} -> {data['result']}]", file=sys.stderr)
                elif event.event in ("approval_required", "done"):  # the CLI's turn ends at an approval
                    result = TurnResult.model_validate(data)
                    if shown != result.reply:  # nothing streamed (or not all of it): print the answer
                        print(("\n" if shown else "") + result.reply, end="")
                    print()
                    return result
    except TimeoutError:
        pass
    finally:
        await events.close()
        await streams.close()
    if shown:
        print()
    return queued
