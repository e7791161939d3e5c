"""The one settings object: config/impressox.yaml, overridden by IMPRESSOX_* environment variables.

Built once at start-up (``load_settings``) and passed down; no module reads the
environment on its own. A bad value fails start-up with a message naming the field.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config" / "impressox.yaml"
#: The offline deterministic model: a litellm custom provider, see core/llm/offline.py.
OFFLINE_MODEL = "offline/impressox-offline-v1"


class ApiKey(BaseModel):
    """An API key and the user it authenticates."""

    user: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    key: SecretStr


class Settings(BaseSettings):
    """Everything the platform can be configured with. ENV names are IMPRESSOX_<FIELD>."""

    model_config = SettingsConfigDict(
        env_prefix="IMPRESSOX_", extra="forbid", env_nested_delimiter="__", validate_default=True
    )

    # where the embedded stack keeps its state (Temporal SQLite file, chain state, deployments)
    data_dir: Path = Path("data")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "impressox-agent"

    # Redis: cache, streams, rate limits. Unreachable -> in-memory cache, warning logged.
    redis_url: str = "redis://127.0.0.1:6379/0"

    # LLM
    model: str = OFFLINE_MODEL
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_api_key: SecretStr | None = None
    llm_api_base: str | None = None
    llm_cache_ttl_seconds: int = Field(default=24 * 3600, ge=0)
    #: pacing of the offline model's streamed answers, for demos and benchmarks (0: as fast as it can)
    offline_token_delay_ms: float = Field(default=0.0, ge=0, le=10_000)
    offline_first_token_delay_ms: float = Field(default=0.0, ge=0, le=60_000)
    agents_file: Path = PROJECT_ROOT / "config" / "agents.yaml"
    #: extra modules whose import registers more tools (plugins), e.g. "mycompany.tools"
    tool_modules: list[str] = Field(default_factory=list)

    # Sessions
    max_message_chars: int = Field(default=8000, gt=0, le=100_000)
    continue_as_new_after_turns: int = Field(default=100, ge=1)
    #: messages kept in a session's state (older ones stay in earlier runs' histories)
    transcript_window: int = Field(default=200, ge=10)
    approval_timeout_seconds: float = Field(default=3600.0, gt=0)

    # Streaming: one Redis Stream of events per turn
    #: how long a turn's events stay readable after the turn ended
    stream_keep_seconds: int = Field(default=3600, ge=1)
    #: events kept per turn (approximate trim); a longer answer loses its first tokens on replay
    stream_max_events: int = Field(default=10_000, ge=100)

    # API
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    #: empty: the API binds to loopback only and serves one local user
    api_keys: list[ApiKey] = Field(default_factory=list)
    local_user: str = "local"

    # Chain (issue: on-chain layer). Empty rpc url: chain tools answer that no chain is configured.
    chain_rpc_url: str | None = None
    #: the platform user who owns the deployed vault (sees its balance, may ask for transfers)
    chain_vault_user: str = "local"
    chain_confirmations: int = Field(default=1, ge=0, le=64)
    chain_poll_seconds: float = Field(default=0.5, gt=0)
    #: the operator (agent signer) key; prefer chain_keystore_file in production
    chain_operator_key: SecretStr | None = None
    chain_keystore_file: Path | None = None
    chain_keystore_password: SecretStr | None = None

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:7233")
        return v

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = Path(os.environ.get("IMPRESSOX_CONFIG") or DEFAULT_CONFIG_FILE)
        if not yaml_file.is_file():
            raise ConfigError(f"config file {yaml_file} does not exist (IMPRESSOX_CONFIG)")
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))

    @property
    def api_keys_by_secret(self) -> dict[str, str]:
        return {k.key.get_secret_value(): k.user for k in self.api_keys}


def load_settings(**overrides: object) -> Settings:
    """Build and validate the settings; raise ConfigError naming each bad field."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    except SettingsError as exc:  # e.g. IMPRESSOX_API_KEYS that is not JSON
        raise ConfigError(f"invalid configuration: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid configuration file: {exc}") from None
