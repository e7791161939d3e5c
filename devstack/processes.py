"""Child processes and ports: the one launcher used by ``impressox up``, the dev-server
launchers (Temporal, Redis, anvil), the tests and the benchmarks.

Every child is started in its own session (Ctrl-C in the terminal reaches only the
supervisor, which stops the children in order) and, on Linux, with a lifeline: the kernel
sends it SIGKILL when the thread that started it dies (``PR_SET_PDEATHSIG``), so even a
``kill -9`` of the supervisor leaves no orphan behind. Every store the children keep (Temporal's
SQLite in WAL mode, anvil's periodic state dump, the session workflows) is built to survive
a kill -9, so the lifeline does not need a gentler signal.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something listens on (or holds) ``host:port``, so a server of ours could not bind it."""
    if port_open(port, host):
        return True
    with socket.socket() as s:
        # SO_REUSEADDR as the servers set it: a port in TIME_WAIT is free for them
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


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


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded in the parent (a forked child should not load libraries)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _lifeline() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die with the thread starting it (Linux), else None.

    The kernel fires the parent-death signal when the *thread* that forked exits, so only a
    child started from the main thread gets one: a child started from a worker thread would
    die with that thread. The setting is not inherited by the child's own children, which is
    why every launcher starts the real binary, never a wrapper that forks it.
    """
    prctl = _prctl()
    if prctl is None or threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()
    sig = int(signal.SIGKILL)

    def arm() -> None:  # runs in the child between fork and exec
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: no one would signal us
            os._exit(1)

    return arm


def die_with_parent() -> None:
    """Arm this process's own lifeline (Linux): SIGKILL when its parent dies.

    For children that a library starts (uvicorn's worker processes under ``impressox api
    --workers N``), which ``launch`` cannot arm: each calls this first thing.
    """
    prctl = _prctl()
    if prctl is None:
        return
    parent = os.getppid()
    prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent or parent == 1:  # orphaned already: no one would signal us
        os._exit(1)


def launch(
    cmd: list[str], *, log_file: Path | None = None, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen:
    """Start ``cmd`` in its own session, output appended to ``log_file`` (or discarded), with a lifeline."""
    if log_file is None:
        return _popen(cmd, subprocess.DEVNULL, env, cwd)
    with open(log_file, "ab") as out:  # the child keeps its own descriptor
        return _popen(cmd, out, env, cwd)


def _popen(cmd: list[str], out: IO[bytes] | int, env: Mapping[str, str] | None, cwd: Path | None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_lifeline(),  # only prctl and getppid run in the forked child
    )


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
    """A server child process: ``launch`` it (see :func:`launch`), ``spawn`` it and wait until it
    is ready, ``relaunch`` it with the same command after a crash, ``stop`` (SIGTERM then
    SIGKILL) or ``kill`` (SIGKILL, for crash tests) it. Subclasses build the command."""

    log_file: Path | None = None
    proc: subprocess.Popen | None = None
    _cmd: list[str] | None = None
    _env: Mapping[str, str] | None = None

    def launch(self, cmd: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen:
        self._cmd, self._env = cmd, env
        self.proc = launch(cmd, log_file=self.log_file, env=env)
        return self.proc

    def relaunch(self) -> subprocess.Popen:
        """Start the last command again (same environment, same log file)."""
        if self._cmd is None:
            raise RuntimeError("relaunch before launch")
        return self.launch(self._cmd, self._env)

    def spawn(
        self,
        cmd: list[str],
        ready: Callable[[], bool],
        timeout: float,
        what: str,
        interval: float = 0.05,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.launch(cmd, env)
        wait_until(ready, timeout, what, self.proc, interval=interval)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc:
            stop_process(self.proc, timeout)

    def kill(self) -> None:
        if self.proc:
            kill_process(self.proc)


class Command(ManagedProcess):
    """A child that is just a command line (e.g. ``impressox api``), logging to ``log_file``."""

    def __init__(self, cmd: list[str], log_file: Path | None = None, env: Mapping[str, str] | None = None) -> None:
        self.cmd = cmd
        self.log_file = log_file
        self.env = env

    def start(self) -> subprocess.Popen:
        return self.launch(self.cmd, self.env)
