"""NotificationsWorkflow: one durable inbox per user (id ``notify:<user>``).

Notifications arrive as ``notify`` signals (usually by signal-with-start from the chain
event listener); a key seen before is ignored, since a signal may be delivered twice. The
``list_notifications`` query returns the last KEEP, newest last. The workflow never ends on
its own: it continues as new every SIGNALS_PER_RUN signals (or when Temporal suggests it),
carrying the kept notifications and the recent dedupe keys.
"""

from __future__ import annotations

from collections import deque

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.notifications import Notification, NotificationsStart

#: notifications kept (and shown); older ones stay in earlier runs' histories
KEEP = 200
#: dedupe keys remembered beyond the kept notifications
SEEN_KEYS = 1000
SIGNALS_PER_RUN = 500


def notifications_workflow_id(user: str) -> str:
    return f"notify:{user}"


@workflow.defn
class NotificationsWorkflow:
    @workflow.init
    def __init__(self, start: NotificationsStart) -> None:
        self._user = start.user
        self._items: deque[Notification] = deque(start.state or [], maxlen=KEEP)
        self._seen: deque[str] = deque(start.seen_keys or [], maxlen=SEEN_KEYS)
        self._keys: set[str] = set(self._seen) | {n.key for n in self._items}
        self._signals = 0
        self._signals_per_run = start.signals_per_run or SIGNALS_PER_RUN

    @workflow.run
    async def run(self, start: NotificationsStart) -> None:
        await workflow.wait_condition(
            lambda: self._signals >= self._signals_per_run or workflow.info().is_continue_as_new_suggested()
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(
            NotificationsStart(
                user=self._user,
                state=list(self._items),
                seen_keys=list(self._seen),
                signals_per_run=start.signals_per_run,
            )
        )

    @workflow.signal
    def notify(self, notification: Notification) -> None:
        """Store a notification; a key already seen is ignored."""
        self._signals += 1
        if notification.key in self._keys:
            return
        if len(self._items) == self._items.maxlen:
            # the oldest notification leaves the list; its key still guards against a late duplicate
            dropped = self._items[0].key
            if len(self._seen) == self._seen.maxlen:
                self._keys.discard(self._seen[0])
            self._seen.append(dropped)
        self._items.append(notification)
        self._keys.add(notification.key)

    @workflow.query
    def list_notifications(self) -> list[Notification]:
        """The kept notifications, newest last."""
        return list(self._items)
