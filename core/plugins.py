"""Loading plugin modules: each extension point (tools, chain handlers and periodic tasks, chat
platforms) is a list of built-in modules plus those a setting names (``IMPRESSOX_TOOL_MODULES``,
``IMPRESSOX_HANDLER_MODULES``, ``IMPRESSOX_PLATFORM_MODULES``). Importing a module runs its
declarations (``@tools.register``, ``@events.on``, ``@platforms.register``), once per process."""

from __future__ import annotations

import importlib
from collections.abc import Iterable


def import_modules(*groups: Iterable[str]) -> tuple[str, ...]:
    """Import every named module, in order, each once; the names imported (duplicates dropped)."""
    modules = tuple(dict.fromkeys(module for group in groups for module in group))
    for module in modules:
        importlib.import_module(module)
    return modules
