"""Narrow what ``SessionService`` returns to what a test waited for (a failed assert shows it)."""

from __future__ import annotations

from core.schemas import ToolCallRecord, TurnResult
from services.sessions import PendingTurn


def done(result: TurnResult | PendingTurn) -> TurnResult:
    """The finished turn of a ``send`` that waited long enough; fails on a ``PendingTurn``."""
    assert isinstance(result, TurnResult), result
    return result


def decided(record: ToolCallRecord | None) -> ToolCallRecord:
    """The outcome of a ``decide`` that waited long enough; fails when the call is still running."""
    assert record is not None, "the approved call did not finish within the wait"
    return record
