"""The production compose file, validated offline with ``docker-compose config``.

Needs the Debian package ``docker-compose`` (v1.29): ``apt-get install -y docker-compose``.
No Docker engine is needed: ``config`` only parses, interpolates and validates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
LONG_RUNNING = ("postgresql", "temporal", "temporal-ui", "redis", "api", "worker")
API_KEYS = '[{"user":"alice","key":"test-key-0123456789"}]'
CODEC_KEYS = '["k1:' + "A" * 43 + '="]'
SECRETS = {
    "POSTGRES_PASSWORD": "test-password",
    "IMPRESSOX_API_KEYS": API_KEYS,
    "IMPRESSOX_APPROVAL_KEY": "test-approval-key-0123456789",
    "IMPRESSOX_CODEC_KEYS": CODEC_KEYS,
    "IMPRESSOX_OPERATOR_USERS": '["alice"]',
}
#: every container that runs our code (a Temporal client): each needs the same keys
OURS = ("api", "worker", "listener", "telegram-bot", "discord-bot")


def _compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed: run `apt-get install -y docker-compose` (Debian package "
            "docker-compose, v1.29) to validate docker-compose.yml"
        )
    # an empty env file: a developer's own .env must not decide the outcome
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_") and k != "POSTGRES_PASSWORD"}
    return subprocess.run(
        [exe, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **env},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    # every profile (chain, bots): their services must get the keys too
    result = _compose_config(tmp_path_factory.mktemp("compose"), {**SECRETS, "COMPOSE_PROFILES": "chain,bots"})
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: v for k, v in env.items() if v is not None}


def test_all_services_exist(config: dict) -> None:
    services = config["services"]
    missing = [s for s in LONG_RUNNING if s not in services]
    assert not missing, f"services missing from docker-compose.yml: {missing}"


def test_temporal_runs_on_postgres(config: dict) -> None:
    temporal = config["services"]["temporal"]
    assert temporal["image"].startswith(("temporalio/auto-setup", "temporalio/server"))
    env = _env(temporal)
    assert env["DB"].startswith("postgres")
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert temporal["depends_on"]["postgresql"]["condition"] == "service_healthy"
    ui = config["services"]["temporal-ui"]
    assert ui["image"].startswith("temporalio/ui")
    assert _env(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_postgres_data_is_on_a_volume(config: dict) -> None:
    volumes = config["services"]["postgresql"].get("volumes", [])
    targets = [v.split(":")[1] if isinstance(v, str) else v["target"] for v in volumes]
    assert "/var/lib/postgresql/data" in targets
    assert "postgres-data" in config.get("volumes", {})


def test_every_long_running_service_has_a_healthcheck(config: dict) -> None:
    lacking = [
        s
        for s in LONG_RUNNING
        if not config["services"][s].get("healthcheck", {}).get("test")
        or config["services"][s]["healthcheck"].get("disable")
    ]
    assert not lacking, f"services without a health check: {lacking}"


def test_dependents_wait_for_healthy_dependencies(config: dict) -> None:
    services = config["services"]
    for name in ("api", "worker"):
        deps = services[name]["depends_on"]
        for dep in ("temporal", "redis"):
            assert deps[dep]["condition"] == "service_healthy", f"{name} does not wait for a healthy {dep}"


def test_workers_scale_out(config: dict) -> None:
    worker = config["services"]["worker"]
    assert worker["deploy"]["replicas"] >= 2
    assert worker["command"][0] == "worker"
    # replicas cannot share a fixed container name or a published host port
    assert "container_name" not in worker
    assert not worker.get("ports"), f"the worker publishes ports: {worker.get('ports')}"


def test_services_reach_each_other_by_name(config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("api", "worker"):
        env = _env(config["services"][name])
        for key, value in env.items():
            if key.startswith("IMPRESSOX_") and key != "IMPRESSOX_LOG_LEVEL":
                monkeypatch.setenv(key, value)
        settings = load_settings()
        assert settings.temporal_address == "temporal:7233"
        assert settings.redis_url.startswith("redis://redis:")


def test_api_listens_on_all_interfaces_and_requires_keys(config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    api = config["services"]["api"]
    assert api["command"][:3] == ["api", "--host", "0.0.0.0"]
    assert api.get("ports"), "the API publishes no port"
    env = _env(api)
    assert env.get("IMPRESSOX_API_KEYS") == API_KEYS, "the API keys are not taken from the environment"
    monkeypatch.setenv("IMPRESSOX_API_KEYS", env["IMPRESSOX_API_KEYS"])
    keys = load_settings().api_keys
    assert [(k.user, k.key.get_secret_value()) for k in keys] == [("alice", "test-key-0123456789")]


def test_every_process_holds_the_same_keys_from_one_env(config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = {}
    for name in OURS:
        env = _env(config["services"][name])
        for key in [k for k in os.environ if k.startswith("IMPRESSOX_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key.startswith("IMPRESSOX_") and key != "IMPRESSOX_LOG_LEVEL":
                monkeypatch.setenv(key, value)
        settings = load_settings()
        assert settings.approval_key is not None, f"{name} gets no IMPRESSOX_APPROVAL_KEY: it would make its own"
        assert settings.codec_keys, f"{name} gets no IMPRESSOX_CODEC_KEYS: it would make its own"
        loaded[name] = (settings.approval_key.get_secret_value(), [k.get_secret_value() for k in settings.codec_keys])
    assert len(set(map(str, loaded.values()))) == 1, loaded
    assert _env(config["services"]["api"])["IMPRESSOX_OPERATOR_USERS"] == '["alice"]'


def test_the_temporal_ui_decodes_through_the_api_and_listens_on_loopback(config: dict, tmp_path: Path) -> None:
    ui = config["services"]["temporal-ui"]
    assert _env(ui)["TEMPORAL_CODEC_ENDPOINT"] == "http://127.0.0.1:8000/codec"
    assert _env(config["services"]["api"])["IMPRESSOX_TEMPORAL_UI_ORIGIN"] == "http://127.0.0.1:8080"
    [port] = ui["ports"]
    bound = port.split(":")[0] if isinstance(port, str) else port.get("host_ip")
    assert bound == "127.0.0.1", f"the Temporal UI is published on {port}"
    published = _compose_config(tmp_path, {**SECRETS, "IMPRESSOX_TEMPORAL_UI_BIND": "0.0.0.0"})
    [port] = yaml.safe_load(published.stdout)["services"]["temporal-ui"]["ports"]
    assert (port.split(":")[0] if isinstance(port, str) else port.get("host_ip")) == "0.0.0.0"


@pytest.mark.parametrize("missing", ["IMPRESSOX_APPROVAL_KEY", "IMPRESSOX_CODEC_KEYS"])
def test_compose_refuses_to_run_without_shared_keys(tmp_path: Path, missing: str) -> None:
    result = _compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != missing})
    assert result.returncode != 0 and missing in result.stderr, result.stderr


def test_compose_refuses_to_run_without_api_keys(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != "IMPRESSOX_API_KEYS"})
    assert result.returncode != 0, "docker-compose.yml accepts a deployment without API keys"
    assert "IMPRESSOX_API_KEYS" in result.stderr


def test_no_database_password_is_hard_coded(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, {k: v for k, v in SECRETS.items() if k != "POSTGRES_PASSWORD"})
    assert result.returncode != 0, "docker-compose.yml runs without POSTGRES_PASSWORD (a hard-coded default?)"
    assert "POSTGRES_PASSWORD" in result.stderr
