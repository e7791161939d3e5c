"""The tool registry: schema from the args model, description from the docstring, and
registrations that would misbehave at run time are refused when they are declared."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from core.tools import ToolContext, ToolRegistry, ToolResult


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

        @registry.register()
        def echo(args: EchoArgs, ctx: ToolContext) -> str:
            """Say it."""
            return args.text


@pytest.mark.parametrize("annotation", [str, dict, NotAModel])
def test_first_argument_must_be_a_pydantic_model(annotation: type) -> None:
    registry = ToolRegistry()

    async def echo(args, ctx) -> str:  # noqa: ANN001
        """Say it."""
        return str(args)

    echo.__annotations__ = {"args": annotation, "ctx": ToolContext, "return": str}
    with pytest.raises(TypeError, match="first parameter must be annotated with a pydantic model"):
        registry.register()(echo)


def test_tool_without_parameters_is_refused() -> None:
    registry = ToolRegistry()
    with pytest.raises(TypeError, match="first parameter must be annotated with a pydantic model"):

        @registry.register()
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
