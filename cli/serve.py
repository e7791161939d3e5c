"""``impressox api``: serve the API with uvicorn, in one process or in ``--workers N``.

With several workers uvicorn's manager binds the port once and each worker process builds its own
app (``app_from_environment``) from the same settings and stack file, so any of them serves any
session: sessions live in Temporal, streams, rate limits and caches in Redis. Their metrics are
one: this process gives them a fresh ``PROMETHEUS_MULTIPROC_DIR`` before they start, removed when
they stop, and any of them answers ``/metrics`` for all (see ``core.telemetry.metrics``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import tempfile

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from core.settings import Settings, load_settings
from core.telemetry.metrics import MULTIPROC_ENV

log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker process: settings as ``impressox api`` resolved them."""
    from devstack.processes import die_with_parent
    from devstack.stackfile import with_stack

    die_with_parent()  # a worker of uvicorn's manager: gone with it, even on its kill -9
    from core.telemetry import start_process
    from core.telemetry.metrics import join_api_processes

    settings, _ = with_stack(load_settings(), os.environ)
    start_process(settings, "api")  # each process traces for itself
    join_api_processes()  # and counts with the others: /metrics answers for all of them
    return create_app(settings)


def serve_api(settings: Settings, port: int | None = None, host: str | None = None, workers: int = 1) -> int:
    host = host or settings.api_host
    if not settings.api_keys and not _loopback(host):
        log.warning("no API keys configured: binding to 127.0.0.1 instead of %s (one local user)", host)
        host = "127.0.0.1"
    port = port or settings.api_port
    if workers > 1:
        # a fresh directory for this run's metrics, in the environment before the worker processes
        # start (prometheus_client reads it when imported there; this process imported it already
        # and keeps counting in memory: it serves no request)
        metrics_dir = tempfile.mkdtemp(prefix="impressox-api-metrics-")
        os.environ[MULTIPROC_ENV] = metrics_dir
        try:
            # each worker process loads the settings again: they come from the same files and environment
            uvicorn.run(
                "cli.serve:app_from_environment",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
            )
        finally:
            del os.environ[MULTIPROC_ENV]
            shutil.rmtree(metrics_dir, ignore_errors=True)
        return 0
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", access_log=False)
    return 0
