"""Models at the Temporal boundary of the watch rules and scheduled turns (signals, inputs,
activity arguments). Persisted in history: evolve by adding optional fields only."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from core.notifications import Notification
from core.rules import PricePoint, PriceRule, RuleState, WalletRule


def price_watch_id(symbol: str) -> str:
    return f"watch:price:{symbol.upper()}"


def wallet_watch_id(address: str) -> str:
    return f"watch:wallet:{address.lower()}"


class PriceUpdate(BaseModel):
    """A new answer of a price feed (from its AnswerUpdated event, or a poll)."""

    #: dedupe key: ``<SYMBOL>:<round>`` so the event and a poll of the same round count once
    key: str
    symbol: str
    price: Decimal
    round_id: int
    at: datetime
    block_number: int | None = None
    tx_hash: str | None = None


class TransferSeen(BaseModel):
    """A confirmed transfer touching a watched address (native from blocks, or an ERC-20 log)."""

    key: str
    sender: str
    receiver: str
    #: token symbol; None for the native coin
    token: str | None = None
    amount: Decimal
    block_number: int
    tx_hash: str
    at: datetime


class AddRule(BaseModel):
    price: PriceRule | None = None
    wallet: WalletRule | None = None


class RemoveRule(BaseModel):
    owner: str
    alert_id: str


class WatchStart(BaseModel):
    """WatchWorkflow input: one workflow per watched target (a feed, an address)."""

    kind: Literal["price", "wallet"]
    #: symbol (price) or lower-case address (wallet)
    target: str
    price_rules: list[PriceRule] = Field(default_factory=list)
    wallet_rules: list[WalletRule] = Field(default_factory=list)
    states: dict[str, RuleState] = Field(default_factory=dict)
    history: list[PricePoint] = Field(default_factory=list)
    seen_keys: list[str] = Field(default_factory=list)
    last_price: Decimal | None = None
    signals_per_run: int | None = None
    #: the feed round last evaluated: an older round arriving late (a poll) is stale
    last_round: int | None = None


class AlertView(BaseModel):
    """One rule as its owner sees it."""

    alert_id: str
    kind: Literal["price", "wallet"]
    description: str
    rule: dict
    armed: bool = True
    fired_count: int = 0
    last_fired_at: datetime | None = None
    last_price: Decimal | None = None


class OwnedNotification(BaseModel):
    user: str
    notification: Notification


class NotifyBatch(BaseModel):
    items: list[OwnedNotification]


class ScheduledTurnInput(BaseModel):
    """The action of a user's schedule: run ``prompt`` as a turn of ``agent`` for ``owner``."""

    schedule_id: str
    owner: str
    agent: str
    prompt: str
    #: seconds a turn waits for its answer before reporting it as still running
    wait_seconds: float = 600


class ScheduledTurnRequest(BaseModel):
    schedule_id: str
    owner: str
    agent: str
    prompt: str
    message_id: str
    fired_at: datetime
    wait_seconds: float = 600


class ScheduledTurnResult(BaseModel):
    schedule_id: str
    fired_at: datetime
    session_id: str
    status: str
    reply: str


class PeriodicTaskInput(BaseModel):
    name: str
    timeout_seconds: float = 60
