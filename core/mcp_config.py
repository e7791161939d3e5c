"""The ``mcp_servers`` setting: MCP servers whose tools agents may use (services/mcp runs them).

Each entry is a stdio server (``command``/``args``/``env``: the worker starts it and keeps it running)
or a streamable HTTP one (``url``/``headers``). Header and environment values are secrets: they stay
in the worker's settings and never enter workflow history.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, SecretStr, model_validator

#: server names become part of tool names (``time_get_current_time``) and activity types
MCP_SERVER_NAME = r"^[a-z][a-z0-9_]{0,31}$"


class McpServerConfig(BaseModel):
    """One MCP server, as configured (YAML ``mcp_servers:`` or ``IMPRESSOX_MCP_SERVERS`` JSON)."""

    model_config = {"extra": "forbid"}

    #: stdio: the program the worker runs (its stdin/stdout carry the protocol)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    #: stdio: the server's whole environment besides PATH/HOME (the SDK's safe defaults); nothing
    #: else of the worker's environment (keys, tokens) reaches it
    env: dict[str, SecretStr] = Field(default_factory=dict)
    #: streamable HTTP: the server's endpoint, e.g. http://127.0.0.1:3001/mcp
    url: str | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    #: which tools wait for a human's approval: true (all), false (none), a list of tool names;
    #: None: the tools the server annotates ``destructiveHint: true``
    require_approval: bool | list[str] | None = None
    #: one call's limit (each attempt); Temporal retries a call that timed out or lost its server
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    max_attempts: int = Field(default=3, ge=1, le=20)
    #: only these tools (empty: all), minus ``exclude``
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if bool(self.command) == bool(self.url):
            raise ValueError("an MCP server needs either command (stdio) or url (streamable HTTP), not both")
        if self.url and not re.match(r"^https?://", self.url):
            raise ValueError("url must start with http:// or https://")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"

    def wants(self, tool: str) -> bool:
        return (not self.include or tool in self.include) and tool not in self.exclude

    def needs_approval(self, tool: str, annotations: dict[str, Any] | None) -> bool:
        if isinstance(self.require_approval, bool):
            return self.require_approval
        if isinstance(self.require_approval, list):
            return tool in self.require_approval
        return bool((annotations or {}).get("destructiveHint") is True)


def mcp_tool_name(server: str, tool: str) -> str:
    """What the model calls a server's tool: ``SERVER_TOOL``, in the characters model APIs accept."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{server}_{tool}")[:64]


def mcp_activity(server: str, tool: str) -> str:
    """The activity type of one call: ``mcp.<server>.<tool>`` (visible as such in the Temporal UI)."""
    return f"mcp.{server}.{tool}"
