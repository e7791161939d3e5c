"""Tool registry: tools are registered with a decorator on an explicit registry object.

A tool is an async function taking one pydantic args model (its JSON schema is what the
model sees) and a ToolContext; its docstring is its description. Each tool runs as
its own Temporal activity named ``tool.<name>`` with its own timeout and retry policy.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import BaseModel

from core.schemas import ToolSpec

if TYPE_CHECKING:
    from core.deps import WorkerDeps


@dataclass(frozen=True)
class ToolContext:
    """What a running tool may know about its call (never secrets: those live in deps)."""

    call_id: str
    session_id: str
    owner: str
    #: stable across activity retries and workflow replays: use it to make side effects once-only
    idempotency_key: str
    #: services the worker was built with (settings, cache, chain); None in bare unit tests
    deps: WorkerDeps | None = None


ToolFunc = Callable[[Any, ToolContext], Awaitable["str | ToolResult"]]
#: runs before an approval is asked for; raises BadInputError when the call cannot succeed
PrecheckFunc = Callable[[Any, ToolContext], Awaitable[None]]


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: text for the model and the user, optional structured data."""

    output: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    func: ToolFunc
    side_effects: bool = False
    requires_approval: bool = False
    cache_ttl_seconds: int = 0
    timeout_seconds: float = 30.0
    heartbeat_timeout_seconds: float | None = None
    max_attempts: int = 5
    approval_template: str | None = None
    precheck: PrecheckFunc | None = None

    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name,
            description=self.description,
            parameters=self.args_model.model_json_schema(),
            requires_approval=self.requires_approval,
            side_effects=self.side_effects,
            timeout_seconds=self.timeout_seconds,
            heartbeat_timeout_seconds=self.heartbeat_timeout_seconds,
            max_attempts=self.max_attempts,
            approval_template=self.approval_template,
        )


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self,
        name: str | None = None,
        *,
        side_effects: bool = False,
        requires_approval: bool = False,
        cache_ttl_seconds: int = 0,
        timeout_seconds: float = 30.0,
        heartbeat_timeout_seconds: float | None = None,
        max_attempts: int = 5,
        approval_template: str | None = None,
        precheck: PrecheckFunc | None = None,
    ) -> Callable[[ToolFunc], ToolFunc]:
        """Decorator: register an ``async def tool(args: ArgsModel, ctx: ToolContext)``."""

        def decorate(func: ToolFunc) -> ToolFunc:
            tool_name = name or func.__name__
            if tool_name in self._tools:
                raise ValueError(f"tool {tool_name!r} is registered twice")
            if not inspect.iscoroutinefunction(func):
                raise TypeError(f"tool {tool_name!r} must be an async function")
            params = list(inspect.signature(func).parameters)
            hints = get_type_hints(func)
            args_model = hints.get(params[0]) if params else None
            if not (isinstance(args_model, type) and issubclass(args_model, BaseModel)):
                raise TypeError(f"tool {tool_name!r}: first parameter must be annotated with a pydantic model")
            if cache_ttl_seconds and (side_effects or requires_approval):
                raise ValueError(f"tool {tool_name!r}: a tool with side effects cannot be cached")
            doc = inspect.getdoc(func)
            if not doc:
                raise ValueError(f"tool {tool_name!r} needs a docstring: it is the description the model sees")
            self._tools[tool_name] = Tool(
                name=tool_name,
                description=doc,
                args_model=args_model,
                func=func,
                side_effects=side_effects or requires_approval,
                requires_approval=requires_approval,
                cache_ttl_seconds=cache_ttl_seconds,
                timeout_seconds=timeout_seconds,
                heartbeat_timeout_seconds=heartbeat_timeout_seconds,
                max_attempts=max_attempts,
                approval_template=approval_template,
                precheck=precheck,
            )
            return func

        return decorate

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"unknown tool {name!r}; known: {', '.join(sorted(self._tools))}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool]:
        return iter(self._tools.values())

    def names(self) -> list[str]:
        return sorted(self._tools)
