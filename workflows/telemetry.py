"""Workflow-side telemetry: the turn and approval metrics through Temporal's metric meter (which
records nothing while a workflow replays, so a restarted worker never counts a turn twice) and
the turn's trace context (the sender's, carried by its message), under which the turn's node
and tool activities are scheduled, so temporalio's TracingInterceptor puts them in that trace.
Neither is a command: nothing here changes a history."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from opentelemetry import context as otel_context
    from opentelemetry import propagate

    from core.telemetry.metrics import APPROVALS, TURN_SECONDS, TURNS


def record_turn(agent: str, platform: str, outcome: str, sent_at: datetime | None, model: str | None) -> None:
    meter = workflow.metric_meter()
    labels = {"agent": agent, "platform": platform, "outcome": outcome, "model": model or "none"}
    meter.create_counter(TURNS, "Chat turns by agent, platform, outcome and answering model").add(1, labels)
    if sent_at is not None:
        seconds = max(0.0, (workflow.now() - sent_at).total_seconds())
        meter.create_histogram_float(TURN_SECONDS, "From a message's arrival to its answer", "s").record(
            seconds, {"agent": agent, "platform": platform, "outcome": outcome}
        )


def record_approval(tool: str, outcome: str) -> None:
    workflow.metric_meter().create_counter(APPROVALS, "Approval requests by tool and outcome").add(
        1, {"tool": tool, "outcome": outcome}
    )


@contextmanager
def turn_trace(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Schedule the block's activities in the trace of ``carrier`` (W3C headers); no-op without one."""
    if not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(dict(carrier), context=otel_context.get_current()))
    try:
        yield
    finally:
        try:
            otel_context.detach(token)
        except ValueError:  # an evicted workflow's coroutine finalised elsewhere: nothing to detach
            pass
