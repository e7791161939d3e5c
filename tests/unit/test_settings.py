"""Settings: YAML with IMPRESSOX_* overrides, bad values named at start-up, secrets hidden."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from core.errors import ConfigError
from core.settings import OFFLINE_MODEL, load_settings

ROOT = Path(__file__).resolve().parents[2]
IMPRESSOX = Path(sys.executable).parent / "impressox"


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py


@pytest.fixture
def yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "impressox.yaml"
    path.write_text("model: openai/gpt-4o-mini\ntemporal_address: temporal.example:7233\napi_port: 9000\n")
    monkeypatch.setenv("IMPRESSOX_CONFIG", str(path))
    return path


def test_defaults_from_the_shipped_yaml() -> None:
    s = load_settings()
    assert s.model == OFFLINE_MODEL
    assert s.temporal_address == "127.0.0.1:7233"
    assert s.api_keys == []


def test_impressox_config_selects_another_file(yaml_file: Path) -> None:
    s = load_settings()
    assert s.model == "openai/gpt-4o-mini"
    assert s.temporal_address == "temporal.example:7233"
    assert s.api_port == 9000


def test_env_overrides_the_yaml(yaml_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPRESSOX_MODEL", "anthropic/claude-3-5-haiku-latest")
    monkeypatch.setenv("IMPRESSOX_TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("IMPRESSOX_REDIS_URL", "redis://redis:6379/1")
    monkeypatch.setenv("IMPRESSOX_DATA_DIR", "/var/lib/impressox")
    monkeypatch.setenv("IMPRESSOX_API_HOST", "0.0.0.0")
    monkeypatch.setenv("IMPRESSOX_API_KEYS", '[{"user": "alice", "key": "k-alice"}, {"user": "bob", "key": "k-bob"}]')
    s = load_settings()
    assert s.model == "anthropic/claude-3-5-haiku-latest"
    assert s.temporal_address == "temporal:7233"
    assert s.redis_url == "redis://redis:6379/1"
    assert s.data_dir == Path("/var/lib/impressox")
    assert s.api_host == "0.0.0.0"
    assert s.api_port == 9000  # from the YAML, not overridden
    assert [(k.user, k.key.get_secret_value()) for k in s.api_keys] == [("alice", "k-alice"), ("bob", "k-bob")]


@pytest.mark.parametrize(
    ("var", "value", "field"),
    [
        ("IMPRESSOX_TEMPORAL_ADDRESS", "nohost", "temporal_address"),
        ("IMPRESSOX_CONTINUE_AS_NEW_AFTER_TURNS", "0", "continue_as_new_after_turns"),
        ("IMPRESSOX_REDIS_URL", "http://redis:6379", "redis_url"),
        ("IMPRESSOX_API_PORT", "not-a-port", "api_port"),
        ("IMPRESSOX_LLM_TIMEOUT_SECONDS", "-1", "llm_timeout_seconds"),
        ("IMPRESSOX_API_KEYS", '[{"user": "no spaces allowed", "key": "k"}]', "api_keys"),
        ("IMPRESSOX_RATE_LIMIT", "lots", "rate_limit"),
        ("IMPRESSOX_RATE_LIMIT_MESSAGES", "5 per fortnight", "rate_limit_messages"),
        ("IMPRESSOX_MAX_RUNNING_SESSIONS_PER_USER", "0", "max_running_sessions_per_user"),
        ("IMPRESSOX_API_MAX_JSON_DEPTH", "100000", "api_max_json_depth"),
        ("IMPRESSOX_STREAM_KEEPALIVE_SECONDS", "0", "stream_keepalive_seconds"),
    ],
)
def test_bad_value_names_the_field(monkeypatch: pytest.MonkeyPatch, var: str, value: str, field: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=field) as err:
        load_settings()
    assert str(err.value).startswith("invalid configuration:")


def test_unknown_key_in_yaml_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model: offline/impressox-offline-v1\ntemporal_adress: x:1\n")
    monkeypatch.setenv("IMPRESSOX_CONFIG", str(path))
    with pytest.raises(ConfigError, match="temporal_adress"):
        load_settings()


def test_malformed_json_in_env_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPRESSOX_API_KEYS", "alice:secret")
    with pytest.raises(ConfigError, match="api_keys"):
        load_settings()


def test_malformed_yaml_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("model: [unclosed\n")
    monkeypatch.setenv("IMPRESSOX_CONFIG", str(path))
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_settings()


def test_missing_config_file_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a typo in IMPRESSOX_CONFIG must not silently start the platform on defaults
    monkeypatch.setenv("IMPRESSOX_CONFIG", str(tmp_path / "prod.yml"))
    with pytest.raises(ConfigError, match="prod.yml"):
        load_settings()


def test_secrets_are_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPRESSOX_API_KEYS", '[{"user": "alice", "key": "api-key-very-secret"}]')
    monkeypatch.setenv("IMPRESSOX_LLM_API_KEY", "sk-llm-very-secret")
    s = load_settings()
    assert isinstance(s.llm_api_key, SecretStr)
    assert isinstance(s.api_keys[0].key, SecretStr)
    for shown in (repr(s), str(s), str(s.model_dump()), s.model_dump_json()):
        assert "api-key-very-secret" not in shown
        assert "sk-llm-very-secret" not in shown
    assert s.llm_api_key.get_secret_value() == "sk-llm-very-secret"


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    return subprocess.run(
        [str(IMPRESSOX), *args], capture_output=True, text=True, timeout=60, cwd=ROOT, env={**clean, **env}
    )


@pytest.mark.slow  # runs the installed CLI, a process each
@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"IMPRESSOX_TEMPORAL_ADDRESS": "nohost"}, "temporal_address"),
        ({"IMPRESSOX_CONTINUE_AS_NEW_AFTER_TURNS": "0"}, "continue_as_new_after_turns"),
        ({"IMPRESSOX_API_KEYS": "alice:secret"}, "api_keys"),
    ],
)
def test_cli_exits_2_with_one_line_naming_the_field(env: dict[str, str], field: str) -> None:
    result = run_cli("worker", **env)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("impressox: invalid configuration:")
    assert field in lines[0]
