"""Start and stop a local anvil node from the npm install (``@foundry-rs/anvil``).

The embedded stack runs it with ``--state <data_dir>/anvil-state.json`` so the chain (and the
deployed vault) survive restarts; ``--state-interval`` also dumps periodically, so a kill -9
loses at most that many seconds of chain history.
"""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import time
from pathlib import Path

from chain.client import close_web3, make_web3
from core.errors import ConfigError
from core.settings import PROJECT_ROOT
from devstack.processes import Command, port_open

INSTALL_HINT = "install it with: npm --prefix contracts ci"


def _platform_package() -> str:
    system = {"linux": "linux", "darwin": "darwin", "windows": "win32"}.get(platform.system().lower(), "linux")
    machine = platform.machine().lower()
    arch = "arm64" if machine in ("arm64", "aarch64") else "amd64"
    return f"anvil-{system}-{arch}"


def _node_modules_dirs(root: Path, max_depth: int = 3) -> list[Path]:
    """node_modules folders up to ``max_depth`` below ``root``, skipping hidden dirs, venvs and data.

    A bounded walk rather than ``**`` so a big data dir or .venv cannot make start-up slow.
    """
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        depth = len(here.relative_to(root).parts)
        if "node_modules" in dirnames:
            found.append(here / "node_modules")
        dirnames[:] = [
            d
            for d in dirnames
            if depth < max_depth and not d.startswith(".") and d not in ("node_modules", "venv", "data", "__pycache__")
        ]
    return sorted(found)


def find_anvil(project_root: Path = PROJECT_ROOT) -> Path:
    """The anvil binary: contracts/node_modules first, then any node_modules below the root, then PATH."""
    pkg = _platform_package()
    exe = "anvil.exe" if pkg.startswith("anvil-win32") else "anvil"
    candidates = [project_root / "contracts" / "node_modules" / "@foundry-rs" / pkg / "bin" / exe]
    candidates += [nm / "@foundry-rs" / pkg / "bin" / exe for nm in _node_modules_dirs(project_root)]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ConfigError(f"anvil binary not found under {project_root}/contracts/node_modules; {INSTALL_HINT}")


class Anvil:
    """One anvil process on 127.0.0.1:``port``. Use ``await start()`` / ``await stop()`` or ``async with``."""

    def __init__(
        self,
        port: int,
        *,
        state_file: Path | None = None,
        state_interval: int = 5,
        chain_id: int = 31337,
        block_time: float | None = None,
        binary: Path | None = None,
        log_file: Path | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.port = port
        self.host = host
        self.state_file = state_file
        self.state_interval = state_interval
        self.chain_id = chain_id
        self.block_time = block_time
        self.binary = binary
        self.log_file = log_file
        self.process: Command | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary or find_anvil()),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(self.chain_id),
        ]
        if self.state_file is not None:
            Path(self.state_file).parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        if self.block_time is not None:
            cmd += ["--block-time", str(self.block_time)]
        return cmd

    def spawn(self, timeout: float = 30.0) -> Command:
        """Start anvil from a synchronous supervisor (``impressox up``); wait until its port answers."""
        self.process = Command(self.command(), self.log_file)
        self.process.spawn(self.process.cmd, lambda: port_open(self.port, self.host), timeout, "anvil")
        return self.process

    async def start(self, timeout: float = 20.0) -> str:
        """Start anvil and wait until eth_chainId answers; return the RPC URL."""
        self.process = Command(self.command(), self.log_file)
        proc = self.process.start()
        w3 = make_web3(self.rpc_url, timeout=1.0)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if proc.poll() is not None:
                    cmd = " ".join(self.process.cmd)
                    raise ConfigError(f"anvil exited with code {proc.returncode} at start ({cmd})")
                try:
                    if await w3.eth.chain_id == self.chain_id:
                        return self.rpc_url
                except Exception:  # noqa: BLE001 - not listening yet; keep polling until the deadline
                    pass
                if time.monotonic() > deadline:
                    self.process.kill()
                    self.process = None
                    raise ConfigError(f"anvil did not answer on {self.rpc_url} within {timeout:.0f}s")
                await asyncio.sleep(0.05)
        finally:
            await close_web3(w3)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil then writes its state file), SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        if process is not None:
            await asyncio.to_thread(process.stop, timeout)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    async def __aenter__(self) -> Anvil:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
