"""`impressox up` as a user runs it: the whole stack on free ports, a chat from the CLI,
the session visible to Temporal's own CLI, and SIGTERM stopping every child."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from core.settings import PROJECT_ROOT
from devstack.processes import find_executable, free_port, port_open


def test_up_runs_the_stack_answers_chat_and_stops_cleanly(tmp_path: Path) -> None:
    api, temporal, ui, chain = free_port(), free_port(), free_port(), free_port()
    env = dict(os.environ, IMPRESSOX_REDIS_URL="redis://127.0.0.1:1/0")  # unreachable: up starts its own
    log = (tmp_path / "up.log").open("w+")
    up = subprocess.Popen(
        [
            find_executable("impressox"),
            "up",
            "--data-dir",
            str(tmp_path / "data"),
            "--api-port",
            str(api),
            "--temporal-port",
            str(temporal),
            "--ui-port",
            str(ui),
            "--chain-port",
            str(chain),
        ],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 90
        while time.time() < deadline and "Ctrl-C stops everything" not in _tail(log):  # printed once all is up
            assert up.poll() is None, _tail(log)
            time.sleep(0.3)
        out = _tail(log)
        assert f"http://127.0.0.1:{api}/docs" in out and f"http://127.0.0.1:{ui}" in out, out
        assert f"http://127.0.0.1:{chain}" in out, out
        [redis_line] = [line for line in out.splitlines() if line.strip().startswith("redis ")]
        assert "redis://127.0.0.1:" in redis_line and "127.0.0.1:1/" not in redis_line  # its own Redis

        with urllib.request.urlopen(f"http://127.0.0.1:{api}/healthz", timeout=5) as r:
            assert json.loads(r.read()) == {"status": "ok"}
        chat = subprocess.run(
            [find_executable("impressox"), "chat", "what is 17 * 23?"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(env, IMPRESSOX_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal}"),
        )
        assert chat.returncode == 0, chat.stderr
        assert "391" in chat.stdout
        sid = next(line.split(": ", 1)[1] for line in chat.stderr.splitlines() if line.startswith("session: "))
        listed = subprocess.run(
            [
                find_executable("temporal"),
                "workflow",
                "list",
                "--address",
                f"127.0.0.1:{temporal}",
                "--query",
                "ImpressoxOwner='local' AND ImpressoxAgent='assistant'",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sid in listed.stdout
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        code = up.wait(60)
    assert code == 0, _tail(log)
    time.sleep(0.5)
    assert not any(port_open(p) for p in (api, temporal, ui, chain)), "a child outlived impressox up"
    leftovers = processes_mentioning(str(tmp_path / "data"))
    assert not leftovers, f"processes left behind: {leftovers}"


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (from /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in args:
            found.append(args)
    return found


def _tail(log) -> str:  # noqa: ANN001
    log.flush()
    log.seek(0)
    return log.read()[-3000:]
