"""The daily budget's gate: every turn is admitted here before its message is delivered
(``SessionService.send``: the API, the bots, the CLI and the schedules). The ledger and the
admission rule are core/ledger.py's."""

from __future__ import annotations

from core.errors import BudgetExceededError
from core.ledger import UsageLedger, resets_at
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.telemetry import metrics


def budget_message(spent: float, budget: float, resets: str) -> str:
    """The words every surface shows (REST's detail, the bots' reply, a schedule's failed run)."""
    return (
        f"Your daily budget of {budget:g} USD is spent ({spent:.4g} USD today); "
        f"new turns are refused until it resets at {resets}."
    )


class BudgetGate:
    def __init__(self, settings: Settings, ledger: UsageLedger | None = None) -> None:
        self.settings = settings
        self.ledger = ledger or UsageLedger(settings.redis_url, redis_prefix(settings))

    def enabled_for(self, user: str) -> bool:
        return self.settings.budget_for(user) is not None

    async def admit(self, user: str, message_id: str) -> None:
        """Hold the user's budget for one turn, or raise BudgetExceededError (429 over REST)."""
        budget = self.settings.budget_for(user)
        if budget is None:
            return
        admission = await self.ledger.admit(user, message_id, budget)
        if not admission.admitted:
            metrics.BUDGET_REFUSALS.inc()
            resets = resets_at(admission.day).isoformat().replace("+00:00", "Z")
            raise BudgetExceededError(budget_message(admission.spent_usd, budget, resets), resets)

    async def release(self, user: str, message_id: str) -> None:
        if self.enabled_for(user):
            await self.ledger.release(user, message_id)
