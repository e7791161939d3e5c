"""The platform's tools. ``load_tools`` imports every tool module so their decorators run."""

from __future__ import annotations

import importlib

from core.tools import ToolRegistry
from services.tools.registry import tools

BUILTIN_MODULES = ("services.tools.builtin", "services.tools.chain", "services.tools.workers")


def load_tools(extra_modules: list[str] | tuple[str, ...] = ()) -> ToolRegistry:
    """Import the built-in tool modules and any plugin modules (settings.tool_modules)."""
    for module in (*BUILTIN_MODULES, *extra_modules):
        importlib.import_module(module)
    return tools


__all__ = ["load_tools", "tools"]
