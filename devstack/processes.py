"""Child processes and ports: helpers shared by ``impressox up``, the dev-server launchers and tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_executable(name: str) -> str:
    """A binary installed into this environment (the venv's bin) or on PATH."""
    candidates = [Path(sys.executable).parent / name, Path(sys.prefix) / "bin" / name]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: run `make setup` (it installs {name} into .venv)")
    return found


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc: subprocess.Popen | None = None, interval: float = 0.1
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} was not ready after {timeout:.0f}s")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill_process(proc)


def kill_process(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class ManagedProcess:
    """A server child process: ``spawn`` it in its own process group, ``stop`` (SIGTERM then
    SIGKILL) or ``kill`` (SIGKILL, for crash tests) it. Subclasses build the command."""

    log_file: Path | None = None
    proc: subprocess.Popen | None = None

    def spawn(
        self, cmd: list[str], ready: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
    ) -> None:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if self.log_file:
                out.close()  # the child holds its own descriptor
        wait_until(ready, timeout, what, self.proc, interval=interval)

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)

    def kill(self) -> None:
        if self.proc:
            kill_process(self.proc)
