"""Contracts shared by the chat bots and the workflows that serve them.

Persisted in Temporal history (activity inputs, workflow inputs, signals): evolve them by
adding optional fields only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field
from temporalio.common import RetryPolicy

from core.schemas import ReplyAddress

#: the activity a bot process hosts on its platform's task queue
DELIVER = "deliver"


#: a delivery retries with backoff until the chat is reachable (a 429 sets its own next delay)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(minutes=1)
)
DELIVERY_ATTEMPT_TIMEOUT = timedelta(seconds=60)
#: a chat unreachable this long (bot gone, bot blocked) loses that message; the session keeps it
DELIVERY_DEADLINE = timedelta(days=1)


def bot_task_queue(platform: str, agent_queue: str = "impressox-agent") -> str:
    """The task queue the ``platform`` bot's worker polls for deliveries: ``impressox-telegram`` next
    to the default ``impressox-agent``; ``<queue>-<platform>`` next to any other (a deployment or
    test sharing the Temporal server keeps its own deliveries)."""
    base = agent_queue.removesuffix("-agent") if agent_queue.endswith("-agent") else agent_queue
    return f"{base}-{platform}"


class ApprovalButton(BaseModel):
    """A pending approval shown with Approve / Reject buttons (``cancel``: an approved transfer in its
    undo window, shown with one Cancel button)."""

    session_id: str
    call_id: str
    summary: str
    cancel: bool = False


class Delivery(BaseModel):
    """Input of the ``deliver`` activity: one text (split by the bot) to one chat."""

    address: ReplyAddress
    text: str
    kind: Literal["reply", "approval", "notification"] = "reply"
    approval: ApprovalButton | None = None
    #: stable across retries: what this delivery is (e.g. ``<session>/<message>``)
    key: str = ""


class IdentityStart(BaseModel):
    """Workflow input of BotIdentityWorkflow (one per chat identity, ``identity:<platform>:<id>``)."""

    platform: str
    user_id: str
    linked_user: str | None = None
    #: conversation key ("dm", "chat:<id>") -> session id
    sessions: dict[str, str] = Field(default_factory=dict)
    failures: list[datetime] = Field(default_factory=list)


class IdentityView(BaseModel):
    platform: str
    user_id: str
    linked_user: str | None = None
    sessions: dict[str, str] = Field(default_factory=dict)
    linked_at: datetime | None = None


class SessionBinding(BaseModel):
    """Update of BotIdentityWorkflow: this conversation now talks to this session."""

    conversation: str
    session_id: str


class LinkCodeStart(BaseModel):
    """Workflow input of LinkCodeWorkflow (one per code, id ``link-code:<HMAC of the code>``)."""

    user: str
    ttl_seconds: float = 600.0


class LinkedIdentity(BaseModel):
    """What ``GET /v1/links`` lists."""

    identity: str
    platform: str
    linked_at: datetime | None = None


class LinkCode(BaseModel):
    """What ``POST /v1/links`` returns."""

    code: str
    expires_at: datetime
    how: str = "send /link CODE to the Telegram or Discord bot"


class NotifySubscription(BaseModel):
    """Signal of NotificationsWorkflow: deliver this user's notifications to a chat (or stop)."""

    address: ReplyAddress
    on: bool = True
