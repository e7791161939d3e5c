"""End to end through the API (real app, real Temporal, real Redis, in-process worker)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.app import create_app
from core.settings import ApiKey, Settings


async def new_session(api: httpx.AsyncClient, agent: str = "assistant", headers: dict | None = None) -> str:
    r = await api.post("/v1/sessions", json={"agent": agent}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["session_id"]


async def test_a_tool_turn_is_answered_and_recorded(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 17 * 23?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "391" in body["reply"]
    assert body["turn"] == 1
    assert [c["name"] for c in body["tool_calls"]] == ["calculator"]
    assert body["tool_calls"][0]["result"] == "17 * 23 = 391"

    r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what's 2^10 minus 24"})
    assert "1000" in r.json()["reply"] and r.json()["turn"] == 2

    view = (await api.get(f"/v1/sessions/{sid}")).json()
    assert view["turn_count"] == 2
    assert [m["role"] for m in view["messages"]] == ["user", "assistant", "user", "assistant"]
    assert view["messages"][1]["tool_calls"][0]["name"] == "calculator"
    assert view["usage"]["total_tokens"] > 0
    assert view["status"] == "idle"

    for _ in range(50):  # visibility is eventually consistent
        listed = [s["session_id"] for s in (await api.get("/v1/sessions")).json()]
        if sid in listed:
            break
        await asyncio.sleep(0.1)
    assert sid in listed


async def test_time_and_small_talk(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    r = (await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what time is it in Tokyo?"})).json()
    assert "Asia/Tokyo" in r["reply"] and r["tool_calls"][0]["name"] == "current_time"
    r = (await api.post(f"/v1/sessions/{sid}/messages", json={"text": "hello there"})).json()
    assert "offline model" in r["reply"] and r["tool_calls"] == []
    r = (await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what time is it in Atlantis?"})).json()
    assert "unknown time zone" in r["reply"]
    assert r["tool_calls"][0]["status"] == "error"


async def test_catalog_and_health(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    agents = {a["name"]: a for a in (await api.get("/v1/agents")).json()}
    assert "calculator" in agents["assistant"]["tools"]
    assert agents["assistant"]["model"].startswith("offline/")
    tools = {t["name"]: t for t in (await api.get("/v1/tools")).json()}
    assert tools["calculator"]["parameters"]["required"] == ["expression"]
    assert tools["pay"]["requires_approval"] is True
    assert (await api.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "says"),
    [
        ("POST", "/v1/sessions", {"agent": "nope"}, 422, "unknown agent"),
        ("POST", "/v1/sessions", {"agent": ""}, 422, "agent"),
        ("POST", "/v1/sessions", {"agent": "assistant", "extra": 1}, 422, "extra"),
        ("POST", "{sid}/messages", {"text": ""}, 422, "text"),
        ("POST", "{sid}/messages", {"text": "   "}, 422, "empty"),
        ("POST", "{sid}/messages", {"text": "x" * 9000}, 422, "longer than"),
        ("POST", "{sid}/messages", {"txt": "hi"}, 422, "txt"),
        ("POST", "{sid}/messages", {}, 422, "message_id"),
        ("POST", "{sid}/messages?wait=-1", {"text": "hi"}, 422, "wait"),
        ("POST", "{sid}/messages?wait=abc", {"text": "hi"}, 422, "wait"),
        ("POST", "/v1/sessions/web:local:nope/messages", {"text": "hi"}, 404, "no running session"),
        ("GET", "/v1/sessions/web:local:nope", None, 404, "no running session"),
        ("GET", "/v1/sessions/garbage", None, 404, "no session"),
        ("POST", "{sid}/approvals/nope", {"approve": True}, 404, "no pending approval"),
        ("POST", "{sid}/approvals/nope", {"approve": "maybe"}, 422, "approve"),
    ],
)
async def test_bad_input_gets_a_clear_4xx(
    api: httpx.AsyncClient, method: str, path: str, payload: dict | None, status: int, says: str
) -> None:
    sid = await new_session(api)
    url = path.replace("{sid}", f"/v1/sessions/{sid}")
    r = await api.request(method, url, json=payload)
    assert r.status_code == status, r.text
    assert says in r.json()["error"]


async def test_malformed_json_is_a_422(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    r = await api.post(
        f"/v1/sessions/{sid}/messages", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "JSON" in r.json()["error"]


async def test_a_message_not_done_in_time_is_202_and_answered_later(api: httpx.AsyncClient) -> None:
    sid = await new_session(api, "tester")
    r = await api.post(
        f"/v1/sessions/{sid}/messages?wait=0.5", json={"text": '/tool slow_note {"text": "later", "seconds": 1.5}'}
    )
    assert r.status_code == 202 and r.json()["status"] == "pending"
    for _ in range(50):
        view = (await api.get(f"/v1/sessions/{sid}")).json()
        if view["turn_count"] == 1:
            break
        await asyncio.sleep(0.1)
    assert view["messages"][-1]["content"] == "noted: later"


async def test_the_same_message_id_twice_is_answered_once(api: httpx.AsyncClient) -> None:
    sid = await new_session(api)
    body = {"text": "what is 2 + 2?", "message_id": "client-msg-1"}
    first, second = await asyncio.gather(
        api.post(f"/v1/sessions/{sid}/messages", json=body), api.post(f"/v1/sessions/{sid}/messages", json=body)
    )
    assert first.json()["turn"] == second.json()["turn"] == 1
    view = (await api.get(f"/v1/sessions/{sid}")).json()
    assert view["turn_count"] == 1 and len(view["messages"]) == 2


async def test_users_see_and_touch_only_their_own_sessions(settings: Settings, worker: None) -> None:
    keyed = settings.model_copy(
        update={"api_keys": [ApiKey(user="alice", key="alice-key"), ApiKey(user="bob", key="bob-key")]}
    )
    app = create_app(keyed)
    alice, bob = {"Authorization": "Bearer alice-key"}, {"X-API-Key": "bob-key"}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            assert (await api.post("/v1/sessions", json={})).status_code == 401
            assert (await api.get("/v1/sessions", headers={"Authorization": "Bearer wrong"})).status_code == 401
            sid = await new_session(api, headers=alice)
            assert sid.startswith("web:alice:")
            ok = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 1 + 1?"}, headers=alice)
            assert ok.status_code == 200
            assert (await api.get(f"/v1/sessions/{sid}", headers=bob)).status_code == 404
            r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": "what is 6 * 7?"}, headers=bob)
            assert r.status_code == 404
            bob_sid = await new_session(api, headers=bob)
            for _ in range(50):  # visibility is eventually consistent
                alice_list = [s["session_id"] for s in (await api.get("/v1/sessions", headers=alice)).json()]
                bob_list = [s["session_id"] for s in (await api.get("/v1/sessions", headers=bob)).json()]
                if sid in alice_list and bob_sid in bob_list:
                    break
                await asyncio.sleep(0.1)
            assert sid in alice_list and bob_sid not in alice_list and sid not in bob_list
            view = (await api.get(f"/v1/sessions/{sid}", headers=alice)).json()
            assert view["turn_count"] == 1 and view["owner"] == "alice"


async def test_the_web_client_is_served(api: httpx.AsyncClient) -> None:
    r = await api.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    # the built client (its script under /assets), or one line saying how to build it
    assert ("Impressox Agent" in r.text and "/assets/" in r.text) or "make setup" in r.text, r.text


async def test_a_session_says_the_front_door_it_was_made_from(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/sessions", json={"agent": "assistant", "platform": "cli"})
    assert r.status_code == 201, r.text
    sid = r.json()["session_id"]
    assert sid.startswith("cli:local:") and (await api.get(f"/v1/sessions/{sid}")).json()["platform"] == "cli"
    assert (await new_session(api)).startswith("web:local:")
    r = await api.post("/v1/sessions", json={"agent": "assistant", "platform": "telegram"})
    assert r.status_code == 422  # bots name their platform themselves, through the service
