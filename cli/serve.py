"""``impressox api``: serve the API with uvicorn."""

from __future__ import annotations

import ipaddress
import logging

import uvicorn

from api.app import create_app
from core.settings import Settings

log = logging.getLogger(__name__)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve_api(settings: Settings, port: int | None = None, host: str | None = None) -> int:
    host = host or settings.api_host
    if not settings.api_keys and not _loopback(host):
        log.warning("no API keys configured: binding to 127.0.0.1 instead of %s (one local user)", host)
        host = "127.0.0.1"
    uvicorn.run(create_app(settings), host=host, port=port or settings.api_port, log_level="warning", access_log=False)
    return 0
