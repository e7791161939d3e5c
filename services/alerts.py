"""Alert service: create, list and delete a user's watch rules (API, agent tools).

A rule lives in the WatchWorkflow of its target (``watch:price:ETH``, ``watch:wallet:0x…``),
added by signal-with-start. The alert id names its target (``price.ETH.<hex>``,
``wallet.<address>.<hex>``), so a delete goes straight to the right workflow; the workflow
checks the owner, and another user's id is reported as not found.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from chain.units import checksum_address
from core.automations import AddRule, AlertView, RemoveRule, WatchStart, price_watch_id, wallet_watch_id
from core.errors import BadInputError, NotFoundError, UnavailableError
from core.names import USER_NAME
from core.quotas import int_quota, refusal
from core.rules import PriceRule, WalletRule
from core.settings import Settings
from services.tenants import TenantRegistry
from workflows.watch import WatchWorkflow

log = logging.getLogger(__name__)
SYMBOL = r"^[A-Za-z][A-Za-z0-9]{1,9}$"
QUERY_TIMEOUT = timedelta(seconds=5)


class AlertCreate(BaseModel):
    """``{"kind": "price", "symbol", "above" | "below" | "move_pct" + "window_seconds"}`` or
    ``{"kind": "wallet", "address", "direction", "token"}``."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["price", "wallet"]
    symbol: str | None = Field(default=None, pattern=SYMBOL)
    above: Decimal | None = Field(default=None, gt=0)
    below: Decimal | None = Field(default=None, gt=0)
    move_pct: Decimal | None = Field(default=None, gt=0, le=1000)
    window_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)
    address: str | None = None
    direction: Literal["in", "out", "both"] = "both"
    token: str | None = Field(default=None, pattern=SYMBOL)
    #: per-rule cooldown (default: settings.alert_cooldown_seconds)
    cooldown_seconds: float | None = Field(default=None, ge=0, le=30 * 86400)
    hysteresis_pct: Decimal | None = Field(default=None, ge=0, le=50)

    @model_validator(mode="after")
    def _one_condition(self) -> AlertCreate:
        if self.kind == "price":
            if not self.symbol:
                raise ValueError("a price alert needs a symbol, e.g. ETH")
            given = [f for f in ("above", "below", "move_pct") if getattr(self, f) is not None]
            if len(given) != 1:
                raise ValueError("a price alert needs exactly one of above, below or move_pct")
            if self.move_pct is not None and self.window_seconds is None:
                raise ValueError("move_pct needs window_seconds")
        elif not self.address:
            raise ValueError("a wallet alert needs an address")
        return self


class AlertCreated(BaseModel):
    alert_id: str
    kind: str
    description: str


def _target_of(alert_id: str) -> str | None:
    """The watch workflow id an alert id names, or None for a malformed id."""
    parts = alert_id.split(".")
    if len(parts) != 3:
        return None
    kind, target, _ = parts
    if kind == "price" and re.match(SYMBOL, target):
        return price_watch_id(target)
    if kind == "wallet" and re.match(r"^0x[0-9a-f]{40}$", target):
        return wallet_watch_id(target)
    return None


class AlertService:
    def __init__(self, client: Client, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.tenants = TenantRegistry(client, settings)

    async def create(self, owner: str, req: AlertCreate, suffix: str | None = None) -> AlertCreated:
        """Add the rule; a ``suffix`` (e.g. from a tool's idempotency key) makes a retry add it once."""
        _checked(owner)
        self._check_sane(req)
        suffix = suffix or uuid.uuid4().hex[:10]
        alert_id = (
            f"price.{(req.symbol or '').upper()}.{suffix}"
            if req.kind == "price"
            else f"wallet.{checksum_address(req.address or '', 'address').lower()}.{suffix}"
        )
        cap = int_quota(self.settings, owner, "max_alerts_per_user")
        if not (await self.tenants.reserve(owner, "alert", alert_id, cap)).granted:
            raise refusal(owner, "alerts", cap, "max_alerts_per_user", "delete one first")
        try:
            return await self._create(owner, req, suffix)
        except Exception:
            await self.tenants.release(owner, "alert", alert_id)
            raise

    def _check_sane(self, req: AlertCreate) -> None:
        """Known symbols only (no watch workflow for a feed that does not exist), and thresholds
        a price can reach."""
        known = {s.upper() for s in self.settings.alert_symbols}
        for label, symbol in (("symbol", req.symbol), ("token", req.token)):
            if symbol and symbol.upper() not in known:
                raise BadInputError(
                    f"unknown {label} {symbol!r}: alerts watch {', '.join(sorted(known))} (setting alert_symbols)"
                )
        top = self.settings.alert_max_price
        for label in ("above", "below"):
            value = getattr(req, label)
            if value is not None and value > top:
                raise BadInputError(f"{label} {value} is beyond any price (at most {top}, setting alert_max_price)")

    async def _create(self, owner: str, req: AlertCreate, suffix: str) -> AlertCreated:
        now = datetime.now(UTC)
        if req.kind == "price":
            symbol = (req.symbol or "").upper()
            rule = PriceRule(
                alert_id=f"price.{symbol}.{suffix}",
                owner=owner,
                symbol=symbol,
                above=req.above,
                below=req.below,
                move_pct=req.move_pct,
                window_seconds=req.window_seconds,
                cooldown_seconds=(
                    req.cooldown_seconds if req.cooldown_seconds is not None else self.settings.alert_cooldown_seconds
                ),
                hysteresis_pct=(
                    req.hysteresis_pct if req.hysteresis_pct is not None else self.settings.alert_hysteresis_pct
                ),
                created_at=now,
            )
            await self._add(price_watch_id(symbol), WatchStart(kind="price", target=symbol), AddRule(price=rule))
            return AlertCreated(alert_id=rule.alert_id, kind="price", description=rule.describe())
        address = checksum_address(req.address or "", "address")
        wallet = WalletRule(
            alert_id=f"wallet.{address.lower()}.{suffix}",
            owner=owner,
            address=address,
            direction=req.direction,
            token=req.token.upper() if req.token else None,
            created_at=now,
        )
        await self._add(
            wallet_watch_id(address), WatchStart(kind="wallet", target=address.lower()), AddRule(wallet=wallet)
        )
        return AlertCreated(alert_id=wallet.alert_id, kind="wallet", description=wallet.describe())

    async def _add(self, wid: str, start: WatchStart, add: AddRule) -> None:
        await self.client.start_workflow(
            WatchWorkflow.run,
            start,
            id=wid,
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal="add_rule",
            start_signal_args=[add],
            static_summary=f"watch rules on {start.kind} {start.target}",
        )

    async def list(self, owner: str) -> list[AlertView]:
        """The owner's rules, complete or not at all: their registry names their alerts, and only
        the targets those watch are asked (O(their alerts), whatever others hold). A target that
        does not answer makes the list a 503 (UnavailableError), never a shorter 200."""
        _checked(owner)
        ids = await self.tenants.items(owner, "alert")
        targets = sorted({wid for wid in map(_target_of, ids) if wid is not None})

        async def rules_of(wid: str) -> list[AlertView]:
            try:
                return await self.client.get_workflow_handle(wid).query(
                    WatchWorkflow.rules, owner, rpc_timeout=QUERY_TIMEOUT
                )
            except RPCError as exc:
                if exc.status == RPCStatusCode.NOT_FOUND:
                    return []
                log.warning("alerts: %s did not answer: %s", wid, exc)
                raise UnavailableError(
                    f"the watch rules on {wid} did not answer in time (is a worker running?); "
                    "the list would be incomplete"
                ) from None

        found = await asyncio.gather(*(rules_of(w) for w in targets))
        wanted = set(ids)
        return [a for views in found for a in views if a.alert_id in wanted]

    async def get(self, owner: str, alert_id: str) -> AlertView:
        wid = _target_of(alert_id)
        if wid is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        try:
            views = await self.client.get_workflow_handle(wid).query(
                WatchWorkflow.rules, _checked(owner), rpc_timeout=QUERY_TIMEOUT
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise NotFoundError(f"no alert {alert_id!r}") from None
            raise
        for view in views:
            if view.alert_id == alert_id:
                return view
        raise NotFoundError(f"no alert {alert_id!r}")

    async def delete(self, owner: str, alert_id: str) -> None:
        wid = _target_of(alert_id)
        if wid is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        try:
            removed = await self.client.get_workflow_handle(wid).execute_update(
                WatchWorkflow.remove_rule, RemoveRule(owner=_checked(owner), alert_id=alert_id)
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                await self.tenants.release(owner, "alert", alert_id)
                raise NotFoundError(f"no alert {alert_id!r}") from None
            raise
        await self.tenants.release(owner, "alert", alert_id)  # only ever the caller's own registry
        if not removed:
            raise NotFoundError(f"no alert {alert_id!r}")


def _checked(owner: str) -> str:
    if not isinstance(owner, str) or not USER_NAME.match(owner):
        raise BadInputError(f"invalid owner {owner!r}")
    return owner
