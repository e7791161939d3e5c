"""Fixtures for the on-chain tests: a REAL anvil (from the npm install) per test module.

No skip when anvil is missing: these tests exist to prove the chain layer works, so a
missing binary fails loudly with the command that installs it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from chain.client import close_web3, make_web3
from chain.deploy import deploy
from core.agents import AgentFactory
from core.errors import ConfigError
from core.settings import Settings
from devstack.anvil import Anvil, find_anvil
from devstack.processes import free_port
from services.sessions import SessionService
from services.tools import load_tools
from tests.conftest import TemporalServer, make_settings


@pytest.fixture(scope="module")
async def anvil(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Anvil]:
    try:
        binary = find_anvil()
    except ConfigError as exc:
        pytest.fail(f"anvil is required for tests/chain: {exc}", pytrace=False)
    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    node = Anvil(free_port(), binary=binary, log_file=log)
    await node.start()
    yield node
    await node.stop()


@pytest.fixture(scope="module")
async def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
async def deployment(anvil: Anvil, data_dir: Path) -> dict[str, Any]:
    return await deploy(anvil.rpc_url, data_dir)


@pytest.fixture
async def w3(anvil: Anvil) -> AsyncIterator[Any]:
    client = make_web3(anvil.rpc_url)
    yield client
    await close_web3(client)


@pytest.fixture
def chain_settings(
    temporal_server: TemporalServer, redis_server, anvil: Anvil, data_dir: Path, deployment: dict[str, Any]
) -> Settings:
    """Settings on the module's anvil and deployment (a module needing more overrides this)."""
    return make_settings(
        temporal_server,
        redis_server.url,
        data_dir,
        chain_rpc_url=anvil.rpc_url,
        agents_file=Path(__file__).parents[2] / "config" / "agents.yaml",
    )


@pytest.fixture
def chain_sessions(client: Client, chain_settings: Settings) -> SessionService:
    registry = load_tools(chain_settings.tool_modules)
    return SessionService(
        client, chain_settings, AgentFactory.from_yaml(chain_settings.agents_file, registry, chain_settings)
    )
