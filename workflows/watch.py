"""WatchWorkflow: one durable workflow per watched target holding all its rules.

``watch:price:<SYMBOL>`` holds every price rule on that feed; ``watch:wallet:<address>`` every
wallet rule on that address. The chain listener signals it (signal-with-start) with each
confirmed price update or transfer; the rules are evaluated together in workflow code (pure
functions of core.rules) and all firings of one batch go out in one ``alerts.notify``
activity, so one update costs the same Temporal actions for 1 or 1,000 rules.

Updates and transfers are deduplicated by key (a signal may arrive twice); notifications carry
``alert:<alert_id>:<update key>`` as their key, so the inbox stores each firing once even when
the activity is retried. The workflow continues as new every SIGNALS_PER_RUN signals.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.activity_names import ALERTS_NOTIFY
    from core.automations import (
        AddRule,
        AlertView,
        NotifyBatch,
        OwnedNotification,
        PriceUpdate,
        RemoveRule,
        TransferSeen,
        WatchStart,
    )
    from core.notifications import Notification
    from core.rules import (
        PricePoint,
        PriceRule,
        RuleState,
        WalletRule,
        evaluate_price,
        money,
        prune_history,
        wallet_matches,
    )

SIGNALS_PER_RUN = 500
SEEN_KEYS = 1000
#: the price history kept for move rules is also bounded in length
HISTORY_LIMIT = 5000
NOTIFY_HEARTBEAT_SECONDS = 10
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))


@workflow.defn
class WatchWorkflow:
    @workflow.init
    def __init__(self, start: WatchStart) -> None:
        self._start = start
        self._price_rules: dict[str, PriceRule] = {r.alert_id: r for r in start.price_rules}
        self._wallet_rules: dict[str, WalletRule] = {r.alert_id: r for r in start.wallet_rules}
        self._states: dict[str, RuleState] = dict(start.states)
        self._history: list[PricePoint] = list(start.history)
        self._seen: deque[str] = deque(start.seen_keys, maxlen=SEEN_KEYS)
        self._seen_set = set(self._seen)
        self._last_price = start.last_price
        self._last_round = start.last_round
        self._queue: list[PriceUpdate | TransferSeen] = []
        self._signals = 0

    @workflow.run
    async def run(self, start: WatchStart) -> None:
        limit = start.signals_per_run or SIGNALS_PER_RUN
        while True:
            await workflow.wait_condition(
                lambda: bool(self._queue) or self._signals >= limit or workflow.info().is_continue_as_new_suggested()
            )
            if self._queue:
                batch, self._queue = self._queue, []
                notes = [n for item in batch for n in self._evaluate(item)]
                if notes:
                    await workflow.execute_activity(
                        ALERTS_NOTIFY,
                        NotifyBatch(items=notes),
                        start_to_close_timeout=timedelta(seconds=120),
                        # a killed worker is noticed in seconds, not at the start-to-close timeout
                        heartbeat_timeout=timedelta(seconds=NOTIFY_HEARTBEAT_SECONDS),
                        retry_policy=NOTIFY_RETRY,
                    )
                continue
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._queue:
                workflow.continue_as_new(self._carry())

    def _carry(self) -> WatchStart:
        return WatchStart(
            kind=self._start.kind,
            target=self._start.target,
            price_rules=list(self._price_rules.values()),
            wallet_rules=list(self._wallet_rules.values()),
            states={k: v for k, v in self._states.items() if k in self._price_rules or k in self._wallet_rules},
            history=self._history,
            seen_keys=list(self._seen),
            last_price=self._last_price,
            signals_per_run=self._start.signals_per_run,
            last_round=self._last_round,
        )

    # ------------------------------------------------------------------ signals
    @workflow.signal
    def add_rule(self, add: AddRule) -> None:
        self._signals += 1
        if add.price and add.price.alert_id not in self._price_rules:
            self._price_rules[add.price.alert_id] = add.price
            self._states[add.price.alert_id] = RuleState()
        if add.wallet and add.wallet.alert_id not in self._wallet_rules:
            self._wallet_rules[add.wallet.alert_id] = add.wallet

    @workflow.signal
    def price(self, update: PriceUpdate) -> None:
        self._signals += 1
        if self._first_time(update.key):
            self._queue.append(update)

    @workflow.signal
    def transfer(self, seen: TransferSeen) -> None:
        self._signals += 1
        if self._first_time(seen.key):
            self._queue.append(seen)

    @workflow.update
    def remove_rule(self, remove: RemoveRule) -> bool:
        """Delete the owner's rule; False when no such rule of theirs exists."""
        self._signals += 1
        for rules in (self._price_rules, self._wallet_rules):
            rule = rules.get(remove.alert_id)
            if rule is not None and rule.owner == remove.owner:
                del rules[remove.alert_id]
                self._states.pop(remove.alert_id, None)
                return True
        return False

    @workflow.query
    def rules(self, owner: str) -> list[AlertView]:
        """The owner's rules on this target (no other user's)."""
        out = []
        for rule in self._price_rules.values():
            if rule.owner == owner:
                state = self._states.get(rule.alert_id, RuleState())
                out.append(
                    AlertView(
                        alert_id=rule.alert_id,
                        kind="price",
                        description=rule.describe(),
                        rule=rule.model_dump(mode="json", exclude_none=True),
                        armed=state.armed,
                        fired_count=state.fired_count,
                        last_fired_at=state.last_fired_at,
                        last_price=self._last_price,
                    )
                )
        for w in self._wallet_rules.values():
            if w.owner == owner:
                out.append(
                    AlertView(
                        alert_id=w.alert_id,
                        kind="wallet",
                        description=w.describe(),
                        rule=w.model_dump(mode="json", exclude_none=True),
                        fired_count=self._states.get(w.alert_id, RuleState()).fired_count,
                    )
                )
        return out

    @workflow.query
    def rule_count(self) -> int:
        return len(self._price_rules) + len(self._wallet_rules)

    def _first_time(self, key: str) -> bool:
        if key in self._seen_set:
            return False
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(key)
        self._seen_set.add(key)
        return True

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, item: PriceUpdate | TransferSeen) -> list[OwnedNotification]:
        if isinstance(item, PriceUpdate):
            return self._on_price(item)
        return self._on_transfer(item)

    def _on_price(self, u: PriceUpdate) -> list[OwnedNotification]:
        if self._last_round is not None and u.round_id < self._last_round:
            return []  # a poll's late view of an older round: the newer price stands
        self._last_round = u.round_id
        out = []
        for rule in self._price_rules.values():
            state = self._states.get(rule.alert_id, RuleState())
            state, firing = evaluate_price(rule, state, u.price, u.at, self._history)
            self._states[rule.alert_id] = state
            if firing is None:
                continue
            if rule.move_pct is not None:
                text = (
                    f"{rule.symbol} moved {firing.move_pct}% to {money(u.price)} "
                    f"(from {money(firing.reference or 0)}; alert: {rule.describe()})"
                )
            else:
                text = f"{rule.describe()}: {rule.symbol} is now {money(u.price)}"
            where = f" (round {u.round_id}" + (f", block {u.block_number})" if u.block_number is not None else ")")
            data = {
                "alert_id": rule.alert_id,
                "rule": rule.describe(),
                "kind": "price",
                "symbol": rule.symbol,
                "value": str(u.price),
                "round_id": u.round_id,
                "block_number": u.block_number,
                "tx_hash": u.tx_hash,
            }
            for field in ("above", "below", "move_pct"):
                if getattr(rule, field) is not None:
                    data[field] = str(getattr(rule, field))
            if firing.reference is not None:
                data["reference"] = str(firing.reference)
                data["moved_pct"] = str(firing.move_pct)
            out.append(self._note(rule.owner, rule.alert_id, u.key, text + where, data, u))
        self._last_price = u.price
        self._history.append(PricePoint(at=u.at, price=u.price))
        windows = [r.window_seconds or 0 for r in self._price_rules.values() if r.move_pct is not None]
        self._history = prune_history(self._history, u.at, max(windows, default=0), HISTORY_LIMIT)
        return out

    def _on_transfer(self, t: TransferSeen) -> list[OwnedNotification]:
        out = []
        for rule in self._wallet_rules.values():
            direction = wallet_matches(rule, t.sender, t.receiver, t.token)
            if direction is None:
                continue
            state = self._states.get(rule.alert_id, RuleState())
            self._states[rule.alert_id] = state.model_copy(update={"fired_count": state.fired_count + 1})
            token = t.token or "ETH"
            if direction == "in":
                text = f"Incoming transfer: {t.amount} {token} to {rule.address} from {t.sender}"
            else:
                text = f"Outgoing transfer: {t.amount} {token} from {rule.address} to {t.receiver}"
            data = {
                "alert_id": rule.alert_id,
                "rule": rule.describe(),
                "kind": "wallet",
                "address": rule.address,
                "direction": direction,
                "from": t.sender,
                "to": t.receiver,
                "token": token,
                "value": str(t.amount),
                "block_number": t.block_number,
                "tx_hash": t.tx_hash,
            }
            out.append(self._note(rule.owner, rule.alert_id, t.key, f"{text} (block {t.block_number})", data, t))
        return out

    def _note(
        self, owner: str, alert_id: str, key: str, text: str, data: dict, item: PriceUpdate | TransferSeen
    ) -> OwnedNotification:
        return OwnedNotification(
            user=owner,
            notification=Notification(
                key=f"alert:{alert_id}:{key}"[:200], kind="alert", text=text, data=data, at=item.at
            ),
        )
