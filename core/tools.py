"""Tool registry: tools are declared with a decorator and served from an explicit registry object.

A tool is an async function taking one pydantic args model (its JSON schema is what the
model sees) and a ToolContext; its docstring is its description. Each tool runs as
its own Temporal activity named ``tool.<name>`` with its own timeout and retry policy.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, get_type_hints

from pydantic import BaseModel

from core.schemas import ToolSpec

#: what the process that runs the tools gives them (the worker's ``services.tools.deps.WorkerDeps``);
#: core does not know it, so a tool names the deps it reads: ``ctx: ToolContext[WorkerDeps]``
DepsT = TypeVar("DepsT")


@dataclass(frozen=True)
class ToolContext(Generic[DepsT]):
    """What a running tool may know about its call (never secrets: those live in deps)."""

    call_id: str
    session_id: str
    owner: str
    #: stable across activity retries and workflow replays: use it to make side effects once-only
    idempotency_key: str
    #: services the worker was built with (settings, cache, chain); None in bare unit tests
    deps: DepsT | None = None
    #: what the human's signed approval binds (PendingApproval.binding), verified by the activity
    #: before the tool runs; the tool refuses to do anything else (None: no binding was signed)
    binding: dict[str, Any] | None = None


ToolFunc = Callable[[Any, ToolContext[Any]], Awaitable["str | ToolResult"]]
#: a decorated tool keeps its own signature (e.g. ``-> ToolResult``) for its direct callers
F = TypeVar("F", bound=ToolFunc)
#: runs before an approval is asked for; raises BadInputError when the call cannot succeed; may
#: return {"simulation": ..., "binding": ..., "undo_seconds": ...} (a transfer's simulated effect)
PrecheckFunc = Callable[[Any, ToolContext[Any]], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class GasPaid:
    """The gas one transaction paid, as a tool reports it: the tool activity counts it once per
    ``tx_hash`` in the user's usage (and budget) at ``eth_usd`` (None: no ETH price, 0 USD)."""

    tx_hash: str
    gas_used: int
    gas_price_wei: int
    eth_usd: float | None = None


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: text for the model and the user, optional structured data, and the gas
    of any transaction it sent."""

    output: str
    data: dict[str, Any] = field(default_factory=dict)
    gas: GasPaid | None = None


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


def make_tool(
    func: ToolFunc,
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
) -> Tool:
    """A checked ``Tool`` for ``async def tool(args: ArgsModel, ctx: ToolContext)``.

    Declarations that would misbehave at run time are refused here, when the module is loaded.
    """
    tool_name = name or func.__name__
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
    return Tool(
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


class ToolRegistry:
    """The tools one worker (or API) serves: built per process by ``services.tools.load_tools``."""

    def __init__(self, tools: Iterable[Tool] = ()) -> None:
        self._tools: dict[str, Tool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool

    def register(self, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Decorator: register an ``async def tool(args: ArgsModel, ctx: ToolContext)`` here
        (options as for :func:`make_tool`)."""

        def decorate(func: F) -> F:
            self.add(make_tool(func, name, **options))
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


class ToolDeclarations:
    """What ``@tools.register(...)`` records: each module's declared tools, not a live registry.

    Decorating only declares a tool under its module's name; nothing is served until
    ``registry(modules)`` builds a fresh :class:`ToolRegistry` from the modules asked for, so
    tools of a module a process did not ask for (a test plugin, say) never leak into it.
    """

    def __init__(self) -> None:
        self._by_module: dict[str, dict[str, Tool]] = {}

    def register(self, name: str | None = None, **options: Any) -> Callable[[F], F]:
        """Decorator: declare ``async def tool(args: ArgsModel, ctx: ToolContext)`` in its module
        (options as for :func:`make_tool`)."""

        def decorate(func: F) -> F:
            tool = make_tool(func, name, **options)
            declared = self._by_module.setdefault(func.__module__, {})
            if tool.name in declared:
                raise ValueError(f"tool {tool.name!r} is registered twice in {func.__module__}")
            declared[tool.name] = tool
            return func

        return decorate

    def declared_in(self, module: str) -> list[Tool]:
        return list(self._by_module.get(module, {}).values())

    def registry(self, modules: Iterable[str]) -> ToolRegistry:
        """A new registry with the tools the named (already imported) modules declared."""
        return ToolRegistry(tool for module in dict.fromkeys(modules) for tool in self.declared_in(module))
