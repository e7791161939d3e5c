"""`impressox up` and the CLI as a user runs them: the whole stack on free ports, found by the
other commands through the data dir alone, a transfer approved from the terminal, the session
visible to Temporal's own CLI; a supervisor that restarts a killed API, refuses busy ports in
one line and takes every child with it even on kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chain.deploy import deployment_for
from core.settings import PROJECT_ROOT
from devstack.processes import find_executable, free_port, port_open
from devstack.stackfile import read_stack, stack_file

RECIPIENT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil account 3
#: the environment of a user's terminal: no IMPRESSOX_* setting at all
BARE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}


class Up:
    def __init__(self, proc: subprocess.Popen, log, data_dir: Path, ports: dict[str, int]) -> None:
        self.proc, self.log, self.data_dir, self.ports = proc, log, data_dir, ports

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """An `impressox` command with only the data dir set, as after `export IMPRESSOX_DATA_DIR=...`."""
        return subprocess.run(
            [find_executable("impressox"), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(BARE_ENV, IMPRESSOX_DATA_DIR=str(self.data_dir)),
        )


@contextmanager
def running_up(tmp_path: Path, *up_args: str) -> Iterator[Up]:
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "chain": free_port()}
    data_dir = tmp_path / "data"
    env = dict(os.environ, IMPRESSOX_REDIS_URL="redis://127.0.0.1:1/0")  # unreachable: up starts its own
    log = (tmp_path / "up.log").open("w+")
    cmd = [find_executable("impressox"), "up", "--data-dir", str(data_dir)]
    for name in ("api", "temporal", "ui", "chain"):
        cmd += [f"--{name}-port", str(ports[name])]
    cmd += up_args
    proc = subprocess.Popen(
        cmd, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    up = Up(proc, log, data_dir, ports)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and "Ctrl-C stops everything" not in up.output():  # printed once all is up
            assert proc.poll() is None, up.output()[-3000:]
            time.sleep(0.3)
        assert "Ctrl-C stops everything" in up.output(), up.output()[-3000:]
        yield up
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)


def test_up_runs_the_stack_the_cli_finds_it_approves_a_transfer_and_up_stops_cleanly(tmp_path: Path) -> None:
    with running_up(tmp_path) as up:
        api, temporal, ui, chain = (up.ports[k] for k in ("api", "temporal", "ui", "chain"))
        out = up.output()
        assert f"http://127.0.0.1:{api}/docs" in out and f"http://127.0.0.1:{ui}" in out, out
        assert f"http://127.0.0.1:{chain}" in out, out
        # the price feeds' addresses, as deployed (an operator or a test moves a price through them)
        feeds = (deployment_for(up.data_dir, 31337) or {})["price_feeds"]
        assert set(feeds) == {"ETH", "BTC", "TUSD"}
        for symbol, address in feeds.items():
            assert re.search(rf"^\s+price {symbol}\s+{address}$", out, re.M), out
        [redis_line] = [line for line in out.splitlines() if line.strip().startswith("redis ")]
        assert "redis://127.0.0.1:" in redis_line and "127.0.0.1:1/" not in redis_line  # its own Redis
        with urllib.request.urlopen(f"http://127.0.0.1:{api}/healthz", timeout=5) as r:
            assert json.loads(r.read()) == {"status": "ok"}

        stack = read_stack(up.data_dir)
        assert stack is not None and stack.pid == up.proc.pid
        assert (stack.temporal_address, stack.api_url) == (f"127.0.0.1:{temporal}", f"http://127.0.0.1:{api}")
        assert stack.chain_rpc_url == f"http://127.0.0.1:{chain}" and stack.redis_url in redis_line

        # no address configured anywhere: the data dir leads the CLI to the stack
        chat = up.cli("chat", "what is 17 * 23?")
        assert chat.returncode == 0, chat.stderr
        assert "391" in chat.stdout
        sid = next(line.split(": ", 1)[1] for line in chat.stderr.splitlines() if line.startswith("session: "))
        assert sid.startswith("cli:local:")
        listed = up.cli("sessions")
        assert listed.returncode == 0 and re.search(  # id, title (its first message), agent, status
            rf"^{re.escape(sid)}\s+what is 17 \* 23\?\s+assistant\s+running", listed.stdout, re.M
        ), listed.stdout

        # a transfer waits for an approval the chat output says how to give
        before = balance(stack.chain_rpc_url, RECIPIENT)
        ask = up.cli("chat", f"send 0.01 ETH to {RECIPIENT}")
        assert ask.returncode == 0, ask.stderr
        [call_id] = re.findall(r"approve with: impressox approve (\S+)", ask.stdout)
        assert "approval needed: " in ask.stdout and balance(stack.chain_rpc_url, RECIPIENT) == before
        approved = up.cli("approve", call_id)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert f"approved {call_id} in cli:local:" in approved.stdout and ": ok" in approved.stdout
        assert balance(stack.chain_rpc_url, RECIPIENT) - before == 10**16
        again = up.cli("reject", call_id)
        assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1, again.stderr

        found = subprocess.run(
            [
                find_executable("temporal"),
                "workflow",
                "list",
                "--address",
                f"127.0.0.1:{temporal}",
                "--query",
                "ImpressoxOwner='local' AND ImpressoxPlatform='cli'",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert sid in found.stdout

        os.killpg(up.proc.pid, signal.SIGTERM)
        code = up.proc.wait(60)
        assert code == 0, up.output()[-3000:]
    time.sleep(0.5)
    assert not stack_file(up.data_dir).exists(), "a cleanly stopped up left its stack file"
    assert not any(port_open(p) for p in up.ports.values()), "a child outlived impressox up"
    leftovers = processes_mentioning(str(up.data_dir))
    assert not leftovers, f"processes left behind: {leftovers}"


def test_up_restarts_a_killed_api_refuses_busy_ports_and_takes_its_children_along_on_kill_9(tmp_path: Path) -> None:
    with running_up(tmp_path) as up:
        api_url = f"http://127.0.0.1:{up.ports['api']}"
        # a second stack on the same ports: one line naming the port, no banner, non-zero
        second = subprocess.run(
            [find_executable("impressox"), "up", "--data-dir", str(tmp_path / "second")]
            + ["--api-port", str(up.ports["api"]), "--temporal-port", str(up.ports["temporal"])],
            capture_output=True,
            text=True,
            timeout=120,
            env=BARE_ENV,
        )
        said = (second.stdout + second.stderr).strip()
        assert second.returncode != 0
        assert len(said.splitlines()) == 1 and str(up.ports["api"]) in said, said
        assert "is up" not in said
        # nor a second stack on the same data dir (other ports)
        same_dir = subprocess.run(
            [find_executable("impressox"), "up", "--data-dir", str(up.data_dir), "--api-port", str(free_port())],
            capture_output=True,
            text=True,
            timeout=120,
            env=BARE_ENV,
        )
        said = (same_dir.stdout + same_dir.stderr).strip()
        assert same_dir.returncode != 0 and said.splitlines() == [
            f"impressox up: another `impressox up` (pid {up.proc.pid}) already runs on {up.data_dir}; stop it first"
        ]

        [api] = [pid for pid in descendants(up.proc.pid) if " api --port " in cmdline(pid)]
        os.kill(api, signal.SIGKILL)
        assert wait_for(lambda: healthy(api_url) and not alive(api), 90), up.output()[-3000:]
        assert up.proc.poll() is None
        assert re.search(r"api exited with code -9; restart 1 in [\d.]+s \(see .*api\.log\)", up.output())

        children = descendants(up.proc.pid)
        assert len(children) >= 5  # temporal, redis, anvil, worker, listener, api
        os.kill(up.proc.pid, signal.SIGKILL)
        up.proc.wait(10)
        assert wait_for(lambda: not any(alive(p) for p in children), 30), [cmdline(p) for p in children if alive(p)]


def test_an_unreachable_stack_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    nothing = f"127.0.0.1:{free_port()}"  # no Temporal server there
    stale = tmp_path / "stale"
    stale.mkdir()
    left = {
        "temporal_address": nothing,
        "api_url": "http://127.0.0.1:1",
        "redis_url": "redis://x:1/0",
        "pid": dead_pid(),
    }
    (stale / "stack.json").write_text(json.dumps(left))  # left by an `up` killed long ago: its pid and API are gone
    for data_dir in (tmp_path / "empty", stale):
        r = subprocess.run(
            [find_executable("impressox"), "chat", "hi"],
            capture_output=True,
            text=True,
            timeout=60,
            env=dict(BARE_ENV, IMPRESSOX_DATA_DIR=str(data_dir), IMPRESSOX_TEMPORAL_ADDRESS=nothing),
        )
        said = (r.stdout + r.stderr).strip()
        assert r.returncode != 0
        assert said.startswith(f"impressox: cannot reach Temporal at {nothing}") and len(said.splitlines()) == 1, said


def balance(rpc_url: str, address: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [address, "latest"]})
    req = urllib.request.Request(rpc_url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return int(json.loads(r.read())["result"], 16)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def wait_for(predicate, timeout: float) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.3)
    return predicate()


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def descendants(pid: int) -> set[int]:
    """Every live process whose parent chain leads to ``pid`` (from /proc)."""
    parent = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_file.read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z":
            parent[int(stat_file.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {c for c, p in parent.items() if p in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain ``text`` (from /proc)."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in args:
            found.append(args)
    return found
