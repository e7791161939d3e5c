"""A process whose keys differ from the running ones of its deployment refuses to start, in one line.

The running process is this test (it publishes its fingerprint as every `impressox api|worker|
listener|bot` does at start); the late ones are real `impressox worker` processes on a real Redis."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from core.errors import ConfigError
from core.key_agreement import agree_on_keys
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.temporal.codec import CodecKey
from devstack.processes import stop_process
from tests.conftest import TemporalServer, worker_process

pytestmark = pytest.mark.slow


def members(settings: Settings) -> list[bytes]:
    client = redis.Redis.from_url(settings.redis_url)
    try:
        return [
            m if isinstance(m, bytes) else m.encode() for m in client.hkeys(f"{redis_prefix(settings)}:stack:members")
        ]
    finally:
        client.close()


def refusal(proc: subprocess.Popen) -> tuple[int, list[str]]:
    _, err = proc.communicate(timeout=90)
    return proc.returncode, [line for line in err.splitlines() if line.strip()]


def test_a_worker_with_other_keys_refuses_to_start_and_one_with_the_same_keys_starts(
    settings: Settings, temporal_server: TemporalServer, tmp_path: Path
) -> None:
    running = agree_on_keys(settings, "api")
    assert running is not None
    try:
        other_approval = worker_process(
            settings, tmp_path / "a.ready", {"IMPRESSOX_APPROVAL_KEY": "not-the-stacks-key"}, stderr=subprocess.PIPE
        )
        code, lines = refusal(other_approval)
        assert code == 2 and len(lines) == 1, lines
        assert "cannot work with the running api@" in lines[0] and "IMPRESSOX_APPROVAL_KEY" in lines[0], lines
        assert "not-the-stacks-key" not in lines[0]

        other_codec = worker_process(
            settings,
            tmp_path / "c.ready",
            {"IMPRESSOX_CODEC_KEYS": json.dumps([str(CodecKey.generate())])},
            stderr=subprocess.PIPE,
        )
        code, lines = refusal(other_codec)
        assert code == 2 and "IMPRESSOX_CODEC_KEYS" in lines[0], lines

        same = worker_process(settings, tmp_path / "s.ready")
        try:
            deadline = time.monotonic() + 90
            while not (tmp_path / "s.ready").exists() and same.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert (tmp_path / "s.ready").exists(), same.poll()  # the same keys: it runs
            assert any(m.startswith(b"worker@") for m in members(settings))
        finally:
            stop_process(same)
        assert [m.split(b"@")[0] for m in members(settings)] == [b"api"]  # a stopped worker left the list
    finally:
        running.close()


def test_the_keys_of_a_stopped_deployment_lapse_and_new_ones_are_taken(settings: Settings) -> None:
    old = agree_on_keys(settings, "api", ttl_seconds=1)
    assert old is not None
    rotated = settings.model_copy(update={"approval_key": SecretStr("rotated-everywhere")})
    time.sleep(1.5)  # past the TTL: the running process keeps its fingerprint alive
    with pytest.raises(ConfigError, match="cannot work with the running api"):
        agree_on_keys(rotated, "worker", ttl_seconds=1)
    old.close()  # every process of the old keys stopped
    time.sleep(1.5)
    new = agree_on_keys(rotated, "api", ttl_seconds=1)
    assert new is not None and new.record["approval"] != old.record["approval"]
    new.close()


def with_codec(settings: Settings, *keys: CodecKey) -> Settings:
    return settings.model_copy(update={"codec_keys": [SecretStr(str(k)) for k in keys]})


def test_a_codec_key_rotation_rolls_through_the_processes_one_at_a_time(settings: Settings) -> None:
    """docs/operations.md, "Rotating codec keys": the new key second everywhere, then first, then
    the old one dropped; each step may meet the step before it, never the one before that."""
    k1, k2 = CodecKey.generate(), CodecKey.generate()
    old = agree_on_keys(with_codec(settings, k1), "worker")
    step1 = agree_on_keys(with_codec(settings, k1, k2), "worker")  # still encrypts with k1: everyone reads it
    assert old is not None and step1 is not None
    with pytest.raises(ConfigError, match="IMPRESSOX_CODEC_KEYS"):  # would write k2 that `old` cannot read
        agree_on_keys(with_codec(settings, k2, k1), "api")
    old.close()
    step2 = agree_on_keys(with_codec(settings, k2, k1), "api")
    assert step2 is not None
    with pytest.raises(ConfigError, match="IMPRESSOX_CODEC_KEYS"):  # could not read what step1 writes
        agree_on_keys(with_codec(settings, k2), "listener")
    step1.close()
    done = agree_on_keys(with_codec(settings, k2), "listener")
    assert done is not None
    for member in (step2, done):
        member.close()
