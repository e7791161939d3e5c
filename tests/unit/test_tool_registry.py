"""The tool registry: schema from the args model, description from the docstring, and
registrations that would misbehave at run time are refused when they are declared."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from core.tools import ToolContext, ToolDeclarations, ToolRegistry, ToolResult


class EchoArgs(BaseModel):
    text: str = Field(description="What to echo", max_length=100)
    times: int = Field(default=1, ge=1, le=5)


class TransferArgs(BaseModel):
    to: str
    amount: str


class NotAModel:
    text: str


def test_schema_from_the_args_model_and_description_from_the_docstring() -> None:
    registry = ToolRegistry()

    @registry.register(timeout_seconds=3)
    async def echo(args: EchoArgs, ctx: ToolContext) -> ToolResult:
        """Repeat the text back.

        Useful for testing."""
        return ToolResult(output=args.text * args.times)

    tool = registry.get("echo")
    assert tool.description == "Repeat the text back.\n\nUseful for testing."
    spec = tool.spec()
    assert spec.name == "echo"
    assert spec.parameters == EchoArgs.model_json_schema()
    assert spec.parameters["properties"]["text"]["description"] == "What to echo"
    assert spec.parameters["required"] == ["text"]
    assert spec.timeout_seconds == 3
    assert spec.side_effects is False and spec.requires_approval is False
    assert registry.names() == ["echo"] and "echo" in registry


def test_explicit_name() -> None:
    registry = ToolRegistry()

    @registry.register("say")
    async def echo(args: EchoArgs, ctx: ToolContext) -> str:
        """Say it."""
        return args.text

    assert registry.names() == ["say"]


def test_unknown_tool_lookup_names_the_known_ones() -> None:
    registry = ToolRegistry()

    @registry.register()
    async def echo(args: EchoArgs, ctx: ToolContext) -> str:
        """Say it."""
        return args.text

    with pytest.raises(KeyError, match=r"unknown tool 'nope'; known: echo"):
        registry.get("nope")


def test_tool_without_docstring_is_refused() -> None:
    registry = ToolRegistry()
    with pytest.raises(ValueError, match="'echo' needs a docstring"):

        @registry.register()
        async def echo(args: EchoArgs, ctx: ToolContext) -> str:
            return args.text

    assert "echo" not in registry


def test_sync_function_is_refused() -> None:
    registry = ToolRegistry()
    with pytest.raises(TypeError, match="'echo' must be an async function"):

        @registry.register()  # type: ignore[type-var]  # a wrong declaration, on purpose
        def echo(args: EchoArgs, ctx: ToolContext) -> str:
            """Say it."""
            return args.text


@pytest.mark.parametrize("annotation", [str, dict, NotAModel])
def test_first_argument_must_be_a_pydantic_model(annotation: type) -> None:
    registry = ToolRegistry()

    async def echo(args, ctx) -> str:
        """Say it."""
        return str(args)

    echo.__annotations__ = {"args": annotation, "ctx": ToolContext, "return": str}
    with pytest.raises(TypeError, match="first parameter must be annotated with a pydantic model"):
        registry.register()(echo)


def test_tool_without_parameters_is_refused() -> None:
    registry = ToolRegistry()
    with pytest.raises(TypeError, match="first parameter must be annotated with a pydantic model"):

        @registry.register()  # type: ignore[type-var]  # a wrong declaration, on purpose
        async def echo() -> str:
            """Say it."""
            return ""


def test_registering_a_name_twice_is_refused() -> None:
    registry = ToolRegistry()

    @registry.register()
    async def echo(args: EchoArgs, ctx: ToolContext) -> str:
        """Say it."""
        return args.text

    with pytest.raises(ValueError, match="'echo' is registered twice"):

        @registry.register("echo")
        async def other(args: EchoArgs, ctx: ToolContext) -> str:
            """Say something else."""
            return args.text

    assert registry.get("echo").func is echo


def test_cached_tool_with_side_effects_is_refused() -> None:
    registry = ToolRegistry()
    with pytest.raises(ValueError, match="'notify'.*side effects cannot be cached"):

        @registry.register(side_effects=True, cache_ttl_seconds=60)
        async def notify(args: EchoArgs, ctx: ToolContext) -> str:
            """Send a notification."""
            return "sent"


def test_requires_approval_implies_side_effects() -> None:
    registry = ToolRegistry()

    @registry.register(requires_approval=True, approval_template="send {amount} to {to}")
    async def transfer(args: TransferArgs, ctx: ToolContext) -> str:
        """Move money."""
        return "sent"

    spec = registry.get("transfer").spec()
    assert spec.requires_approval is True
    assert spec.side_effects is True
    assert spec.approval_template == "send {amount} to {to}"


def test_cached_tool_that_requires_approval_is_refused() -> None:
    # requires_approval implies side effects, so the same rule applies: the declaration is
    # contradictory (activities/tools.py would silently ignore the TTL) and must be refused.
    registry = ToolRegistry()
    with pytest.raises(ValueError, match="cannot be cached"):

        @registry.register(requires_approval=True, cache_ttl_seconds=60)
        async def transfer(args: TransferArgs, ctx: ToolContext) -> str:
            """Move money."""
            return "sent"


def test_declarations_build_a_fresh_registry_per_call_from_the_modules_asked_for() -> None:
    from services.tools import load_tools

    plain = load_tools()
    with_plugin = load_tools(["tests.plugins.test_tools"])
    again = load_tools()
    # the test plugin's tools are served only where the plugin module is named
    assert "slow_note" in with_plugin and "slow_note" not in plain and "slow_note" not in again
    assert {"calculator", "current_time", "transfer"} <= set(plain.names())
    assert plain is not again and plain.names() == again.names()


def test_a_declaration_is_recorded_under_its_module_only() -> None:
    declarations = ToolDeclarations()

    @declarations.register()
    async def echo(args: EchoArgs, ctx: ToolContext) -> str:
        """Say it."""
        return args.text

    assert [t.name for t in declarations.declared_in(__name__)] == ["echo"]
    assert declarations.registry(["some.other.module"]).names() == []
    assert declarations.registry([__name__, __name__]).names() == ["echo"]  # a module named twice counts once


def test_the_same_tool_name_twice_in_one_registry_is_refused() -> None:
    declarations = ToolDeclarations()

    @declarations.register()
    async def echo(args: EchoArgs, ctx: ToolContext) -> str:
        """Say it."""
        return args.text

    (tool,) = declarations.declared_in(__name__)
    with pytest.raises(ValueError, match="'echo' is registered twice"):
        ToolRegistry([tool, tool])
