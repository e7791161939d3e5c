"""A long conversation continues-as-new with a compact state and keeps counting."""

from __future__ import annotations

from temporalio.client import Client

from services.sessions import SessionService
from tests.turns import done


async def test_300_turns_continue_as_new_and_keep_the_count(
    client: Client, sessions: SessionService, worker: None
) -> None:
    sid = await sessions.create("local", "assistant")
    first_run = (await client.get_workflow_handle(sid).describe()).run_id
    for i in range(300):
        r = done(await sessions.send("local", sid, f"what is {i} + 1?", wait=30))
        assert r.turn == i + 1 and str(i + 1) in r.reply, r
    view = await sessions.get("local", sid)
    assert view.turn_count == 300
    assert view.usage.total_tokens > 300
    # the transcript window is bounded and ends with the newest turn
    assert len(view.messages) <= sessions.settings.transcript_window * 2
    assert view.messages[-1].turn == 300 and "300" in view.messages[-1].content

    desc = await client.get_workflow_handle(sid).describe()
    assert desc.run_id != first_run, "the session never continued as new"
    history = await client.get_workflow_handle(sid).fetch_history()
    assert len(history.events) < 5000, f"current run history has {len(history.events)} events"
    runs = [w async for w in client.list_workflows(f"WorkflowId='{sid}'")]
    assert len(runs) >= 3  # 300 turns / 100 per run
