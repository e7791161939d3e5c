"""MCP server settings, the offline model's ask-an-agent phrasing, its deterministic summary and recall."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.errors import ConfigError
from core.llm.offline_intents import parse_intent
from core.llm.offline_summary import recall, summarise
from core.mcp_config import McpServerConfig, mcp_activity, mcp_tool_name
from core.settings import load_settings


def test_an_mcp_server_is_stdio_or_http_and_its_tools_need_approval_as_configured() -> None:
    with pytest.raises(ValidationError, match="either command"):
        McpServerConfig(command="x", url="http://h/mcp")
    with pytest.raises(ValidationError, match="either command"):
        McpServerConfig()
    default = McpServerConfig(command="srv")
    assert default.needs_approval("rm", {"destructiveHint": True})
    assert not default.needs_approval("ls", {"destructiveHint": False, "readOnlyHint": True})
    assert not default.needs_approval("ls", None)
    assert McpServerConfig(command="srv", require_approval=["echo"]).needs_approval("echo", None)
    assert not McpServerConfig(command="srv", require_approval=False).needs_approval("rm", {"destructiveHint": True})
    only = McpServerConfig(url="http://h/mcp", include=["a", "b"], exclude=["b"])
    assert [t for t in ("a", "b", "c") if only.wants(t)] == ["a"]
    assert mcp_tool_name("everything", "get-sum") == "everything_get-sum"
    assert mcp_tool_name("fs", "read file") == "fs_read_file"
    assert mcp_activity("time", "get_current_time") == "mcp.time.get_current_time"


def test_mcp_servers_come_as_json_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPRESSOX_MCP_SERVERS", '{"time": {"command": "mcp-server-time", "env": {"TOKEN": "s3"}}}')
    settings = load_settings()
    assert settings.mcp_servers["time"].command == "mcp-server-time"
    assert "s3" not in repr(settings.mcp_servers["time"])  # a secret
    monkeypatch.setenv("IMPRESSOX_MCP_SERVERS", '{"Bad-Name": {"command": "x"}}')
    with pytest.raises(ConfigError, match="lower-case"):
        load_settings()


def test_the_offline_model_asks_an_agent_it_may_ask() -> None:
    intent = parse_intent("ask the calculator agent: what is 6 * 7?", {"ask_calculator", "calculator"})
    assert intent is not None and (intent.tool, intent.args) == ("ask_calculator", {"message": "what is 6 * 7?"})
    assert parse_intent("ask the lawyer agent: am I liable?", {"ask_calculator"}) is None
    explicit = parse_intent('/tool everything_get-sum {"a": 1, "b": 2}', {"everything_get-sum"})
    assert explicit is not None and explicit.args == {"a": 1, "b": 2}


def test_the_offline_summary_keeps_statements_with_facts_and_recall_finds_them() -> None:
    request = (
        "Summary so far:\n- turn 1: My locker code is 4711.\n\nNew messages:\n"
        "turn 2 user: what is 2 + 2?\nturn 2 assistant: 2 + 2 = 4\n"
        "turn 3 user: hello there\n"
        "turn 4 user: Send the invoice to 0x1111111111111111111111111111111111111111 please.\n"
        "turn 5 user: My dentist is called Doctor Okafor.\n"
    )
    summary = summarise(request)
    assert summary.splitlines() == [
        "- turn 1: My locker code is 4711.",
        "- turn 4: Send the invoice to 0x1111111111111111111111111111111111111111 please.",
        "- turn 5: My dentist is called Doctor Okafor.",
    ]
    assert "4711" in (recall("what is my locker code?", summary) or "")
    assert "Okafor" in (recall("who is my dentist?", summary) or "")
    assert recall("tell me a joke", summary) is None
