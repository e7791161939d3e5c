"""NotificationsWorkflow: one durable inbox per user (id ``notify:<user>``).

Notifications arrive as ``notify`` signals (usually by signal-with-start from the chain
event listener); a key seen before is ignored, since a signal may be delivered twice. The
``list_notifications`` query returns the last KEEP of each kind (deposit, alert, schedule, ...),
newest last, so a chatty schedule never pushes a deposit or an alert out. The workflow never ends on
its own: it continues as new every SIGNALS_PER_RUN signals (or when Temporal suggests it),
carrying the kept notifications and the recent dedupe keys.

Chats subscribed with ``subscribe`` (a bot's ``/notify_on``) get each new notification once,
in order: an outbox delivered one item at a time by the bot's ``deliver`` activity on its
platform's task queue (Temporal retries it, honouring a platform's ``retry_after``).
"""

from __future__ import annotations

from collections import deque

from temporalio import workflow

from workflows.delivery import deliver_to_chat

with workflow.unsafe.imports_passed_through():
    from core.bots import Delivery, NotifySubscription
    from core.notifications import ChatDelivery, Notification, NotificationsStart
    from core.schemas import ReplyAddress

#: notifications kept (and shown) per kind; older ones stay in earlier runs' histories
KEEP = 200
#: kinds kept apart at most (the platform has a handful); beyond, the oldest go whatever their kind
MAX_KINDS = 16
#: dedupe keys remembered beyond the kept notifications
SEEN_KEYS = 1000
SIGNALS_PER_RUN = 500


def _chat_key(address: ReplyAddress) -> str:
    return f"{address.platform}:{address.chat_id}"


def notifications_workflow_id(user: str) -> str:
    return f"notify:{user}"


@workflow.defn
class NotificationsWorkflow:
    @workflow.init
    def __init__(self, start: NotificationsStart) -> None:
        self._user = start.user
        self._keep = start.keep_per_kind or KEEP
        self._items: list[Notification] = list(start.state or [])
        self._seen: deque[str] = deque(start.seen_keys or [], maxlen=SEEN_KEYS)
        self._keys: set[str] = set(self._seen) | {n.key for n in self._items}
        self._signals = 0
        self._signals_per_run = start.signals_per_run or SIGNALS_PER_RUN
        self._subscribers: dict[str, ReplyAddress] = {_chat_key(a): a for a in start.subscribers or []}
        self._outbox: list[ChatDelivery] = list(start.outbox or [])

    @workflow.run
    async def run(self, start: NotificationsStart) -> None:
        while True:
            await workflow.wait_condition(lambda: bool(self._outbox) or self._should_roll())
            if self._outbox:
                await self._deliver(self._outbox[0])
                self._outbox.pop(0)
                continue
            await workflow.wait_condition(lambda: workflow.all_handlers_finished() or bool(self._outbox))
            if not self._outbox:
                break
        workflow.continue_as_new(
            NotificationsStart(
                user=self._user,
                state=list(self._items),
                seen_keys=list(self._seen),
                signals_per_run=start.signals_per_run,
                subscribers=list(self._subscribers.values()) or None,
                outbox=self._outbox or None,
                keep_per_kind=start.keep_per_kind,
            )
        )

    def _should_roll(self) -> bool:
        return self._signals >= self._signals_per_run or workflow.info().is_continue_as_new_suggested()

    async def _deliver(self, item: ChatDelivery) -> None:
        if _chat_key(item.address) not in self._subscribers:  # unsubscribed meanwhile
            return
        await deliver_to_chat(
            Delivery(
                address=item.address,
                text=item.notification.text,
                kind="notification",
                key=f"{item.notification.key}/{_chat_key(item.address)}",
            )
        )

    @workflow.signal
    def subscribe(self, subscription: NotifySubscription) -> None:
        """A chat turns this user's notifications on (or off): new ones are delivered there."""
        key = _chat_key(subscription.address)
        if subscription.on:
            self._subscribers[key] = subscription.address
        else:
            self._subscribers.pop(key, None)
            self._outbox = [d for d in self._outbox if _chat_key(d.address) != key]

    @workflow.signal
    def notify(self, notification: Notification) -> None:
        """Store a notification; a key already seen is ignored."""
        self._signals += 1
        if notification.key in self._keys:
            return
        self._items.append(notification)
        self._keys.add(notification.key)
        same = [i for i, n in enumerate(self._items) if n.kind == notification.kind]
        if len(same) > self._keep:  # the oldest of its kind leaves; other kinds keep theirs
            self._drop(same[0])
        while len(self._items) > self._keep * MAX_KINDS:
            self._drop(0)
        # each new key once per chat: the key check above makes a repeated signal a no-op
        self._outbox.extend(ChatDelivery(address=a, notification=notification) for a in self._subscribers.values())

    def _drop(self, index: int) -> None:
        """The notification leaves the list; its key still guards against a late duplicate."""
        dropped = self._items.pop(index).key
        if len(self._seen) == self._seen.maxlen:
            self._keys.discard(self._seen[0])
        self._seen.append(dropped)

    @workflow.signal
    def notify_many(self, notifications: list[Notification]) -> None:
        """Several notifications in one signal (one RPC and one workflow task for a burst), in order."""
        for notification in notifications:
            self.notify(notification)

    @workflow.query
    def subscribers(self) -> list[ReplyAddress]:
        return list(self._subscribers.values())

    @workflow.query
    def list_notifications(self) -> list[Notification]:
        """The kept notifications, newest last."""
        return list(self._items)
