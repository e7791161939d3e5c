"""How the default offline model understands a tool: each tool module declares its own phrasings here.

The offline model (core/llm/offline.py) knows no tool by name. Every tool answers the generic
``/tool NAME {JSON arguments}``; a tool module may also teach the model plain English, beside the tool:

    from core.llm.phrasebook import PHRASEBOOK, Intent

    @PHRASEBOOK.understands("shout", help='shouting ("shout hello there")')
    def _shout(text: str, available: set[str]) -> Intent | None:
        m = re.match(r"^shout\\s+(.+)$", text, re.I)
        return Intent("shout", {"text": m.group(1)}) if m else None

A phrasing is asked only when one of its tools is offered to the model (the agent lists it), lowest
``order`` first: a sentence that embeds another request ("every hour check my balance") is claimed by
the phrasing that is asked first. ``help`` is the tool's line in the model's "help" answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: the tool results answered since the user's latest message, in call order: (tool name, result text)
Results = list[tuple[str, str]]


@dataclass(frozen=True)
class Intent:
    """A tool call the offline model makes: the tool's name and its JSON arguments."""

    tool: str
    args: dict[str, Any]


#: text, the offered tool names -> the call the text asks for, or None
Parse = Callable[[str, set[str]], Intent | None]
#: the user's text, the results so far, the offered tools -> the next call, the final answer, or None (not mine)
FollowUp = Callable[[str, Results, set[str]], Intent | str | None]


@dataclass(frozen=True)
class Phrasing:
    tools: tuple[str, ...]
    parse: Parse | None = None
    follow_up: FollowUp | None = None
    help: str | None = None
    order: int = 50


class Phrasebook:
    """The phrasings every imported tool module declared (keyed by the declaring function: a module
    imported twice, as tests do, replaces its own entries instead of doubling them)."""

    def __init__(self) -> None:
        self._phrasings: dict[str, Phrasing] = {}

    def understands(self, *tools: str, help: str | None = None, order: int = 50) -> Callable[[Parse], Parse]:
        """Decorator: ``parse(text, available) -> Intent | None`` for requests that call one of ``tools``."""

        def decorate(parse: Parse) -> Parse:
            self._add(parse, Phrasing(tools, parse=parse, help=help, order=order))
            return parse

        return decorate

    def follows_up(self, *tools: str, order: int = 50) -> Callable[[FollowUp], FollowUp]:
        """Decorator: a request answered in several steps (the price, then the calculator, then the sum in
        words): ``follow_up(user_text, results, available)`` is asked after each tool result."""

        def decorate(follow_up: FollowUp) -> FollowUp:
            self._add(follow_up, Phrasing(tools, follow_up=follow_up, order=order))
            return follow_up

        return decorate

    def describe(self, tool: str, help: str, order: int = 50) -> None:
        """A help line alone, for a tool understood only through ``/tool``."""
        self._phrasings[f"help:{tool}"] = Phrasing((tool,), help=help, order=order)

    def _add(self, func: Callable[..., Any], phrasing: Phrasing) -> None:
        self._phrasings[f"{func.__module__}.{func.__qualname__}"] = phrasing

    def _offered(self, available: set[str]) -> list[Phrasing]:
        found = [p for p in self._phrasings.values() if any(t in available for t in p.tools)]
        return sorted(found, key=lambda p: p.order)

    def intent(self, text: str, available: set[str]) -> Intent | None:
        for p in self._offered(available):
            if p.parse and (intent := p.parse(text, available)) is not None and intent.tool in available:
                return intent
        return None

    def next_step(self, user: str, results: Results, available: set[str]) -> Intent | str | None:
        for p in self._offered(available):
            if p.follow_up and (step := p.follow_up(user, results, available)) is not None:
                return step
        return None

    def help_lines(self, available: set[str]) -> list[str]:
        """The offered tools' help lines, in the order their modules declared them."""
        return [p.help for p in self._phrasings.values() if p.help and p.tools[0] in available]


PHRASEBOOK = Phrasebook()
