"""Workers: scheduled and event-driven work, registered by decorator.

    from workers import tasks, events

    @tasks.periodic("price-poll", every=timedelta(minutes=1))
    async def poll(ctx: TaskContext) -> str: ...          # a Temporal Schedule at worker start

    @events.on("AgentVault", "Deposited")
    async def notify(event: ChainEvent, ctx: EventContext) -> None: ...   # the listener calls it

``load_handlers`` imports the handler modules (HANDLER_MODULES) so their decorators run.
"""

from __future__ import annotations

import importlib

from workers.events import events
from workers.tasks import tasks

HANDLER_MODULES = ("workers.handlers.deposits", "workers.handlers.watch", "workers.handlers.periodic")


def load_handlers() -> None:
    for module in HANDLER_MODULES:
        importlib.import_module(module)


__all__ = ["events", "load_handlers", "tasks"]
