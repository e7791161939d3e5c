"""The dev-stack helpers with real processes: a child dies with its supervisor even on kill -9,
crashed children come back with backoff, the stack file points the CLI at a live stack only."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT, load_settings
from devstack.processes import Command, free_port, launch, port_in_use
from devstack.stackfile import StackInfo, read_stack, remove_stack, stack_file, with_stack, write_stack
from devstack.supervisor import Supervisor


def alive(pid: int) -> bool:
    """Running and not a zombie (a killed child waits for init to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_child_dies_with_its_parent_even_on_kill_9() -> None:
    parent_code = (
        "import time; from devstack.processes import launch\n"
        "print(launch(['sleep', '300']).pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())  # type: ignore[union-attr]
    assert alive(child)
    parent.kill()
    parent.wait()
    assert wait_for(lambda: not alive(child)), "the child outlived kill -9 of its parent"


def test_a_child_started_off_the_main_thread_outlives_that_thread() -> None:
    """The kernel's parent-death signal follows the thread that forked: no lifeline there."""
    started: list[subprocess.Popen] = []
    t = threading.Thread(target=lambda: started.append(launch(["sleep", "300"])))
    t.start()
    t.join()
    [proc] = started
    try:
        time.sleep(0.5)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


def test_supervisor_restarts_a_crashed_child_with_backoff_and_stops_on_an_essential_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="impressox.up")
    sup = Supervisor(first_delay=0.2, max_delay=1.0)
    api = Command(["sleep", "300"], log_file=tmp_path / "api.log")
    server = Command(["sleep", "300"], log_file=tmp_path / "server.log")
    sup.add("server", server, restart=False)
    sup.add("api", api, restart=True)
    server.start(), api.start()
    try:
        first = api.proc.pid  # type: ignore[union-attr]
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: sup.check() is None and api.running and api.proc.pid != first)  # type: ignore[union-attr]
        assert f"api exited with code -9; restart 1 in 0.2s (see {tmp_path / 'api.log'})" in caplog.text
        assert "api restarted (restart 1" in caplog.text

        second = api.proc.pid  # type: ignore[union-attr]
        os.kill(second, signal.SIGKILL)  # crashed again at once: the wait doubles
        assert wait_for(lambda: sup.check() is None and api.running and api.proc.pid != second)  # type: ignore[union-attr]
        assert "restart 2 in 0.4s" in caplog.text

        os.kill(server.proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        assert wait_for(lambda: not server.running)
        assert sup.check() == f"server exited with code -9 (see {tmp_path / 'server.log'})"
    finally:
        sup.stop()
    assert not api.running and not server.running


def test_port_in_use_sees_a_listener_and_not_a_free_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert port_in_use(s.getsockname()[1])
    assert not port_in_use(free_port())


def test_the_stack_file_points_at_a_live_stack_and_yields_to_the_environment(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    info = StackInfo(
        temporal_address="127.0.0.1:7300",
        api_url="http://127.0.0.1:8100",
        redis_url="redis://127.0.0.1:6400/0",
        chain_rpc_url="http://127.0.0.1:8600",
        pid=os.getpid(),
    )
    write_stack(tmp_path, info)
    assert read_stack(tmp_path) == info
    assert [p.name for p in tmp_path.iterdir()] == ["stack.json"]  # no temporary file left behind

    found, stack = with_stack(settings, {})
    assert stack == info
    assert (found.temporal_address, found.redis_url, found.chain_rpc_url) == (
        "127.0.0.1:7300",
        "redis://127.0.0.1:6400/0",
        "http://127.0.0.1:8600",
    )
    found, stack = with_stack(settings, {"IMPRESSOX_REDIS_URL": "redis://elsewhere:6379/0"})
    assert found.redis_url == settings.redis_url and found.temporal_address == "127.0.0.1:7300"
    # pointed at another Temporal server: this stack (and its API) is not the one
    found, stack = with_stack(settings, {"IMPRESSOX_TEMPORAL_ADDRESS": "10.0.0.1:7233"})
    assert stack is None and found == settings

    remove_stack(tmp_path, pid=os.getpid() + 1)  # not ours: stays
    assert stack_file(tmp_path).exists()
    remove_stack(tmp_path, pid=os.getpid())
    assert not stack_file(tmp_path).exists()


def test_a_stack_file_left_by_a_killed_up_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    write_stack(
        tmp_path,
        StackInfo(temporal_address="127.0.0.1:7300", api_url="http://x", redis_url="redis://x:1/0", pid=gone.pid),
    )
    assert read_stack(tmp_path) is None
    settings = load_settings(data_dir=tmp_path)
    assert with_stack(settings, {}) == (settings, None)
