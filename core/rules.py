"""Watch rules and their evaluator: pure functions, no I/O, so the WatchWorkflow can run them
deterministically and tests can feed them price sequences.

A price rule fires once per crossing: it fires when the price is beyond its threshold while
armed, then disarms; it re-arms only after the price has gone back past the threshold by the
hysteresis margin (default 1%) *and* the cooldown since the last firing has passed. Hovering
around the threshold therefore fires nothing more.

These models are persisted in Temporal history (WatchWorkflow signals and inputs): evolve
them by adding optional fields only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

DEFAULT_HYSTERESIS_PCT = Decimal("1")


class PriceRule(BaseModel):
    """One of ``above``, ``below`` or ``move_pct`` (+ ``window_seconds``) is set."""

    alert_id: str
    owner: str
    symbol: str
    above: Decimal | None = None
    below: Decimal | None = None
    move_pct: Decimal | None = None
    window_seconds: int | None = None
    cooldown_seconds: float = 900
    hysteresis_pct: Decimal = DEFAULT_HYSTERESIS_PCT
    created_at: datetime | None = None

    def describe(self) -> str:
        if self.above is not None:
            return f"{self.symbol} above {_num(self.above)}"
        if self.below is not None:
            return f"{self.symbol} below {_num(self.below)}"
        return f"{self.symbol} moves {_num(self.move_pct or 0)}% within {_span(self.window_seconds or 0)}"


class WalletRule(BaseModel):
    alert_id: str
    owner: str
    address: str
    direction: Literal["in", "out", "both"] = "both"
    #: token symbol, None for the chain's native coin (ETH)
    token: str | None = None
    created_at: datetime | None = None

    def describe(self) -> str:
        what = {"in": "incoming", "out": "outgoing", "both": "incoming and outgoing"}[self.direction]
        return f"{what} {self.token or 'ETH'} transfers of {self.address}"


class RuleState(BaseModel):
    """A rule's memory between price updates."""

    armed: bool = True
    last_fired_at: datetime | None = None
    fired_count: int = 0


class PricePoint(BaseModel):
    at: datetime
    price: Decimal


class PriceFiring(BaseModel):
    """What a firing reports: the value, and for move rules the reference it moved from."""

    price: Decimal
    reference: Decimal | None = None
    move_pct: Decimal | None = None


def reference_price(history: list[PricePoint], at: datetime, window_seconds: int) -> Decimal | None:
    """The price ``window_seconds`` before ``at``: the last point at or before then, else the oldest known."""
    if not history:
        return None
    cutoff = at - timedelta(seconds=window_seconds)
    before = [p for p in history if p.at <= cutoff]
    return (before[-1] if before else history[0]).price


def evaluate_price(
    rule: PriceRule, state: RuleState, price: Decimal, at: datetime, history: list[PricePoint] | None = None
) -> tuple[RuleState, PriceFiring | None]:
    """One price update against one rule: the rule's new state and the firing, if any.

    ``history`` holds the earlier points (oldest first, excluding this one), used by move rules.
    """
    h = rule.hysteresis_pct / 100
    firing = PriceFiring(price=price)
    if rule.above is not None:
        beyond, back = price > rule.above, price <= rule.above * (1 - h)
    elif rule.below is not None:
        beyond, back = price < rule.below, price >= rule.below * (1 + h)
    else:
        ref = reference_price(history or [], at, rule.window_seconds or 0)
        if ref is None or ref == 0 or rule.move_pct is None:
            return state, None
        move = (price - ref) / ref * 100
        beyond, back = abs(move) >= rule.move_pct, abs(move) <= rule.move_pct * (1 - h)
        firing = PriceFiring(price=price, reference=ref, move_pct=move.quantize(Decimal("0.01")))
    armed = state.armed or back
    cooled = state.last_fired_at is None or (at - state.last_fired_at).total_seconds() >= rule.cooldown_seconds
    if armed and beyond and cooled:
        return RuleState(armed=False, last_fired_at=at, fired_count=state.fired_count + 1), firing
    return state.model_copy(update={"armed": armed}), None


def run_sequence(rule: PriceRule, points: list[PricePoint], state: RuleState | None = None) -> list[PriceFiring]:
    """Evaluate a whole sequence (tests, benchmarks): the firings in order."""
    state = state or RuleState()
    fired: list[PriceFiring] = []
    for i, point in enumerate(points):
        state, firing = evaluate_price(rule, state, point.price, point.at, points[:i])
        if firing:
            fired.append(firing)
    return fired


def prune_history(history: list[PricePoint], at: datetime, keep_seconds: int, limit: int = 10_000) -> list[PricePoint]:
    """Drop points no move rule can need: keep those within ``keep_seconds`` plus the one just before."""
    cutoff = at - timedelta(seconds=keep_seconds)
    older = [i for i, p in enumerate(history) if p.at <= cutoff]
    start = older[-1] if older else 0
    return history[start:][-limit:]


def wallet_matches(rule: WalletRule, sender: str, receiver: str, token: str | None) -> str | None:
    """'in' / 'out' when a transfer of ``token`` (None: native) concerns the rule, else None."""
    if (rule.token or None) != (token or None) and (rule.token or "").upper() != (token or "").upper():
        return None
    address = rule.address.lower()
    if receiver.lower() == address and rule.direction in ("in", "both"):
        return "in"
    if sender.lower() == address and rule.direction in ("out", "both"):
        return "out"
    return None


def _num(value: Decimal | int) -> str:
    return f"{value:,f}".rstrip("0").rstrip(".") if "." in f"{value:f}" else f"{value:,f}"


def _span(seconds: int) -> str:
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def money(value: Decimal | int) -> str:
    """$3,600.00"""
    return f"${value:,.2f}"
