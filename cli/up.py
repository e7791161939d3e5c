"""``impressox up``: the whole stack in the foreground on embedded defaults.

Temporal dev server (SQLite under the data dir, Web UI), a Redis (the configured one
when reachable, else one started here), then a worker and the API as child processes.
Ctrl-C or SIGTERM stops every child; a child that dies stops the stack.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

from core.approvals import approval_key
from core.cache import redis_reachable
from core.processes import find_executable, port_open, stop_process, wait_until
from core.redis_server import RedisServer
from core.settings import Settings
from temporal.codec import build_codec
from temporal.devserver import TemporalDevServer

log = logging.getLogger("impressox.up")


class Stack:
    def __init__(self, args: Namespace, settings: Settings) -> None:
        self.args = args
        self.data_dir = Path(args.data_dir or settings.data_dir).resolve()
        self.logs = self.data_dir / "logs"
        self.settings = settings
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.temporal: TemporalDevServer | None = None
        self.redis: RedisServer | None = None
        self.env = dict(os.environ)

    def spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append((name, proc))
        return proc

    def start(self) -> dict[str, str]:
        self.logs.mkdir(parents=True, exist_ok=True)
        urls: dict[str, str] = {}
        self.temporal = TemporalDevServer(
            self.args.temporal_port,
            self.data_dir / "temporal.db",
            ui_port=self.args.ui_port,
            log_file=self.logs / "temporal.log",
            codec_endpoint=f"http://127.0.0.1:{self.args.api_port}/codec",
        )
        self._keys()
        log.info("starting the Temporal dev server (state in %s)", self.data_dir)
        self.temporal.start()
        urls["temporal"] = self.temporal.address
        urls["temporal_ui"] = self.temporal.ui_url or ""
        self.env.update(
            IMPRESSOX_TEMPORAL_ADDRESS=self.temporal.address,
            IMPRESSOX_DATA_DIR=str(self.data_dir),
            IMPRESSOX_TEMPORAL_UI_PORT=str(self.args.ui_port),
        )

        urls["redis"] = self._redis()
        self.env["IMPRESSOX_REDIS_URL"] = urls["redis"]

        log.info("starting the local chain and deploying the contracts")
        for key, value in self._chain().items():
            urls[key] = value

        me = find_executable("impressox")
        ready = self.data_dir / "worker.ready"
        ready.unlink(missing_ok=True)
        log.info("starting a worker (loading the LLM gateway takes a few seconds)")
        worker = self.spawn("worker", [me, "worker", "--ready-file", str(ready)])
        # the API comes up after the worker, so a healthy API means turns are served at once
        wait_until(ready.exists, 60, "the worker", worker, interval=0.1)
        if self.env.get("IMPRESSOX_CHAIN_RPC_URL"):
            self.spawn("listener", [me, "listener"])
        log.info("starting the API")
        api = self.spawn("api", [me, "api", "--port", str(self.args.api_port)])
        api_url = f"http://127.0.0.1:{self.args.api_port}"
        wait_until(lambda: port_open(self.args.api_port), 60, "the API", api, interval=0.1)
        urls["api"] = api_url
        urls["docs"] = f"{api_url}/docs"
        urls["chat"] = f"{api_url}/"
        return urls

    def _keys(self) -> None:
        """The codec and approval keys in the data dir, created on first start (unless set)."""
        local = self.settings.model_copy(update={"data_dir": self.data_dir})
        build_codec(local)
        approval_key(local)

    def _redis(self) -> str:
        url = self.settings.redis_url
        if asyncio.run(redis_reachable(url)):
            return url
        self.redis = RedisServer(data_dir=self.data_dir, log_file=self.logs / "redis.log").start()
        log.info("no Redis at %s: started one at %s", url, self.redis.url)
        return self.redis.url

    def _chain(self) -> dict[str, str]:
        """The local chain and its contracts (on-chain layer); empty when not available."""
        try:
            from cli.up_chain import start_chain
        except ImportError:
            return {}
        return start_chain(self)

    def watch(self, stop: list[bool]) -> int:
        while not stop:
            for name, proc in self.children:
                if proc.poll() is not None:
                    log.error("%s exited with code %s (see %s)", name, proc.returncode, self.logs / f"{name}.log")
                    return 1
            if self.temporal and self.temporal.proc and self.temporal.proc.poll() is not None:
                log.error("the Temporal server exited (see %s)", self.logs / "temporal.log")
                return 1
            time.sleep(0.5)
        return 0

    def stop(self) -> None:
        for _, proc in reversed(self.children):
            stop_process(proc)
        if self.redis:
            self.redis.stop()
        if self.temporal:
            self.temporal.stop()


def run_stack(args: Namespace, settings: Settings) -> int:
    stop: list[bool] = []

    def on_signal(signum: int, _frame: object) -> None:
        stop.append(True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stack = Stack(args, settings)
    try:
        urls = stack.start()
        print("Impressox Agent is up:", flush=True)
        for name, url in urls.items():
            if url:
                print(f"  {name:12} {url}", flush=True)
        print(f"  {'logs':12} {stack.logs}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        code = stack.watch(stop)
    except Exception as exc:  # noqa: BLE001 - report any start-up failure in one line, then clean up
        print(f"impressox up failed: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        stack.stop()
    return code
