"""The worker: hosts the workflows, the node activities and one activity per registered tool.

Scale out by running more of these on the same task queue (``impressox worker``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from activities.accounting import Accounting
from activities.automations import AutomationActivities
from activities.mcp import McpActivities
from activities.nodes import NodeActivities
from activities.tools import ToolActivities
from activities.vaults import VaultActivities
from automations import load_handlers, tasks
from automations.tasks import TaskContext
from core.agents import AgentFactory
from core.approvals import approval_key, install_verifying_key
from core.cache import Cache, build_cache
from core.ledger import UsageLedger
from core.llm.gateway import LLMGateway
from core.nodes import LLMNode
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.shutdown import stop_on_signals
from core.streams import TurnStreams
from core.summarise_node import SummariseNode
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from core.tools import ToolRegistry
from services.chain_access import ChainAccess
from services.mcp import McpPool
from services.notifications import NotificationService
from services.schedules import reconcile_periodic_tasks
from services.sessions import SessionService
from services.tools import load_tools
from services.tools.deps import WorkerDeps
from temporal.plugin import WORKFLOWS, ImpressoxPlugin

log = logging.getLogger(__name__)

__all__ = ["WORKFLOWS", "ImpressoxPlugin", "WorkerDeps", "build_worker", "run_worker"]


def chain_access(settings: Settings) -> ChainAccess | None:
    """The worker's one ChainAccess (None without a chain). It connects to Redis itself on first
    use (settings.redis_url), so the cross-process nonce lock of chain/nonces.py is active."""
    return ChainAccess(settings) if settings.chain_rpc_url else None


def build_worker(
    client: Client,
    settings: Settings,
    registry: ToolRegistry,
    cache: Cache,
    deps: WorkerDeps | None = None,
    task_queue: str | None = None,
    streams: TurnStreams | None = None,
) -> Worker:
    gateway = LLMGateway(
        cache,
        api_key=settings.llm_api_key,
        api_base=settings.llm_api_base,
        api_bases=settings.llm_api_bases,
        cache_ttl_seconds=settings.llm_cache_ttl_seconds,
        offline_token_delay_ms=settings.offline_token_delay_ms,
        offline_first_token_delay_ms=settings.offline_first_token_delay_ms,
    )
    if streams is None:
        streams = TurnStreams.from_settings(settings)
    accounting = Accounting(settings.model_prices, UsageLedger(settings.redis_url, redis_prefix(settings)))
    nodes = NodeActivities([LLMNode(gateway, registry), SummariseNode(gateway)], streams, accounting)
    if deps is None:
        deps = WorkerDeps(settings=settings, cache=cache, chain=chain_access(settings))
    if deps.mcp is None:  # stdio servers start on first use; run_worker closes them
        deps.mcp = McpPool(settings.mcp_servers)
    mcp = McpActivities(deps.mcp, approval_key=approval_key(settings), streams=streams)
    if deps.temporal is None:
        deps.temporal = client
    if deps.agents is None:
        deps.agents = AgentFactory.from_yaml(settings.agents_file, registry, settings)
    key = approval_key(settings)
    # the session workflows' decide_approval validator refuses decisions this key did not sign
    install_verifying_key(task_queue or settings.task_queue, key)
    tools = ToolActivities(registry, cache, deps, approval_key=key, streams=streams, accounting=accounting)
    vaults = VaultActivities(deps.chain)
    load_handlers(settings.handler_modules)
    automations = AutomationActivities(
        NotificationService(client, settings),
        SessionService(client, settings, deps.agents),
        TaskContext(settings=settings, client=client, deps=deps),
        tasks.all(),
    )
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        # workflows, the sandbox runner and these activities: one plugin, the one the replayer uses too
        plugins=[
            ImpressoxPlugin(
                activities=[
                    *nodes.activities(),
                    *tools.activities(),
                    *mcp.activities(),
                    vaults.register,
                    vaults.freeze,
                    *automations.activities(),
                ]
            )
        ],
        max_cached_workflows=settings.max_cached_workflows,
        max_concurrent_activities=settings.max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )


async def run_worker(settings: Settings, stop: asyncio.Event | None = None, ready_file: Path | None = None) -> None:
    """Run a worker until SIGTERM/SIGINT (or ``stop``); in-flight activities finish or are retried."""
    client = await connect(settings, wait_seconds=60)
    await ensure_registered(client)
    registry = load_tools(settings.tool_modules)
    cache = await build_cache(settings.redis_url, redis_prefix(settings))
    chain = chain_access(settings)
    streams = TurnStreams.from_settings(settings)
    deps = WorkerDeps(settings=settings, cache=cache, chain=chain, mcp=McpPool(settings.mcp_servers))
    worker = build_worker(client, settings, registry, cache, deps, streams=streams)
    # platform periodic tasks (@tasks.periodic) become Temporal Schedules; idempotent
    report = await reconcile_periodic_tasks(client, settings, tasks.all())
    log.info("periodic tasks reconciled: %s", report)
    stop = stop or asyncio.Event()
    log.info("worker polling %s on %s", settings.task_queue, settings.temporal_address)
    with stop_on_signals(stop):
        async with worker:
            if ready_file:
                ready_file.write_text(str(os.getpid()))
            await stop.wait()
    if chain:
        await chain.close()
    if deps.mcp:
        await deps.mcp.close()  # stops the stdio servers this worker started
    await streams.close()
    await cache.close()
