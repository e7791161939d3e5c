"""The front door: loopback-only Host headers in keyless mode, and security headers on every answer.

Keyless mode serves one local user without a key, so it must only ever be reached as loopback: a
page on attacker.example whose DNS name is re-bound to 127.0.0.1 sends ``Host: attacker.example``
and is refused (421), so it can neither read sessions nor post approvals. Every response forbids
framing and sniffing and sends no referrer; HTML pages get a Content-Security-Policy that allows
only this origin and the page's own inline blocks, by hash (``csp_for``).
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import send_json_error

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
#: for responses that set none (JSON, assets): nothing may run or be framed
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_INLINE = re.compile(r"<(script|style)(?:\s[^>]*)?>(.*?)</\1\s*>", re.DOTALL | re.IGNORECASE)
_HAS_SRC = re.compile(r"<script\s[^>]*\bsrc\s*=", re.IGNORECASE)


def csp_for(html: str, inline_styles: bool = False) -> str:
    """A strict CSP for one HTML page: this origin only, plus the page's inline <script> and
    <style> blocks by their SHA-256 (so an injected block never runs). ``inline_styles`` allows
    style attributes and injected <style> (Swagger UI needs them; styles cannot run code)."""
    scripts: list[str] = []
    styles: list[str] = []
    for match in _INLINE.finditer(html):
        tag, body = match.group(1).lower(), match.group(2)
        if tag == "script" and _HAS_SRC.match(match.group(0)):
            continue
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        (scripts if tag == "script" else styles).append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'self'",
            " ".join(["script-src 'self'", *scripts]),
            "style-src 'self' 'unsafe-inline'" if inline_styles else " ".join(["style-src 'self'", *styles]),
            "img-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",  # ReDoc's search runs in a worker made from a blob
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def host_name(host: str) -> str:
    """``Host`` without its port, lower-cased (``[::1]:8000`` -> ``[::1]``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class FrontDoor:
    """ASGI middleware: Host check (keyless mode only) and security headers."""

    def __init__(self, app: ASGIApp, loopback_only: bool) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.loopback_only and host_name(Headers(scope=scope).get("host", "")) not in LOOPBACK_HOSTS:
            await send_json_error(
                send,
                421,
                "this API has no API keys configured, so it serves only localhost, 127.0.0.1 and [::1]",
                SECURITY_HEADERS,
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
            await send(message)

        await self.app(scope, receive, send_with_headers)
