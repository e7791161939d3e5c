"""``@tasks.periodic`` and ``@events.on`` registries."""

from __future__ import annotations

import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from automations.events import EventRegistry
from automations.tasks import TaskRegistry
from core.errors import ConfigError
from core.settings import load_settings


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
    from automations import events, load_handlers, tasks

    load_handlers()
    subs = events.subscriptions()
    for key in [("AgentVault", "Deposited"), ("PriceFeed", "AnswerUpdated"), ("native", "Transfer")]:
        assert key in subs
    assert "watch-census" in [t.name for t in tasks.all()]


def test_a_handler_module_of_the_setting_is_one_file_outside_the_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IMPRESSOX_HANDLER_MODULES names a module; loading the handlers imports it, and its decorators
    register an event handler and a periodic task with no other edit."""
    from automations import events, load_handlers, tasks

    (tmp_path / "one_file_handlers.py").write_text(
        textwrap.dedent(
            """
            from automations import events, tasks
            from automations.events import EventContext
            from automations.tasks import TaskContext


            @events.on("AgentVault", "Deposited")
            async def log_deposit(event, ctx: EventContext) -> None:
                print(event)


            @tasks.periodic("my-heartbeat", every=3600)
            async def heartbeat(ctx: TaskContext) -> str:
                \"\"\"Once an hour.\"\"\"
                return "alive"
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("IMPRESSOX_HANDLER_MODULES", '["one_file_handlers"]')
    monkeypatch.delitem(sys.modules, "one_file_handlers", raising=False)  # imported afresh, dropped after
    settings = load_settings()
    assert settings.handler_modules == ["one_file_handlers"]
    load_handlers(settings.handler_modules)
    mine = sys.modules["one_file_handlers"]
    try:
        assert mine.log_deposit in events.subscriptions()[("AgentVault", "Deposited")]
        assert tasks.get("my-heartbeat").description == "Once an hour."
    finally:  # the registries are the process's: leave them as the other tests expect
        events.unregister("AgentVault", "Deposited", mine.log_deposit)
        tasks.unregister("my-heartbeat")
