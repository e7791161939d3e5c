"""docs/extending.md stays true: its example modules, written out as a user would, do what it says."""

from __future__ import annotations

import base64
import importlib
import json
import os
import re
import sys
from pathlib import Path

import pytest

from automations import events, load_handlers, tasks
from bots.common.platforms import load_platforms, platforms_to_run
from cli.main import main
from core.llm.offline import respond
from core.settings import PROJECT_ROOT, load_settings
from core.temporal.codec import ENCODING
from core.tools import ToolContext
from services.tools import load_tools

DOC = PROJECT_ROOT / "docs" / "extending.md"
HISTORIES = PROJECT_ROOT / "tests" / "histories"


def files_of_the_doc() -> dict[str, str]:
    """Every fenced block the page marks with ``<!-- file: NAME -->``."""
    found = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", DOC.read_text(), re.S)
    return dict(found)


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in files_of_the_doc().items():
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    # imported afresh from here, dropped after
    for module in ("shout_tool", "my_handlers", "replay_one", "lines_platform"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    return tmp_path


def offered(*names: str) -> list[dict]:
    return [{"type": "function", "function": {"name": n, "description": n, "parameters": {}}} for n in names]


def test_the_page_has_its_examples() -> None:
    assert {"shout_tool.py", "agents.yaml", "my_handlers.py", "replay_one.py", "lines_platform.py"} <= set(
        files_of_the_doc()
    )


async def test_the_tool_module_is_served_and_the_offline_model_understands_it(written: Path) -> None:
    registry = load_tools(["shout_tool"])
    assert "shout" in registry
    shout = registry.get("shout")
    ctx: ToolContext[None] = ToolContext(call_id="c", session_id="s", owner="u", idempotency_key="k")
    assert await shout.func(shout.args_model(text="hello there"), ctx) == "HELLO THERE"
    for text, args in [("shout hello there", {"text": "hello there"}), ('/tool shout {"text": "hi"}', {"text": "hi"})]:
        message = respond([{"role": "user", "content": text}], offered("shout"))
        [call] = message.tool_calls or []
        assert call.function.name == "shout", text  # type: ignore[union-attr]
        assert call.function.arguments == json.dumps(args)  # type: ignore[union-attr]
    helped = respond([{"role": "user", "content": "help"}], offered("shout")).content or ""
    assert 'shouting ("shout hello there")' in helped


def test_the_handler_module_registers_its_handler_and_task(written: Path) -> None:
    load_handlers(["my_handlers"])
    mine = sys.modules["my_handlers"]
    try:
        assert mine.log_deposit in events.subscriptions()[("AgentVault", "Deposited")]
        assert tasks.get("my-heartbeat").every is not None
    finally:
        events.unregister("AgentVault", "Deposited", mine.log_deposit)
        tasks.unregister("my-heartbeat")


async def test_the_replay_script_replays_a_recorded_history(
    written: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IMPRESSOX_DATA_DIR", str(written / "data"))  # its codec key, not the repo's
    encrypted = base64.b64encode(ENCODING).decode()
    plain = next(p for p in sorted(HISTORIES.glob("*.json")) if encrypted not in p.read_text())
    await importlib.import_module("replay_one").main(str(plain))
    assert capsys.readouterr().out.strip() == "replays"


def test_the_platform_module_is_a_third_platform_with_its_settings_group(
    written: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [k for k in os.environ if k.startswith("IMPRESSOX_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("IMPRESSOX_PLATFORM_MODULES", '["lines_platform"]')
    monkeypatch.setenv("IMPRESSOX_LINES_TOKEN", "on")
    monkeypatch.setenv("IMPRESSOX_LINES_PORT", "7171")
    settings = load_settings()
    registry = load_platforms(settings.platform_modules)
    lines = registry.get("lines")
    assert (lines.user_prefix, lines.text_limit, lines.module) == ("ln", 500, "lines_platform")
    config = lines.settings(settings)
    assert config.enabled and config.port == 7171
    assert platforms_to_run(settings) == ["lines"]  # what `impressox up` starts
    with pytest.raises(SystemExit):
        main(["bot", "--help"])
    assert "lines (text lines over TCP; IMPRESSOX_LINES_TOKEN)" in " ".join(capsys.readouterr().out.split())
