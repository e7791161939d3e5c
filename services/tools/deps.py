"""WorkerDeps: the services a worker process gives its tools (``ToolContext[WorkerDeps].deps``).

It lives beside the tools that read it; the worker assembly (temporal/worker.py, the composition
root) builds one per process. ``core.tools.ToolContext`` is generic over it, so core never names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.cache import Cache
from core.settings import Settings

if TYPE_CHECKING:  # only the types are needed here
    from temporalio.client import Client

    from core.agents import AgentFactory
    from services.chain_access import ChainAccess
    from services.mcp import McpPool


@dataclass
class WorkerDeps:
    """Services tools may use. Built once per worker process (see temporal/worker.py)."""

    settings: Settings
    cache: Cache
    #: the chain (vault service, operator signer), connected on first use; None without a chain
    chain: ChainAccess | None = None
    #: the Temporal client (schedule and alert tools manage the user's schedules and rules)
    temporal: Client | None = None
    #: the worker's agents (the schedule tools check a schedule's agent against them)
    agents: AgentFactory | None = None
    #: the worker's MCP server connections (settings ``mcp_servers``), shared by every session
    mcp: McpPool | None = None
