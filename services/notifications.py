"""Notification service: deliver a notification to a user's inbox workflow, and read it back.

``notify`` is a signal-with-start of the user's NotificationsWorkflow, so the first
notification creates the inbox and a repeated one (same key) is stored once.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from core.errors import BadInputError, UnavailableError
from core.names import USER_NAME
from core.notifications import Notification, NotificationsStart
from core.quotas import int_quota
from core.settings import Settings
from workflows.notifications import NotificationsWorkflow, notifications_workflow_id

USER = USER_NAME
QUERY_TIMEOUT = timedelta(seconds=5)
#: notifications per ``notify_many`` signal (keeps one signal's payload well under Temporal's limits)
NOTIFY_MANY_CHUNK = 100
_UNAVAILABLE = (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.UNAVAILABLE, RPCStatusCode.CANCELLED)


class NotificationService:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    async def notify(self, user: str, notification: Notification) -> None:
        """Durably hand ``notification`` to ``user``'s inbox (created on first use)."""
        await self._signal(user, "notify", notification)

    async def notify_many(self, user: str, notifications: list[Notification]) -> None:
        """Several notifications for one user, in order, in one signal per NOTIFY_MANY_CHUNK."""
        for i in range(0, len(notifications), NOTIFY_MANY_CHUNK):
            chunk = notifications[i : i + NOTIFY_MANY_CHUNK]
            if len(chunk) == 1:
                await self._signal(user, "notify", chunk[0])
            else:
                await self._signal(user, "notify_many", chunk)

    async def _signal(self, user: str, signal: str, arg: object) -> None:
        wid = notifications_workflow_id(_checked(user))
        try:
            await self.client.start_workflow(
                NotificationsWorkflow.run,
                NotificationsStart(
                    user=user, keep_per_kind=int_quota(self.settings, user, "notifications_kept_per_kind")
                ),
                id=wid,
                task_queue=self.settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                start_signal=signal,
                start_signal_args=[arg],
                static_summary=f"notifications of {user}",
            )
        except RPCError as exc:
            raise _mapped(exc, wid) from None

    async def list(self, user: str) -> list[Notification]:
        """The user's notifications, newest last; [] for a user never notified."""
        wid = notifications_workflow_id(_checked(user))
        try:
            return await self.client.get_workflow_handle(wid).query(
                NotificationsWorkflow.list_notifications, rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return []
            raise _mapped(exc, wid) from None


def _checked(user: str) -> str:
    if not isinstance(user, str) or not USER.match(user):
        raise BadInputError(f"invalid user {user!r}")
    return user


def _mapped(exc: RPCError, wid: str) -> Exception:
    if exc.status in _UNAVAILABLE:
        return UnavailableError(f"notifications {wid} did not answer in time (is a worker running?)")
    return exc
