"""Replay recorded histories with Temporal's Replayer: a workflow change that would break
running sessions (non-determinism) fails here, before a deploy."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from core.temporal.client import with_codec
from core.temporal.codec import ENCODING, CodecKey, EncryptionCodec
from services.sessions import SessionService
from temporal.plugin import ImpressoxPlugin
from tests.histories.record import RECORDING_CODEC_KEY

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
#: decrypts the histories recorded with the codec; older plain ones pass through it unchanged
DATA_CONVERTER = with_codec(EncryptionCodec([CodecKey.parse(RECORDING_CODEC_KEY)]))


def test_there_are_recorded_histories() -> None:
    assert len(HISTORIES) >= 4, "record them with: .venv/bin/python -m tests.histories.record"
    encrypted = base64.b64encode(ENCODING).decode()
    assert any(encrypted in p.read_text() for p in HISTORIES), "no history recorded with the payload codec"
    assert any(encrypted not in p.read_text() for p in HISTORIES), "the plain (pre-codec) histories must stay"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    result = await Replayer(workflows=[], plugins=[ImpressoxPlugin(DATA_CONVERTER)]).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"


async def test_a_fresh_history_replays(client: Client, sessions: SessionService, worker: None) -> None:
    sid = await sessions.create("local", "tester")
    await sessions.send("local", sid, "what is 2 + 3?", wait=30)
    await sessions.send("local", sid, '/tool pay {"amount": "1", "to": "x"}', wait=30)
    [p] = (await sessions.get("local", sid)).pending_approvals
    await sessions.decide("local", sid, p.call_id, approve=True)
    history = await client.get_workflow_handle(sid).fetch_history()
    await Replayer(workflows=[], plugins=[ImpressoxPlugin(client.data_converter)]).replay_workflow(history)
