"""Models of a user's registry (workflows/tenant.py): what each user holds, so quotas are
exact under concurrency and every "list mine" reads the user's own index.

Persisted in Temporal history (the registry's input and updates): add optional fields only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

#: what a registry counts: sessions (active ones), alerts, schedules, link codes issued (per hour)
Kind = Literal["session", "alert", "schedule", "link_code"]


class TenantStart(BaseModel):
    """Workflow input of TenantWorkflow (one per user), also carried across continue-as-new."""

    user: str
    #: session id -> when it was last active (created or sent a message)
    sessions: dict[str, datetime] = Field(default_factory=dict)
    #: alert id -> when it was added
    alerts: dict[str, datetime] = Field(default_factory=dict)
    #: schedule id -> when it was added
    schedules: dict[str, datetime] = Field(default_factory=dict)
    #: when each link code of the last hour was issued
    link_codes: list[datetime] = Field(default_factory=list)


class Reserve(BaseModel):
    """Take a slot of ``kind`` for ``item`` if fewer than ``limit`` are held (an item held
    already is refreshed and granted again: retries are harmless)."""

    kind: Kind
    item: str = Field(min_length=1, max_length=300)
    limit: int = Field(ge=0)
    #: sessions: only those active within this many seconds count; link codes: the hour
    window_seconds: float | None = None


class Reservation(BaseModel):
    granted: bool
    #: how many the user holds (counting this one when granted)
    held: int
    #: a refused link code: seconds until the oldest of the hour leaves the window
    retry_after_seconds: float | None = None


class Release(BaseModel):
    kind: Kind
    item: str
