"""The one settings object: config/impressox.yaml, overridden by IMPRESSOX_* environment variables.

Built once at start-up (``load_settings``) and passed down; no module reads the
environment on its own. A bad value fails start-up with a message naming the field.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from limits import parse_many
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    YamlConfigSettingsSource,
)

from core.errors import ConfigError
from core.mcp_config import MCP_SERVER_NAME, McpServerConfig
from core.names import USER_NAME_PATTERN
from core.quotas import UserQuotas
from core.schemas import Multitask
from core.telemetry.cost import ModelPrice

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config" / "impressox.yaml"
#: The offline deterministic model: a litellm custom provider, see core/llm/offline.py.
OFFLINE_MODEL = "offline/impressox-offline-v1"
ENV_PREFIX = "IMPRESSOX_"


_MULTITASK_DEFAULTS: dict[str, Multitask] = {"telegram": "interrupt"}


class ApiKey(BaseModel):
    """An API key and the user it authenticates."""

    user: str = Field(pattern=USER_NAME_PATTERN)
    key: SecretStr


class Settings(BaseSettings):
    """Everything the platform can be configured with. ENV names are IMPRESSOX_<FIELD>."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", env_nested_delimiter="__", validate_default=True
    )

    # where the embedded stack keeps its state (Temporal SQLite file, chain state, deployments)
    data_dir: Path = Path("data")

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "impressox-agent"
    #: encrypt every payload in history (core/temporal/codec.py); off only for tests and benches
    codec_enabled: bool = True
    #: codec keys "<id>:<base64 AES key>", the first encrypts, all decrypt (rotation);
    #: empty: one key in <data_dir>/keys/codec.key, created on first use
    codec_keys: list[SecretStr] = Field(default_factory=list)
    #: the Web UI's port and origin, the only origin allowed to call /codec (CORS);
    #: no origin set: http://127.0.0.1:<port> and http://localhost:<port>
    temporal_ui_port: int = Field(default=8233, ge=0, le=65535)
    temporal_ui_origin: str | None = None

    # Worker capacity (per worker process; docs/operations.md has figures for 2 and 16 cores)
    #: workflow runs kept in memory; an evicted session replays its history on its next turn
    max_cached_workflows: int = Field(default=2000, ge=0)
    #: activities one worker runs at once (LLM calls wait on the network, so many fit one core)
    max_concurrent_activities: int = Field(default=200, ge=1)
    #: workflow tasks one worker runs at once (CPU-bound; the SDK's default is 100)
    max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    #: on SIGTERM a worker stops polling and lets running activities finish this long before it
    #: cancels them (Temporal retries a cancelled one elsewhere): a rolling restart fails no turn
    graceful_shutdown_seconds: float = Field(default=30.0, ge=0, le=3600)

    # Redis: cache, streams, rate limits. Unreachable -> in-memory cache, warning logged.
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: the prefix of every key written to Redis (core/redis_keys.py); empty: "impressox:<deployment id>",
    #: the id generated once into <data_dir>/keys/deployment-id. Set it when processes of one
    #: deployment do not share a data dir (containers); two deployments on one Redis need two prefixes
    redis_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9:_.-]{0,63}$")

    # LLM
    model: str = OFFLINE_MODEL
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_api_key: SecretStr | None = None
    llm_api_base: str | None = None
    #: API bases by model id, over llm_api_base (e.g. an agent's fallback on another provider)
    llm_api_bases: dict[str, str] = Field(default_factory=dict)
    llm_cache_ttl_seconds: int = Field(default=24 * 3600, ge=0)
    #: pacing of the offline model's streamed answers, for demos and benchmarks (0: as fast as it can)
    offline_token_delay_ms: float = Field(default=0.0, ge=0, le=10_000)
    offline_first_token_delay_ms: float = Field(default=0.0, ge=0, le=60_000)
    agents_file: Path = PROJECT_ROOT / "config" / "agents.yaml"
    #: extra modules whose import registers more tools (plugins), e.g. "mycompany.tools"
    tool_modules: list[str] = Field(default_factory=list)
    #: extra modules whose import registers chain event handlers (``@events.on``) and periodic tasks
    #: (``@tasks.periodic``), e.g. "mycompany.handlers"; loaded by the worker and the listener
    handler_modules: list[str] = Field(default_factory=list)
    #: MCP servers agents may take tools from (``mcp_servers: [name]`` in the agents file), name ->
    #: stdio ``{command, args, env}`` or streamable HTTP ``{url, headers}`` (core/mcp_config.py)
    mcp_servers: dict[str, McpServerConfig] = Field(default_factory=dict)
    #: agents calling agents (``agents: [name]``): how deep child agents nest, how many one turn may ask
    max_agent_depth: int = Field(default=3, ge=1, le=10)
    max_agent_calls_per_turn: int = Field(default=8, ge=1, le=100)

    # Sessions
    max_message_chars: int = Field(default=8000, gt=0, le=100_000)
    continue_as_new_after_turns: int = Field(default=100, ge=1)
    #: messages kept in a session's state (older ones stay in earlier runs' histories)
    transcript_window: int = Field(default=200, ge=10)
    approval_timeout_seconds: float = Field(default=3600.0, gt=0)
    #: double-texting policy per platform, for a message that names none while a turn runs and
    #: whose agent sets no ``multitask:`` (enqueue, reject, interrupt, rollback); else enqueue.
    #: Chat users correct themselves mid-answer, so Telegram's new message interrupts
    multitask_defaults: dict[str, Multitask] = Field(default_factory=lambda: dict(_MULTITASK_DEFAULTS))

    # Streaming: one Redis Stream of events per turn
    #: how long a turn's events stay readable after the turn ended
    stream_keep_seconds: int = Field(default=3600, ge=1)
    #: events kept per turn (approximate trim); a longer answer loses its first tokens on replay
    stream_max_events: int = Field(default=10_000, ge=100)
    #: seconds between keep-alive comments on an idle event stream (proxies drop silent
    #: connections); at most 50, below the Redis reader's 60 s socket timeout
    stream_keepalive_seconds: float = Field(default=15.0, gt=0, le=50)

    # API
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    #: empty: the API binds to loopback only and serves one local user
    api_keys: list[ApiKey] = Field(default_factory=list)
    local_user: str = "local"
    #: users (of api_keys) who may decode history through /codec; with keys configured, only they
    operator_users: list[str] = Field(default_factory=list)
    #: signs approval decisions (core/approvals.py); empty: <data_dir>/keys/approval.key
    approval_key: SecretStr | None = None
    #: request bodies larger than this are refused (413) before anything parses them
    api_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    #: JSON bodies nested deeper than this are refused (400) before anything parses them
    api_max_json_depth: int = Field(default=64, ge=4, le=512)

    # Rate limits ("N/second|minute|hour|day", several joined with ";"), kept in Redis so every API
    # process of one deployment shares them (in memory, per process, while Redis is unreachable).
    #: every request of one user (or, without a key, of one client IP); /healthz is never limited
    rate_limit: str = "1200/minute"
    #: creating sessions, per user
    rate_limit_sessions: str = "60/minute"
    #: sending messages, per user
    rate_limit_messages: str = "600/minute"
    #: requests presenting a wrong API key, per client IP (guessing keys)
    rate_limit_bad_keys: str = "30/minute"
    #: running sessions one user may have at once (creating one more answers 429); counted exactly
    #: by the user's registry workflow (workflows/tenant.py), and only sessions active (created or
    #: sent a message) within session_active_window_seconds count, so idle ones never lock a user out
    max_running_sessions_per_user: int = Field(default=100, ge=1)
    #: a session with no message for this long closes itself (a durable timer in its workflow);
    #: sending to it reopens it with its history. Seconds or ISO 8601 (P7D); 0: never
    session_idle_close_after: timedelta = Field(default=timedelta(days=7), ge=timedelta(0))
    #: a session with no message for this long after a turn continues-as-new with its compact state
    #: (transcript window, answered ids), so a session the worker's cache evicted while idle replays
    #: one workflow task on its next message instead of its whole last run; 0: never
    session_idle_compact_after: timedelta = Field(default=timedelta(minutes=5), ge=timedelta(0))
    session_active_window_seconds: float = Field(default=86_400.0, gt=0)

    # Quotas (core/quotas.py): each refusal (429, 422 for a too short interval) names its setting;
    # user_quotas gives single users other values, e.g. {"alice": {"max_alerts_per_user": 200}}
    max_schedules_per_user: int = Field(default=20, ge=0)
    #: the shortest interval a schedule may fire at (every_seconds, cron, @every); unset: 60 s with
    #: API keys (users share the deployment), 1 s in keyless mode (one local user, nobody to slow)
    schedule_min_interval_seconds: int | None = Field(default=None, ge=1)
    #: scheduled turns of one user run one at a time per worker, and at most this many at once
    #: per worker across users, so a schedule storm never slows an interactive chat
    schedule_concurrent_turns: int = Field(default=4, ge=1)
    max_alerts_per_user: int = Field(default=50, ge=0)
    #: price alert thresholds above this are refused as absurd (above / below)
    alert_max_price: Decimal = Field(default=Decimal("1e12"), gt=0)
    #: symbols a price alert may watch (a price feed of the deployment); others are refused
    alert_symbols: list[str] = Field(default_factory=lambda: ["ETH", "BTC", "TUSD"])
    #: event streams (GET .../events, POST ...?stream=true) one user may hold open per API process
    max_event_streams_per_user: int = Field(default=20, ge=1)
    #: link codes (POST /v1/links) one user may ask for in any hour
    max_link_codes_per_hour: int = Field(default=10, ge=0)
    #: notifications kept per kind (deposit, alert, schedule, ...) in a user's inbox, so a chatty
    #: kind never pushes the others out
    notifications_kept_per_kind: int = Field(default=200, ge=1, le=5000)
    user_quotas: dict[str, UserQuotas] = Field(default_factory=dict)

    # Chain (issue: on-chain layer). Empty rpc url: chain tools answer that no chain is configured.
    chain_rpc_url: str | None = None
    #: the platform user who owns the deployed vault (sees its balance, may ask for transfers)
    chain_vault_user: str = "local"
    #: daily spend limits (whole units per token symbol) a newly registered user vault starts with
    chain_vault_daily_limits: dict[str, Decimal] = Field(
        default_factory=lambda: {"ETH": Decimal(1), "TUSD": Decimal(1000)}
    )
    chain_confirmations: int = Field(default=1, ge=0, le=64)
    chain_poll_seconds: float = Field(default=0.5, gt=0)
    #: the operator (agent signer) key; prefer chain_keystore_file in production
    chain_operator_key: SecretStr | None = None
    chain_keystore_file: Path | None = None
    chain_keystore_password: SecretStr | None = None
    #: the undo window: an approved transfer worth at least ``transfer_delay_min_usd`` waits this long
    #: in the session (status ``scheduled``, cancellable) before it is sent; 0 = sent at once
    transfer_delay_seconds: float = Field(default=0.0, ge=0, le=7 * 24 * 3600)
    transfer_delay_min_usd: Decimal = Field(default=Decimal("0"), ge=0)
    #: per-user overrides: user -> {"seconds": ..., "min_usd": ...} (either key may be left out)
    transfer_delay_overrides: dict[str, dict[str, Decimal]] = Field(default_factory=dict)
    #: the platform's audit key (secp256k1, hex) that signs audit bundles; default
    #: ``<data_dir>/keys/audit.key`` (created on first use)
    audit_key: SecretStr | None = None

    # Workers (issue 10): watch rules and scheduled agents
    #: a fired alert re-arms only after this many seconds (and the price's return past the hysteresis)
    alert_cooldown_seconds: float = Field(default=900.0, ge=0)
    #: how far (percent of the threshold) the price must go back before an alert re-arms
    alert_hysteresis_pct: Decimal = Field(default=Decimal("1"), ge=0, le=50)
    #: a schedule missed during an outage runs once if the outage was shorter than this
    schedule_catchup_seconds: float = Field(default=3600.0, ge=10)
    #: seconds a scheduled turn waits for its answer before reporting it as still running
    schedule_turn_wait_seconds: float = Field(default=600.0, gt=0)

    # Chat bots (bots/): each platform is a registry entry (core/platforms.py) declared by its own
    # module, and runs when its token is set (``impressox bot NAME``, ``up``)
    #: extra modules whose import declares more chat platforms (``platforms.register``), e.g.
    #: "mycompany.slack"; the built-in ones (bots/common/platforms.py) are always loaded
    platform_modules: list[str] = Field(default_factory=list)
    #: each platform's settings group, raw (validated by the platform's own model when it is read):
    #: ``IMPRESSOX_<PLATFORM>_<FIELD>`` (``IMPRESSOX_TELEGRAM_TOKEN``) or, in the config file,
    #: ``platforms: {telegram: {api_url: ...}}``. Never shown (it holds the platforms' tokens)
    platforms: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False, exclude=True)
    #: the agent a chat conversation talks to
    bot_agent: str = "assistant"
    #: the bots show an answer as it is written, editing their reply in place (off: it arrives whole)
    bot_live_replies: bool = True
    #: a turn answered within this many seconds is one plain message (no draft, no edits)
    bot_live_grace_seconds: float = Field(default=1.0, ge=0, le=60)
    #: how long a ``POST /v1/links`` code may be redeemed with ``/link CODE``
    link_code_ttl_seconds: float = Field(default=600.0, gt=0, le=3600)
    #: keys the link code workflows' ids (an HMAC of the code); empty: <data_dir>/keys/link.key
    link_code_key: SecretStr | None = None
    #: the payload codec refuses payloads that are not encrypted (a plain signal or update sent
    #: through Temporal's CLI or Web UI is dropped or rejected); only applies with the codec on
    codec_refuse_plain: bool = True

    # Operability (docs/operations.md): metrics, traces, cost, budgets
    #: this process's Prometheus endpoint (worker, listener, bots; the API's own port serves /metrics
    #: too); None: none, 0: any free port (``up`` gives each child one and records it in stack.json)
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    #: OTLP endpoint for traces; the standard OTEL_EXPORTER_OTLP_ENDPOINT turns them on as well
    otel_endpoint: str | None = None
    #: USD per token by model, added to (or overriding) litellm's cost map, e.g.
    #: {"offline/impressox-offline-v1": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}}
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)
    #: a user's LLM cost plus gas per UTC day; a turn starting past it is refused (None: no budget)
    budget_usd_per_day: float | None = Field(default=None, ge=0)
    #: per-user overrides of budget_usd_per_day
    budget_usd_per_user: dict[str, float] = Field(default_factory=dict)

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, _, port = v.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:7233")
        return v

    @field_validator("mcp_servers")
    @classmethod
    def _mcp_names(cls, v: dict[str, McpServerConfig]) -> dict[str, McpServerConfig]:
        bad = [name for name in v if not re.match(MCP_SERVER_NAME, name)]
        if bad:
            raise ValueError(f"MCP server names must be lower-case words (a-z, 0-9, _): {bad}")
        return v

    @field_validator("rate_limit", "rate_limit_sessions", "rate_limit_messages", "rate_limit_bad_keys")
    @classmethod
    def _rate(cls, v: str) -> str:
        try:
            parse_many(v)
        except ValueError:
            raise ValueError("must look like 120/minute (several joined with ';', e.g. 10/second;300/hour)") from None
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
        return (
            init_settings,
            env_settings,
            PlatformEnvSource(settings_cls),
            YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file),
        )

    def budget_for(self, user: str) -> float | None:
        return self.budget_usd_per_user.get(user, self.budget_usd_per_day)

    @property
    def codec_cors_origins(self) -> list[str]:
        if self.temporal_ui_origin:
            return [self.temporal_ui_origin.rstrip("/")]
        return [f"http://127.0.0.1:{self.temporal_ui_port}", f"http://localhost:{self.temporal_ui_port}"]


class PlatformEnvSource(PydanticBaseSettingsSource):
    """``IMPRESSOX_<PLATFORM>_<FIELD>`` variables that are no field of Settings, as ``platforms``:
    the chat platforms' settings groups (their names are known only once their modules are loaded;
    a platform reads its own group, core/platforms.py). Over the config file, under init values."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        fields = set(self.settings_cls.model_fields)
        groups: dict[str, dict[str, Any]] = {}
        for key, value in os.environ.items():
            rest = key[len(ENV_PREFIX) :].lower() if key.upper().startswith(ENV_PREFIX) else ""
            if not rest or rest in fields or "__" in rest:  # a field's own (or nested) variable
                continue
            name, _, field = rest.partition("_")
            if name and field:
                groups.setdefault(name, {})[field] = value
        return {"platforms": groups} if groups else {}


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
