"""A message sent while its session's workflow task is failing and being retried (a worker
overloaded past the workflow task timeout, a bad deploy) is kept, not refused: Temporal answers
the update with "Workflow Task in failed state", but the message is signalled into the session's
history, so the caller gets a pending answer rather than an error (an API caller got a 500 and
might send it again), and the reply comes, once, when a good worker runs the session again.
Seen in bench/idle_sessions.py on an overloaded machine: the bench died on that error."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core.cache import Cache
from core.schemas import TurnResult
from core.settings import Settings
from services.sessions import PendingTurn, SessionService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.test_durability import wait_for_turns


@workflow.defn(name="AgentSessionWorkflow", sandboxed=False)
class BrokenSession:
    """A bad deploy of the session workflow: every workflow task fails (and Temporal retries it)."""

    @workflow.run
    async def run(self, *args: Any) -> None:
        raise RuntimeError("a bad deploy")


async def failed_attempts(client: Client, sid: str) -> int:
    described = await client.get_workflow_handle(sid).describe()
    pending = described.raw_description.pending_workflow_task
    return pending.attempt if described.raw_description.HasField("pending_workflow_task") else 0


async def test_a_message_sent_while_the_workflow_task_fails_is_kept_and_answered_once(
    client: Client, settings: Settings, cache: Cache, sessions: SessionService
) -> None:
    registry = load_tools(settings.tool_modules)
    async with build_worker(client, settings, registry, cache):
        sid = await sessions.create("local", "tester")
        assert isinstance(await sessions.send("local", sid, "what is 6 * 7?", wait=60), TurnResult)

    broken = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[BrokenSession],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with broken:
        first = await sessions.send("local", sid, "what is 2 * 3?", wait=2)
        assert isinstance(first, PendingTurn)
        # the broken worker fails the task the message scheduled; the SDK reports the first
        # failure only and lets later attempts time out (10 s); from attempt 3 on Temporal
        # refuses updates
        for _ in range(600):
            if await failed_attempts(client, sid) >= 3:
                break
            await asyncio.sleep(0.1)
        assert await failed_attempts(client, sid) >= 3, "the session's workflow task never failed twice"
        second = await sessions.send("local", sid, "what is 4 * 5?", wait=5)
        assert isinstance(second, PendingTurn), second

    async with build_worker(client, settings, registry, cache):
        view = await wait_for_turns(sessions, sid, 3, timeout=90)
    replies = {m.message_id: m.content for m in view.messages if m.role == "assistant"}
    assert replies.get(first.message_id, "").endswith("6"), replies
    assert replies.get(second.message_id, "").endswith("20"), replies
    assert view.turn_count == 3, f"{view.turn_count} turns for 3 messages"
