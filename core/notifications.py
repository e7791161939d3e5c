"""Notifications: what the platform tells a user about (a deposit to their vault, ...).

Persisted in Temporal history (the NotificationsWorkflow signal and input): evolve these
models by adding optional fields only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from core.schemas import ReplyAddress


class Notification(BaseModel):
    """One notification. ``key`` makes it idempotent: the same key is stored once."""

    #: dedupe key, e.g. ``txHash:logIndex`` for a chain event
    key: str = Field(min_length=1, max_length=200)
    #: what happened, e.g. "deposit"
    kind: str
    #: the sentence a user reads
    text: str
    #: machine-readable details (amounts as decimal strings, never floats)
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime


class ChatDelivery(BaseModel):
    """A notification still to deliver to one subscribed chat (the workflow's outbox)."""

    address: ReplyAddress
    notification: Notification


class NotificationsStart(BaseModel):
    """Workflow input of NotificationsWorkflow (one per user)."""

    user: str
    #: the notifications carried across continue-as-new (oldest first)
    state: list[Notification] | None = None
    #: dedupe keys of older notifications no longer kept in ``state``
    seen_keys: list[str] | None = None
    #: signals handled per run before continuing as new (None: the workflow's default)
    signals_per_run: int | None = None
    #: chats that asked for this user's notifications (``/notify_on`` in a bot)
    subscribers: list[ReplyAddress] | None = None
    #: deliveries not yet done, in order
    outbox: list[ChatDelivery] | None = None
    #: notifications kept per kind (settings notifications_kept_per_kind; None: the workflow's default)
    keep_per_kind: int | None = None
