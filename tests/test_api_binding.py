"""With no API keys configured the API serves one local user, so it must not listen beyond loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from devstack.processes import find_executable, free_port, port_open, stop_process, wait_until
from tests.conftest import TemporalServer


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
            found.add(".".join(str(int(addr_hex[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


@pytest.mark.parametrize(
    ("api_keys", "bound"),
    [
        ("[]", {"127.0.0.1"}),  # one local user: never reachable from elsewhere
        ('[{"user": "alice", "key": "a-long-secret"}]', {"0.0.0.0"}),  # keys: bind where told
    ],
    ids=["no-keys-loopback-only", "keys-bind-as-told"],
)
def test_the_api_binds_to_loopback_unless_keys_are_configured(
    temporal_server: TemporalServer, api_keys: str, bound: set[str]
) -> None:
    port = free_port()
    env = dict(os.environ, IMPRESSOX_TEMPORAL_ADDRESS=temporal_server.address, IMPRESSOX_API_KEYS=api_keys)
    proc = subprocess.Popen(
        [find_executable("impressox"), "api", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until(lambda: port_open(port), 60, "impressox api", proc)
        assert listening_addresses(port) == bound
    finally:
        stop_process(proc)
