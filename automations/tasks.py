"""``@tasks.periodic``: platform-level periodic work, run as Temporal Schedules.

Each task becomes the schedule ``task:<name>`` whose action is a PeriodicTaskWorkflow that runs
the activity ``task.<name>``. ``reconcile`` (called at worker start) makes Temporal's schedules
match the registry: it creates missing ones, updates a changed spec and deletes the schedules of
tasks that no longer exist. Running it twice changes nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from core.errors import ConfigError

if TYPE_CHECKING:
    from temporalio.client import Client

    from core.settings import Settings

#: what the worker gives its tasks (its ``services.tools.deps.WorkerDeps``), as ToolContext has it
DepsT = TypeVar("DepsT")
TaskFunc = Callable[["TaskContext[Any]"], Awaitable[str | None]]


@dataclass(frozen=True)
class TaskContext(Generic[DepsT]):
    """What a periodic task may use: the settings, the Temporal client, the worker's services."""

    settings: Settings
    client: Client
    deps: DepsT | None = None


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    func: TaskFunc
    every: timedelta | None = None
    cron: str | None = None
    description: str = ""
    timeout_seconds: float = 60

    def spec_key(self) -> str:
        """What identifies the spec; a change means the schedule must be updated."""
        return f"every={int(self.every.total_seconds())}s" if self.every else f"cron={self.cron}"


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, PeriodicTask] = {}

    def periodic(
        self,
        name: str,
        *,
        every: timedelta | float | None = None,
        cron: str | None = None,
        timeout_seconds: float = 60,
    ) -> Callable[[TaskFunc], TaskFunc]:
        """Decorator: run ``async def task(ctx: TaskContext)`` every ``every`` (or on ``cron``)."""
        if (every is None) == (cron is None):
            raise ConfigError(f"periodic task {name!r}: give exactly one of every= or cron=")
        if every is not None and not isinstance(every, timedelta):
            every = timedelta(seconds=float(every))
        if every is not None and every.total_seconds() < 1:
            raise ConfigError(f"periodic task {name!r}: every= must be at least 1 second")

        def register(func: TaskFunc) -> TaskFunc:
            if name in self._tasks:
                raise ConfigError(f"periodic task {name!r} is registered twice")
            if not inspect.iscoroutinefunction(func):
                raise ConfigError(f"periodic task {name!r} must be an async function")
            self._tasks[name] = PeriodicTask(
                name, func, every, cron, (inspect.getdoc(func) or "").split("\n")[0], timeout_seconds
            )
            return func

        return register

    def get(self, name: str) -> PeriodicTask:
        return self._tasks[name]

    def all(self) -> list[PeriodicTask]:
        return list(self._tasks.values())

    def unregister(self, name: str) -> None:
        """For tests: forget a task (the next reconcile deletes its schedule)."""
        self._tasks.pop(name, None)


tasks = TaskRegistry()
