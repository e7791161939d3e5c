"""The web client end to end: a real `impressox up` stack (Temporal, Redis, anvil, worker, API
serving web/dist) on free ports, driven by the system Chromium through Playwright."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core.settings import PROJECT_ROOT
from devstack.processes import find_executable, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
#: anvil's well-known development accounts (the chain `impressox up` starts)
ACCOUNTS = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
]

# both come from the README's set-up (make test-setup): missing, the browser tests fail at once
assert CHROMIUM is not None, "Debian chromium is not installed: run `make test-setup`"
assert (PROJECT_ROOT / "web" / "dist" / "index.html").exists(), "the web client is not built: run `make setup`"


def rpc(url: str, method: str, *params: Any) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        answer = json.load(r)
    assert "error" not in answer, answer
    return answer["result"]


def send_tx(url: str, tx: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """eth_sendTransaction from an anvil-unlocked account and its receipt, which must succeed.
    anvil answers with the hash before the block is mined: under load a read straight after the
    send can still see the state before it, so a test that reads the effect waits for this."""
    tx_hash = rpc(url, "eth_sendTransaction", tx)
    deadline = time.monotonic() + timeout
    while (receipt := rpc(url, "eth_getTransactionReceipt", tx_hash)) is None:
        assert time.monotonic() < deadline, f"transaction {tx_hash} not mined in {timeout} s"
        time.sleep(0.05)
    assert int(receipt["status"], 16) == 1, f"transaction {tx_hash} reverted: {receipt}"
    return receipt


def api_get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


@dataclass
class Stack:
    api: str
    chain: str
    log: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def balance(self, address: str) -> int:
        return int(rpc(self.chain, "eth_getBalance", address, "latest"), 16)

    def vault(self) -> str:
        return api_get(f"{self.api}/v1/vault")["address"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The module's stack; a module's ``STACK_ENV`` adds to (or overrides) its environment."""
    tmp = tmp_path_factory.mktemp("web-up")
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "chain": free_port()}
    cmd = [find_executable("impressox"), "up", "--data-dir", str(tmp / "data")]
    for name, port in ports.items():
        cmd += [f"--{name}-port", str(port)]
    # an unreachable Redis: up starts its own; tokens paced and answers never cached, so a reply
    # streams visibly (the status line's test watches it)
    env = dict(
        os.environ,
        IMPRESSOX_REDIS_URL="redis://127.0.0.1:1/0",
        IMPRESSOX_OFFLINE_TOKEN_DELAY_MS="20",
        IMPRESSOX_LLM_CACHE_TTL_SECONDS="0",
    )
    env.update(getattr(request.module, "STACK_ENV", {}))
    log_path = tmp / "up.log"
    with log_path.open("w+") as log:
        proc = subprocess.Popen(
            cmd, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.time() + 240
            while "Ctrl-C stops everything" not in log_path.read_text():
                assert proc.poll() is None and time.time() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.3)
            yield Stack(f"http://127.0.0.1:{ports['api']}", f"http://127.0.0.1:{ports['chain']}", log_path)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh tab that records every request outside the API's origin and every page error."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    p = context.new_page()
    p.outside = []
    p.errors = []
    p.on("request", lambda r: None if r.url.startswith((stack.api, "data:", "blob:")) else p.outside.append(r.url))
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    p.set_default_timeout(60_000)
    yield p
    context.close()
