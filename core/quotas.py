"""Per-user quotas: what one user may create or hold at once, so no user can slow, fill or
blind the others.

Each quota is a setting (``core/settings.py``, ``IMPRESSOX_<NAME>``) with a default, and any
user may get other values in ``user_quotas`` (``IMPRESSOX_USER_QUOTAS='{"alice":
{"max_alerts_per_user": 200}}'``). A refusal names the limit and its setting
(``QuotaExceededError``, answered 409), so an operator knows what to raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConflictError

#: the settings a user's overrides may change (each also a top-level setting)
QuotaName = Literal[
    "max_running_sessions_per_user",
    "session_active_window_seconds",
    "max_schedules_per_user",
    "schedule_min_interval_seconds",
    "max_alerts_per_user",
    "max_event_streams_per_user",
    "max_link_codes_per_hour",
    "notifications_kept_per_kind",
]


class UserQuotas(BaseModel):
    """One user's overrides; a field left out keeps the deployment's setting."""

    model_config = ConfigDict(extra="forbid")
    max_running_sessions_per_user: int | None = Field(default=None, ge=1)
    session_active_window_seconds: float | None = Field(default=None, gt=0)
    max_schedules_per_user: int | None = Field(default=None, ge=0)
    schedule_min_interval_seconds: int | None = Field(default=None, ge=1)
    max_alerts_per_user: int | None = Field(default=None, ge=0)
    max_event_streams_per_user: int | None = Field(default=None, ge=1)
    max_link_codes_per_hour: int | None = Field(default=None, ge=0)
    notifications_kept_per_kind: int | None = Field(default=None, ge=1)


class QuotaSettings(Protocol):
    """What quota() reads of core.settings.Settings (typed apart: settings imports this module)."""

    @property
    def user_quotas(self) -> Mapping[str, UserQuotas]: ...


class QuotaExceededError(ConflictError):
    """A user is at one of their quotas (HTTP 409, like any conflict with what they hold); the
    message names the limit and its setting."""


def quota(settings: QuotaSettings, user: str, name: QuotaName) -> float:
    """The value of quota ``name`` for ``user``: their override, else the setting."""
    override = settings.user_quotas.get(user)
    value = getattr(override, name, None) if override is not None else None
    return value if value is not None else getattr(settings, name)


def int_quota(settings: QuotaSettings, user: str, name: QuotaName) -> int:
    return int(quota(settings, user, name))


def refusal(user: str, what: str, limit: float, name: QuotaName, hint: str = "") -> QuotaExceededError:
    """The error for ``user`` being at ``limit`` of ``what`` (``name`` is the setting)."""
    shown = int(limit) if float(limit).is_integer() else limit
    text = f"{user} is at the limit of {shown} {what} (setting {name}, per-user override in user_quotas)"
    return QuotaExceededError(text + (f"; {hint}" if hint else ""))
