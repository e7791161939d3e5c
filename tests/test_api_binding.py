"""With no API keys configured the API serves one local user, so it must not listen beyond loopback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from core.processes import find_executable, free_port, port_open, stop_process, wait_until
from core.settings import PROJECT_ROOT
from temporal.devserver import TemporalDevServer


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr_hex, port_hex = local.split(":")
        if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
            found.add(".".join(str(int(addr_hex[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_without_api_keys_the_api_binds_to_loopback_only(temporal_server: TemporalDevServer) -> None:
    port = free_port()
    env = dict(os.environ, IMPRESSOX_TEMPORAL_ADDRESS=temporal_server.address, IMPRESSOX_API_KEYS="[]")
    proc = subprocess.Popen(
        [find_executable("impressox"), "api", "--host", "0.0.0.0", "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until(lambda: port_open(port), 60, "impressox api", proc)
        assert listening_addresses(port) == {"127.0.0.1"}
    finally:
        stop_process(proc)


def test_with_api_keys_the_api_binds_where_it_is_told(temporal_server: TemporalDevServer) -> None:
    port = free_port()
    env = dict(
        os.environ,
        IMPRESSOX_TEMPORAL_ADDRESS=temporal_server.address,
        IMPRESSOX_API_KEYS='[{"user": "alice", "key": "a-long-secret"}]',
    )
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
        assert listening_addresses(port) == {"0.0.0.0"}
    finally:
        stop_process(proc)
