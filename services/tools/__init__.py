"""The platform's tools. ``load_tools`` builds a registry from the tool modules it is given."""

from __future__ import annotations

from collections.abc import Iterable

from core.plugins import import_modules
from core.tools import ToolRegistry
from services.tools.registry import tools

BUILTIN_MODULES = ("services.tools.builtin", "services.tools.chain", "services.tools.automations")


def load_tools(extra_modules: Iterable[str] = ()) -> ToolRegistry:
    """A fresh registry of the built-in tools and those of the plugin modules (settings.tool_modules).

    Importing a module runs its ``@tools.register`` declarations (once per process); only the
    modules named here are served, whatever else the process has imported.
    """
    return tools.registry(import_modules(BUILTIN_MODULES, extra_modules))


__all__ = ["BUILTIN_MODULES", "load_tools", "tools"]
