"""The registry every platform tool registers on (plugins too: ``@tools.register(...)``)."""

from core.tools import ToolRegistry

tools = ToolRegistry()
