"""``impressox up``: the whole stack in the foreground on embedded defaults.

Temporal dev server (SQLite under the data dir, Web UI), a Redis (the configured one when
reachable, else one started here), the local chain, then a worker, the chain listener, the API
and the bot of each chat platform whose token is set as child processes. Before anything starts,
every port it needs is checked: a busy one fails at once in one line. While it runs, a crashed
Temporal server, API, worker, listener, bot or Redis is logged and restarted with backoff; only
the chain going away stops the stack.
Ctrl-C or SIGTERM stops every child; the children also die with ``up`` if it is killed
(see ``devstack/processes.py``). Where the stack serves is written to ``<data_dir>/stack.json``
for the other commands (``impressox chat`` ...), and removed on stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from argparse import Namespace
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bots.common.platforms import platforms_to_run
from cli.up_chain import start_chain
from core.approvals import approval_key
from core.cache import redis_reachable
from core.settings import Settings
from core.temporal.codec import build_codec
from devstack.processes import Command, find_executable, free_port, port_in_use, port_open, wait_until
from devstack.redis_server import RedisServer
from devstack.stackfile import StackInfo, read_stack, remove_stack, write_stack
from devstack.supervisor import Supervisor
from devstack.temporal_server import TemporalDevServer

log = logging.getLogger("impressox.up")
#: how long a child may take to be ready (generous: a loaded machine imports slowly)
STARTUP_SECONDS = 120


class StopRequested(BaseException):  # named like KeyboardInterrupt: a request to stop, not an error
    """SIGTERM or SIGINT arrived while the stack was starting."""


@dataclass
class Port:
    number: int
    what: str
    option: str


def ports_of(args: Namespace, settings: Settings) -> list[Port]:
    """Every port ``up`` will bind (the chain's only when asked for one: else any free port does)."""
    ports = [
        Port(args.api_port, "the API", "--api-port"),
        Port(args.temporal_port, "Temporal", "--temporal-port"),
        Port(args.ui_port, "the Temporal Web UI", "--ui-port"),
    ]
    if args.chain_port is not None and not settings.chain_rpc_url:
        ports.append(Port(args.chain_port, "the chain", "--chain-port"))
    return ports


def preflight(args: Namespace, settings: Settings, data_dir: Path) -> str | None:
    """Why the stack cannot start here (a busy port, another ``up`` on the data dir), or None."""
    running = read_stack(data_dir)
    if running is not None:
        return f"another `impressox up` (pid {running.pid}) already runs on {data_dir}; stop it first"
    for port in ports_of(args, settings):
        if port_in_use(port.number):
            return f"port {port.number} ({port.what}) is already in use; free it or pick another with {port.option}"
    return None


class Stack:
    def __init__(self, args: Namespace, settings: Settings, data_dir: Path) -> None:
        self.args = args
        self.data_dir = data_dir
        self.logs = self.data_dir / "logs"
        self.settings = settings
        self.supervisor = Supervisor()
        self.env = dict(os.environ)
        #: each child's Prometheus endpoint, by child name
        self.metrics: dict[str, str] = {}
        #: the chat platforms to run, each as a child ``impressox bot NAME`` (a bad setting fails here)
        self.bots = platforms_to_run(settings)

    def start(self) -> dict[str, str]:
        self.logs.mkdir(parents=True, exist_ok=True)
        urls: dict[str, str] = {}
        temporal = TemporalDevServer(
            self.args.temporal_port,
            self.data_dir / "temporal.db",
            ui_port=self.args.ui_port,
            log_file=self.logs / "temporal.log",
            codec_endpoint=f"http://127.0.0.1:{self.args.api_port}/codec",
        )
        self._keys()
        log.info("starting the Temporal dev server (state in %s)", self.data_dir)
        # restartable: its SQLite file (WAL) keeps every workflow, and the workers and API reconnect
        self.supervisor.add("the Temporal server", temporal, restart=True)
        temporal.start()
        urls["temporal"] = temporal.address
        urls["temporal_ui"] = temporal.ui_url or ""
        self.env.update(
            IMPRESSOX_TEMPORAL_ADDRESS=temporal.address,
            IMPRESSOX_DATA_DIR=str(self.data_dir),
            IMPRESSOX_TEMPORAL_UI_PORT=str(self.args.ui_port),
        )

        urls["redis"] = self._redis()
        self.env["IMPRESSOX_REDIS_URL"] = urls["redis"]

        log.info("starting the local chain and deploying the contracts")
        chain = start_chain(
            rpc_url=self.settings.chain_rpc_url, data_dir=self.data_dir, port=self.args.chain_port, log_dir=self.logs
        )
        if chain is not None:
            if chain.node is not None:
                self.supervisor.add("the chain", chain.node, restart=False)
            urls.update(chain.urls)
            self.env.update(chain.env)

        me = find_executable("impressox")
        count = self.args.workers
        log.info("starting %s (loading the LLM gateway takes a few seconds)", _plural(count, "worker"))
        # all at once (start-up is mostly waiting on imports), each with its own ready file and log
        started = []
        for i in range(1, count + 1):
            name = "worker" if count == 1 else f"worker-{i}"
            ready = self.data_dir / f"{name}.ready"
            ready.unlink(missing_ok=True)
            started.append((name, ready, self._child(name, [me, "worker", "--ready-file", str(ready)])))
        # the API comes up after the workers, so a healthy API means turns are served at once
        for name, ready, worker in started:
            wait_until(ready.exists, STARTUP_SECONDS, f"the {name}", worker.proc, interval=0.1)
        log.info("starting the API (%s)", _plural(self.args.api_workers, "process", "processes"))
        api_cmd = [me, "api", "--port", str(self.args.api_port), "--workers", str(self.args.api_workers)]
        api = self._child("api", api_cmd)
        wait_until(lambda: port_open(self.args.api_port), STARTUP_SECONDS, "the API", api.proc, interval=0.1)
        if chain is not None:  # last: it is not needed to serve turns, and start-up is CPU-bound
            self._child("listener", [me, "listener"])
        for platform in self.bots:  # each chat platform whose token is set, restartable
            log.info("starting the %s bot", platform)
            self._child(f"bot-{platform}", [me, "bot", platform])
        api_url = f"http://127.0.0.1:{self.args.api_port}"
        urls["api"] = api_url
        urls["docs"] = f"{api_url}/docs"
        urls["chat"] = f"{api_url}/"
        self.metrics["api"] = f"{api_url}/metrics"
        urls.update({f"metrics {name}": url for name, url in self.metrics.items()})
        return urls

    def _keys(self) -> None:
        """The codec and approval keys in the data dir, created on first start (unless set)."""
        local = self.settings.model_copy(update={"data_dir": self.data_dir})
        build_codec(local)
        approval_key(local)

    def _child(self, name: str, cmd: list[str]) -> Command:
        """A restartable child: its crash is logged and it comes back with backoff. Each one but the
        API (whose /metrics is on its own port) serves Prometheus metrics on a port of its own,
        kept across restarts and recorded in stack.json (``metrics``)."""
        env = self.env
        if name != "api":
            port = free_port()
            env = {**self.env, "IMPRESSOX_METRICS_PORT": str(port)}
            self.metrics[name] = f"http://127.0.0.1:{port}/metrics"
        child = Command(cmd, log_file=self.logs / f"{name}.log", env=env)
        self.supervisor.add(name, child, restart=True)
        child.start()
        return child

    def _redis(self) -> str:
        url = self.settings.redis_url
        if asyncio.run(redis_reachable(url)):
            return url
        redis = RedisServer(data_dir=self.data_dir, log_file=self.logs / "redis.log")
        self.supervisor.add("redis", redis, restart=True)
        redis.start()
        log.info("no Redis at %s: started one at %s", url, redis.url)
        return redis.url

    def stop(self) -> None:
        self.supervisor.stop()


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def run_stack(args: Namespace, settings: Settings) -> int:
    data_dir = Path(args.data_dir or settings.data_dir).resolve()
    problem = preflight(args, settings, data_dir)
    if problem:
        print(f"impressox up: {problem}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    starting = True

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        if starting:  # interrupt the start-up where it is; the finally below cleans up
            raise StopRequested

    # installed on the main thread, which also starts every child: their lifeline is tied to it
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stack = Stack(args, settings, data_dir)
    wrote_stack_file = False
    try:
        urls = stack.start()
        starting = False
        write_stack(
            data_dir,
            StackInfo(
                temporal_address=urls["temporal"],
                api_url=urls["api"],
                redis_url=urls["redis"],
                chain_rpc_url=urls.get("chain_rpc"),
                ui_url=urls.get("temporal_ui") or None,
                pid=os.getpid(),
                started_at=datetime.now(UTC),
                metrics=stack.metrics,
            ),
        )
        wrote_stack_file = True
        print("Impressox Agent is up:", flush=True)
        for name, url in urls.items():
            if url:
                print(f"  {name:12} {url}", flush=True)
        print(f"  {'logs':12} {stack.logs}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        code = stack.supervisor.run(stop)
    except StopRequested:
        code = 0
    except Exception as exc:  # noqa: BLE001 - report any start-up failure in one line, then clean up
        print(f"impressox up failed: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        starting = False
        stack.stop()
        if wrote_stack_file:
            remove_stack(data_dir, os.getpid())
    return code
