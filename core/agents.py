"""Agents are declared in YAML (config/agents.yaml); the factory builds the run plan a session receives."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from core.errors import BadInputError, ConfigError
from core.schemas import AgentPlan
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


class AgentsFile(BaseModel):
    agents: dict[str, AgentDefinition]


class AgentFactory:
    def __init__(self, definitions: dict[str, AgentDefinition], registry: ToolRegistry, settings: Settings):
        for name, d in definitions.items():
            unknown = [t for t in d.tools if t not in registry]
            if unknown:
                raise ConfigError(f"agent {name!r} lists unknown tools {unknown}; known: {registry.names()}")
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
            tools=[self.registry.get(t).spec() for t in d.tools],
            max_steps=d.max_steps,
            context_messages=d.context_messages,
            approval_timeout_seconds=d.approval_timeout_seconds or s.approval_timeout_seconds,
            continue_as_new_after_turns=s.continue_as_new_after_turns,
            transcript_window=s.transcript_window,
            llm_timeout_seconds=s.llm_timeout_seconds,
        )
