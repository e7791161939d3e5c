"""Many callers, one session: every accepted message is answered (200) or acknowledged (202),
never a false 409 or a 5xx; a message behind a pending approval is acknowledged at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx


async def test_100_concurrent_messages_to_one_session_get_200_or_202(api: httpx.AsyncClient) -> None:
    sid = (await api.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]

    async def send(i: int) -> httpx.Response:
        return await api.post(
            f"/v1/sessions/{sid}/messages?wait=60", json={"text": f"what is {i} + 1?", "message_id": f"m{i}"}
        )

    responses = await asyncio.gather(*(send(i) for i in range(100)))
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 202}, [r.json() for r in responses if r.status_code not in (200, 202)][:3]
    for i, r in enumerate(responses):
        assert r.json()["message_id"] == f"m{i}"
        if r.status_code == 200:
            assert str(i + 1) in r.json()["reply"]

    # every message was answered exactly once, and each stays answerable by its id
    deadline = time.monotonic() + 180
    while (view := (await api.get(f"/v1/sessions/{sid}")).json())["turn_count"] < 100:
        assert time.monotonic() < deadline, view["turn_count"]
        await asyncio.sleep(1)
    assert view["turn_count"] == 100
    again = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 0 + 1?", "message_id": "m0"})
    assert again.status_code == 200 and again.json()["turn"] <= 100 and "1" in again.json()["reply"]


async def test_a_message_behind_a_pending_approval_is_acknowledged_at_once(api: httpx.AsyncClient) -> None:
    sid = (await api.post("/v1/sessions", json={"agent": "tester"})).json()["session_id"]
    pay = await api.post(f"/v1/sessions/{sid}/messages", json={"text": '/tool pay {"amount": "1", "to": "bob"}'})
    assert pay.status_code == 200 and pay.json()["status"] == "awaiting_approval"

    started = time.monotonic()
    queued = await api.post(f"/v1/sessions/{sid}/messages?wait=60", json={"text": "what is 2 + 2?"})
    assert time.monotonic() - started < 30  # not the whole wait
    assert queued.status_code == 202
    assert queued.json()["status"] == "queued_behind_approval" and queued.json()["turn"] == 2

    [pending] = (await api.get(f"/v1/sessions/{sid}")).json()["pending_approvals"]
    decided = await api.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": False})
    assert decided.json()["status"] == "rejected"
    answer = await api.post(
        f"/v1/sessions/{sid}/messages", json={"text": "what is 2 + 2?", "message_id": queued.json()["message_id"]}
    )
    assert answer.status_code == 200 and "4" in answer.json()["reply"] and answer.json()["turn"] == 2
