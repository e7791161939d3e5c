"""Automations: scheduled and event-driven work, registered by decorator.

    from automations import tasks, events

    @tasks.periodic("price-poll", every=timedelta(minutes=1))
    async def poll(ctx: TaskContext) -> str: ...          # a Temporal Schedule at worker start

    @events.on("AgentVault", "Deposited")
    async def notify(event: ChainEvent, ctx: EventContext) -> None: ...   # the listener calls it

``load_handlers`` imports the platform's handler modules (HANDLER_MODULES) and those of the
``handler_modules`` setting (``IMPRESSOX_HANDLER_MODULES``: one new module, no other edit) so their
decorators run.
"""

from __future__ import annotations

from collections.abc import Iterable

from automations.events import events
from automations.tasks import tasks
from core.plugins import import_modules

HANDLER_MODULES = ("automations.handlers.deposits", "automations.handlers.watch", "automations.handlers.periodic")


def load_handlers(extra_modules: Iterable[str] = ()) -> None:
    """Import the built-in handler modules and ``extra_modules`` (settings.handler_modules), once each."""
    import_modules(HANDLER_MODULES, extra_modules)


__all__ = ["events", "load_handlers", "tasks"]
