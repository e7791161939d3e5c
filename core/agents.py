"""Agents are declared in YAML (config/agents.yaml); the factory builds the run plan a session receives.

An agent composes node kinds: the ``llm`` step (always), the ``summarise`` fold (``summarise``,
on by default), MCP servers' tools (``mcp_servers``) and other agents (``agents``: an
``ask_<name>`` tool that runs the agent as a child workflow). A cycle of agents asking agents,
or a chain deeper than ``max_agent_depth``, is refused when the file loads.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from core.errors import BadInputError, ConfigError
from core.schemas import AgentPlan, Multitask, ToolSpec
from core.settings import Settings
from core.tools import ToolRegistry


class AgentDefinition(BaseModel):
    """One agent as written in YAML."""

    description: str = ""
    persona: str
    #: a litellm model id; empty = the configured default model
    model: str | None = None
    #: litellm model ids tried in order when the model fails for good (5xx, 429, timeout, auth)
    fallbacks: list[str] = Field(default_factory=list)
    tools: list[str] = Field(default_factory=list)
    max_steps: int = Field(default=6, ge=1, le=50)
    context_messages: int = Field(default=20, ge=1, le=500)
    approval_timeout_seconds: float | None = Field(default=None, gt=0)
    #: what a new message does while this agent's turn runs (enqueue, reject, interrupt,
    #: rollback); None: the platform's default (settings multitask_defaults), else enqueue
    multitask: Multitask | None = None
    #: MCP servers (settings ``mcp_servers``) whose tools this agent may call, as SERVER_TOOL
    mcp_servers: list[str] = Field(default_factory=list)
    #: agents this one may ask (tool ``ask_<name>``, each run as a child workflow)
    agents: list[str] = Field(default_factory=list)
    #: fold what leaves the model's context into a running summary instead of forgetting it
    summarise: bool = True
    summary_batch: int = Field(default=10, ge=2, le=200)


class AgentsFile(BaseModel):
    agents: dict[str, AgentDefinition]


class AgentFactory:
    def __init__(self, definitions: dict[str, AgentDefinition], registry: ToolRegistry, settings: Settings):
        for name, d in definitions.items():
            unknown = [t for t in d.tools if t not in registry]
            if unknown:
                raise ConfigError(f"agent {name!r} lists unknown tools {unknown}; known: {registry.names()}")
            servers = [s for s in d.mcp_servers if s not in settings.mcp_servers]
            if servers:
                raise ConfigError(
                    f"agent {name!r} lists MCP servers {servers} that are not configured (mcp_servers: "
                    f"{sorted(settings.mcp_servers) or 'none'})"
                )
            agents = [a for a in d.agents if a not in definitions]
            if agents:
                raise ConfigError(f"agent {name!r} asks unknown agents {agents}; known: {sorted(definitions)}")
        for name in definitions:
            _check_chain(definitions, [name], settings.max_agent_depth)
        self.definitions = definitions
        self.registry = registry
        self.settings = settings

    @classmethod
    def from_yaml(cls, path: Path, registry: ToolRegistry, settings: Settings) -> AgentFactory:
        try:
            raw = yaml.safe_load(Path(path).read_text())
            parsed = AgentsFile.model_validate(raw)
        except FileNotFoundError:
            raise ConfigError(f"agents file {path} does not exist") from None
        except (yaml.YAMLError, ValidationError) as exc:
            raise ConfigError(f"agents file {path} is invalid: {exc}") from None
        return cls(parsed.agents, registry, settings)

    def names(self) -> list[str]:
        return sorted(self.definitions)

    def build(self, name: str) -> AgentPlan:
        d = self.definitions.get(name)
        if d is None:
            raise BadInputError(f"unknown agent {name!r}; available: {', '.join(self.names())}")
        s = self.settings
        return AgentPlan(
            name=name,
            persona=d.persona,
            model=d.model or s.model,
            fallbacks=d.fallbacks,
            tools=[self.registry.get(t).spec() for t in d.tools] + [self._ask_spec(a) for a in d.agents],
            mcp_servers=d.mcp_servers,
            # the chains are bounded and acyclic (checked at load), so this ends
            agents={a: self.build(a) for a in d.agents},
            max_agent_calls_per_turn=s.max_agent_calls_per_turn,
            summarise=d.summarise,
            summary_batch=d.summary_batch,
            max_steps=d.max_steps,
            context_messages=d.context_messages,
            approval_timeout_seconds=d.approval_timeout_seconds or s.approval_timeout_seconds,
            continue_as_new_after_turns=s.continue_as_new_after_turns,
            transcript_window=s.transcript_window,
            llm_timeout_seconds=s.llm_timeout_seconds,
        )

    def _ask_spec(self, agent: str) -> ToolSpec:
        d = self.definitions[agent]
        about = f": {d.description}" if d.description else ""
        return ToolSpec(
            name=f"ask_{agent}",
            description=f"Ask the {agent} agent{about}. It answers one message on its own and returns its reply.",
            parameters={
                "type": "object",
                "properties": {"message": {"type": "string", "description": f"what to ask the {agent} agent"}},
                "required": ["message"],
            },
            side_effects=True,
            agent=agent,
        )


def _check_chain(definitions: dict[str, AgentDefinition], chain: list[str], max_depth: int) -> None:
    """ConfigError for a cycle of agents asking agents or a chain deeper than ``max_depth``."""
    for asked in definitions[chain[-1]].agents:
        if asked in chain:
            raise ConfigError(f"agents ask each other in a cycle: {' -> '.join([*chain, asked])}")
        if len(chain) > max_depth:
            raise ConfigError(
                f"agents ask agents {len(chain)} deep ({' -> '.join([*chain, asked])}), "
                f"deeper than max_agent_depth {max_depth}"
            )
        _check_chain(definitions, [*chain, asked], max_depth)
