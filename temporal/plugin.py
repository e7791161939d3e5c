"""ImpressoxPlugin: the platform's Temporal parts in one place, as the SDK's own plugins bundle theirs
(temporalio.contrib.openai_agents.OpenAIAgentsPlugin, pydantic-ai's PydanticAIPlugin).

Every worker, the replayer and the test fixtures take their workflows, sandbox runner and data
converter from here, so none can register a different set:

    Worker(client, task_queue=..., plugins=[ImpressoxPlugin(activities=[...])])   # temporal/worker.py
    Replayer(workflows=[], plugins=[ImpressoxPlugin(data_converter(settings))])   # tests/test_replay.py

- data converter: pydantic + the encrypting payload codec (core/temporal/client.py); applied to a client
  or a replayer built with the plugin. A worker's converter is its client's (``connect`` sets the same one).
- workflow runner: the sandbox runner with the garbage collector paused while it imports (temporal/sandbox.py).
- workflows: WORKFLOWS below, every workflow the platform runs.
- activities: those the worker built from its registries (tools, nodes, MCP, vaults, automations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio.converter import DataConverter
from temporalio.plugin import SimplePlugin

from temporal.sandbox import WORKFLOW_RUNNER
from workflows.agent_session import AgentSessionWorkflow
from workflows.identity import BotIdentityWorkflow, LinkCodeWorkflow
from workflows.notifications import NotificationsWorkflow
from workflows.periodic import PeriodicTaskWorkflow
from workflows.scheduled_turn import ScheduledTurnWorkflow
from workflows.tenant import TenantWorkflow
from workflows.vaults import VaultRegistryWorkflow
from workflows.watch import WatchWorkflow

#: every workflow the platform's worker hosts (and the replayer replays)
WORKFLOWS: list[type] = [
    AgentSessionWorkflow,
    NotificationsWorkflow,
    VaultRegistryWorkflow,
    ScheduledTurnWorkflow,
    WatchWorkflow,
    PeriodicTaskWorkflow,
    BotIdentityWorkflow,
    LinkCodeWorkflow,
    TenantWorkflow,
]


class ImpressoxPlugin(SimplePlugin):
    """The platform's workflows, sandbox runner, data converter and (on a worker) its activities."""

    def __init__(
        self,
        data_converter: DataConverter | None = None,
        *,
        activities: Sequence[Callable[..., Any]] = (),
    ) -> None:
        super().__init__(
            "impressox.ImpressoxPlugin",
            data_converter=data_converter,
            workflows=list(WORKFLOWS),
            workflow_runner=WORKFLOW_RUNNER,
            activities=list(activities) or None,
        )


__all__ = ["WORKFLOWS", "ImpressoxPlugin"]
