"""Only the platform's front doors approve, and history is encrypted for everyone else.

A decision sent straight through Temporal (the CLI, or any client without the approval
key) is refused by the session's validator before it is accepted, so the approval stays
pending and the API's decision then pays. The chat text is
not in the history that `temporal workflow show` or a client without the codec reads; the
API's /codec endpoint gives it back to operators (and to the Web UI's origin only)."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess

import httpx
import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from api.app import create_app
from core.approvals import sign
from core.schemas import ApprovalDecision, ToolCallRecord
from core.settings import ApiKey, Settings
from core.temporal.client import PLAIN_DATA_CONVERTER
from devstack.processes import find_executable
from services.sessions import SessionService
from tests.conftest import TemporalServer
from tests.test_approvals import PAY, ledger

SECRET_TEXT = "what is 81723 + 1?"


async def temporal_cli(server: TemporalServer, *args: str) -> subprocess.CompletedProcess:
    """The Temporal CLI, in a thread: the in-process worker must keep running meanwhile."""
    return await asyncio.to_thread(
        subprocess.run,
        [find_executable("temporal"), *args, "--address", server.address],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def asked_to_pay(sessions: SessionService) -> tuple[str, str]:
    sid = await sessions.create("local", "tester")
    assert (await sessions.send("local", sid, PAY, wait=30)).status == "awaiting_approval"
    [pending] = (await sessions.get("local", sid)).pending_approvals
    return sid, pending.call_id


async def still_pending(sessions: SessionService, sid: str, call_id: str) -> bool:
    return call_id in [p.call_id for p in (await sessions.get("local", sid)).pending_approvals]


async def test_a_decision_forged_through_the_temporal_cli_is_refused_and_the_real_one_pays(
    temporal_server: TemporalServer, sessions: SessionService, worker: None, settings: Settings
):
    sid, call_id = await asked_to_pay(sessions)
    forged = json.dumps({"call_id": call_id, "approve": True, "decided_by": "mallory", "signature": "v1:" + "0" * 64})
    update = ("workflow", "update", "execute", "-w", sid, "--name", "decide_approval", "-i", forged)
    r = await temporal_cli(temporal_server, *update)
    # the validator refused it before it was accepted: the CLI reports an error, history has nothing
    assert r.returncode != 0 and "unable to update workflow" in r.stderr, (r.returncode, r.stdout, r.stderr)
    assert ledger(settings) == []
    assert await still_pending(sessions, sid, call_id)  # nobody used up the approval
    record = await sessions.decide("local", sid, call_id, approve=True)
    assert record is not None and record.result == "paid 5 USD to bob", record
    assert len(ledger(settings)) == 1


@pytest.mark.parametrize("how", ["unsigned", "signed by another key", "signature of another call", "reject turned"])
async def test_a_decision_forged_by_a_raw_client_is_refused_and_the_real_one_pays(
    client: Client, sessions: SessionService, worker: None, settings: Settings, how: str
):
    sid, call_id = await asked_to_pay(sessions)
    args = {"amount": "5 USD", "to": "bob"}
    signature = {
        "unsigned": None,
        "signed by another key": sign(b"guess" * 8, sid, call_id, args, True),
        "signature of another call": sign(sessions._approval_key, sid, "t1s1-other", args, True),
        # a rejection the platform signed, replayed as an approval
        "reject turned": sign(sessions._approval_key, sid, call_id, args, False),
    }[how]
    decision = ApprovalDecision(call_id=call_id, approve=True, decided_by="mallory", signature=signature)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await client.get_workflow_handle(sid).execute_update("decide_approval", decision, result_type=ToolCallRecord)
    assert "not signed by the platform" in str(refused.value.cause)
    assert ledger(settings) == [] and await still_pending(sessions, sid, call_id)
    record = await sessions.decide("local", sid, call_id, approve=True)
    assert record is not None and record.result == "paid 5 USD to bob", record
    assert len(ledger(settings)) == 1


async def test_the_api_approval_still_pays(api: httpx.AsyncClient, settings: Settings):
    sid = (await api.post("/v1/sessions", json={"agent": "tester"})).json()["session_id"]
    await api.post(f"/v1/sessions/{sid}/messages", json={"text": PAY})
    [pending] = (await api.get(f"/v1/sessions/{sid}")).json()["pending_approvals"]
    decided = await api.post(f"/v1/sessions/{sid}/approvals/{pending['call_id']}", json={"approve": True})
    assert decided.status_code == 200 and decided.json()["result"] == "paid 5 USD to bob"
    assert len(ledger(settings)) == 1


def payloads_of(history_json: str) -> list[dict]:
    """Every payload but the search attributes (Temporal indexes those, so they stay plain)."""
    found: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "metadata" in node and "data" in node:
                found.append(node)
            else:
                for k, v in node.items():
                    if k != "searchAttributes":
                        walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(history_json))
    return found


def readable(payloads: list[dict]) -> str:
    return " ".join(base64.b64decode(p.get("data", "")).decode(errors="replace") for p in payloads)


async def test_history_is_unreadable_without_the_codec_and_the_api_decodes_it(
    temporal_server: TemporalServer, api: httpx.AsyncClient
):
    sid = (await api.post("/v1/sessions", json={"agent": "tester"})).json()["session_id"]
    r = await api.post(f"/v1/sessions/{sid}/messages", json={"text": SECRET_TEXT})
    assert "81724" in r.json()["reply"]

    # what `temporal workflow show` and a client without the codec see
    shown = await temporal_cli(temporal_server, "workflow", "show", "-w", sid, "-o", "json")
    assert shown.returncode == 0, shown.stderr
    assert SECRET_TEXT not in shown.stdout and "81724" not in shown.stdout
    outsider = await Client.connect(temporal_server.address, data_converter=PLAIN_DATA_CONVERTER)
    history = (await outsider.get_workflow_handle(sid).fetch_history()).to_json()
    payloads = payloads_of(history)
    assert payloads and SECRET_TEXT not in readable(payloads)
    plain = [p for p in payloads if base64.b64decode(p["metadata"]["encoding"]) != b"binary/encrypted"]
    assert len(plain) < len(payloads)
    assert all('"deprecated"' in readable([p]) for p in plain)  # only the SDK's patch markers stay plain
    with pytest.raises(Exception):  # noqa: B017 - whatever it raises, it cannot read the session
        await outsider.get_workflow_handle(sid).query("view")

    decoded = await api.post("/codec/decode", json={"payloads": payloads_of(shown.stdout)})
    assert decoded.status_code == 200
    assert SECRET_TEXT in readable(decoded.json()["payloads"])
    again = await api.post("/codec/encode", json=decoded.json())
    assert again.status_code == 200 and SECRET_TEXT not in readable(again.json()["payloads"])
    round_trip = await api.post("/codec/decode", json=again.json())
    assert SECRET_TEXT in readable(round_trip.json()["payloads"])


async def test_codec_endpoint_answers_cors_only_for_the_web_ui_origin(api: httpx.AsyncClient, settings: Settings):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    ui = settings.codec_cors_origins[0]
    ok = await api.options("/codec/decode", headers={"Origin": ui, **preflight})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == ui
    assert "x-namespace" in ok.headers["access-control-allow-headers"]
    foreign = await api.options("/codec/decode", headers={"Origin": "http://attacker.example", **preflight})
    assert "access-control-allow-origin" not in foreign.headers
    r = await api.post("/codec/decode", json={"payloads": []}, headers={"Origin": ui, "X-Namespace": "default"})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ui
    assert (await api.post("/codec/decode", content=b"not json")).status_code in (400, 422)


async def test_with_api_keys_only_operators_may_decode(settings: Settings, worker: None):
    keyed = settings.model_copy(
        update={
            "api_keys": [ApiKey(user="alice", key="alice-key"), ApiKey(user="ops", key="ops-key")],
            "operator_users": ["ops"],
        }
    )
    app = create_app(keyed)
    body = {"payloads": [{"metadata": {"encoding": base64.b64encode(b"json/plain").decode()}, "data": "IjEi"}]}
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
            assert (await api.post("/codec/decode", json=body)).status_code == 401
            alice = await api.post("/codec/decode", json=body, headers={"Authorization": "Bearer alice-key"})
            assert alice.status_code == 403
            ops = await api.post("/codec/decode", json=body, headers={"Authorization": "Bearer ops-key"})
            assert ops.status_code == 200 and ops.json() == body


async def test_a_plain_signal_sent_past_the_api_is_dropped_by_the_codec(
    temporal_server: TemporalServer, sessions: SessionService, worker: None
):
    """The codec refuses unencrypted payloads (codec_refuse_plain, on by default): a message
    signalled in clear through the CLI is never answered, and the session goes on."""
    sid = await sessions.create("local", "tester")
    plain_message = json.dumps({"message_id": "from-the-cli", "text": "what is 1 + 1?"})
    r = await temporal_cli(
        temporal_server, "workflow", "signal", "-w", sid, "--name", "send_message", "-i", plain_message
    )
    assert r.returncode == 0, r.stderr  # Temporal takes the signal; the worker cannot read it
    reply = await sessions.send("local", sid, "what is 2 + 2?", wait=30)
    assert "4" in getattr(reply, "reply", "")
    view = await sessions.get("local", sid)
    assert [m.message_id for m in view.messages if m.role == "user"] == [reply.message_id]
