"""MCP servers nobody here wrote, installed by ``make test-setup`` (never downloaded at run time):
``mcp-server-time`` (PyPI, dev extra) and ``@modelcontextprotocol/server-everything`` (npm,
tests/mcp/package.json) over stdio, and the latter over streamable HTTP on a free port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.mcp_config import McpServerConfig
from devstack.processes import free_port, stop_process

HERE = Path(__file__).parent
AGENTS = HERE / "agents.yaml"
EVERYTHING = HERE / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
TIME_SERVER = Path(sys.executable).parent / "mcp-server-time"


def node() -> str:
    found = shutil.which("node")
    assert found, "node is needed for @modelcontextprotocol/server-everything (make test-setup)"
    return found


def time_server() -> McpServerConfig:
    assert TIME_SERVER.exists(), "mcp-server-time is not installed (the dev extra: make test-setup)"
    return McpServerConfig(command=str(TIME_SERVER), args=["--local-timezone", "UTC"])


def everything_stdio(**options: object) -> McpServerConfig:
    assert EVERYTHING.exists(), "server-everything is not installed (make test-setup: npm ci in tests/mcp)"
    return McpServerConfig(command=node(), args=[str(EVERYTHING), "stdio"], **options)


@pytest.fixture
def everything_http() -> Iterator[str]:
    """server-everything over streamable HTTP on a free port: its /mcp URL."""
    port = free_port()
    proc = subprocess.Popen(
        [node(), str(EVERYTHING), "streamableHttp"],
        env=dict(os.environ, PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        import socket

        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(proc)
