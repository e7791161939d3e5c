"""``@tasks.periodic`` and ``@events.on`` registries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import ConfigError
from workers.events import EventRegistry
from workers.tasks import TaskRegistry


def test_periodic_tasks_need_one_spec_and_async_functions() -> None:
    reg = TaskRegistry()

    @reg.periodic("a", every=30)
    async def a(ctx: object) -> str:
        """Every half minute."""
        return "ok"

    @reg.periodic("b", cron="0 * * * *")
    async def b(ctx: object) -> None:
        return None

    assert [t.name for t in reg.all()] == ["a", "b"]
    assert reg.get("a").every == timedelta(seconds=30) and reg.get("a").spec_key() == "every=30s"
    assert reg.get("b").spec_key() == "cron=0 * * * *"
    assert reg.get("a").description == "Every half minute."
    with pytest.raises(ConfigError):
        reg.periodic("c", every=1, cron="* * * * *")
    with pytest.raises(ConfigError):
        reg.periodic("a", every=5)(a)  # twice
    with pytest.raises(ConfigError):
        reg.periodic("d", every=5)(lambda ctx: None)  # type: ignore[arg-type, return-value]


def test_event_handlers_are_listed_by_contract_and_event() -> None:
    reg = EventRegistry()

    @reg.on("PriceFeed", "AnswerUpdated")
    async def h(event: object, ctx: object) -> None: ...

    assert reg.subscriptions() == {("PriceFeed", "AnswerUpdated"): [h]}
    with pytest.raises(ConfigError):
        reg.on("X", "Y")(lambda e, c: None)  # type: ignore[arg-type, return-value]


def test_the_platform_registers_its_handlers() -> None:
    from workers import events, load_handlers, tasks

    load_handlers()
    subs = events.subscriptions()
    for key in [("AgentVault", "Deposited"), ("PriceFeed", "AnswerUpdated"), ("native", "Transfer")]:
        assert key in subs
    assert "watch-census" in [t.name for t in tasks.all()]
