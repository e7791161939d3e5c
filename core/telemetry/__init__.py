"""Operability of one process: Prometheus metrics (``metrics``), OpenTelemetry traces
(``tracing``) and what calls cost (``cost``). A long-running process calls :func:`start_process`
once, before it connects to Temporal (the SDK's runtime is chosen then)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # core.settings imports core.telemetry.cost
    from core.settings import Settings

log = logging.getLogger(__name__)


def start_process(settings: Settings, role: str) -> str | None:
    """Traces (when an OTLP endpoint is configured) and metrics for the ``role`` process (api, worker,
    listener, bot-telegram ...); returns the URL of its own metrics endpoint, if it has one.

    The API always has ``/metrics`` on its port (and the Temporal SDK's metrics in it; several API
    processes on one port answer it for all of them, see ``metrics``); the other processes serve
    metrics only with a ``metrics_port`` (0: any free port)."""
    from core.telemetry import metrics, tracing

    tracing.setup_tracing(role, settings.otel_endpoint)
    if role != "api" and settings.metrics_port is None:
        return None
    metrics.install_temporal_runtime()
    if settings.metrics_port is None:
        return None
    url = metrics.serve_metrics(settings.metrics_port)
    log.info("%s metrics at %s", role, url)
    return url
