"""The agent factory: agents from YAML, unknown tools and agents named clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.agents import AgentFactory
from core.errors import BadInputError, ConfigError
from core.settings import OFFLINE_MODEL, Settings, load_settings
from services.tools import load_tools


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("IMPRESSOX_"):
            monkeypatch.delenv(key)
    return load_settings()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    return path


def test_default_config_builds_the_assistant_on_the_offline_model(settings: Settings) -> None:
    factory = AgentFactory.from_yaml(settings.agents_file, load_tools(), settings)
    assert "assistant" in factory.names()
    plan = factory.build("assistant")
    assert plan.name == "assistant"
    assert plan.model == OFFLINE_MODEL
    assert {"calculator", "current_time"} <= {t.name for t in plan.tools}
    calc = next(t for t in plan.tools if t.name == "calculator")
    assert "expression" in calc.parameters["properties"]
    assert plan.continue_as_new_after_turns == settings.continue_as_new_after_turns
    assert plan.persona


def test_unknown_tools_are_named(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path, "agents:\n  helper:\n    persona: hi\n    tools: [calculator, teleport, mind_read]\n")
    with pytest.raises(ConfigError) as err:
        AgentFactory.from_yaml(path, load_tools(), settings)
    message = str(err.value)
    assert "'helper'" in message and "teleport" in message and "mind_read" in message
    assert "calculator" in message.split("known:")[1]  # and says what exists


def test_unknown_agent_names_the_available_ones(settings: Settings) -> None:
    factory = AgentFactory.from_yaml(settings.agents_file, load_tools(), settings)
    with pytest.raises(BadInputError) as err:
        factory.build("wizard")
    assert "'wizard'" in str(err.value)
    for name in factory.names():
        assert name in str(err.value)


def test_agent_model_overrides_the_default(tmp_path: Path, settings: Settings) -> None:
    path = write(
        tmp_path,
        "agents:\n  a:\n    persona: p\n    model: openai/gpt-4o-mini\n    max_steps: 3\n  b:\n    persona: p\n",
    )
    factory = AgentFactory.from_yaml(path, load_tools(), settings)
    assert factory.build("a").model == "openai/gpt-4o-mini"
    assert factory.build("a").max_steps == 3
    assert factory.build("b").model == settings.model
    assert factory.build("b").tools == []


@pytest.mark.parametrize(
    "text",
    ["agents: [unclosed\n", "agents:\n  a:\n    tools: []\n", "agents:\n  a:\n    persona: p\n    max_steps: 0\n"],
)
def test_invalid_agents_file_is_a_config_error(tmp_path: Path, settings: Settings, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="agents.yaml is invalid"):
        AgentFactory.from_yaml(path, load_tools(), settings)


def test_missing_agents_file_is_a_config_error(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        AgentFactory.from_yaml(tmp_path / "nope.yaml", load_tools(), settings)
