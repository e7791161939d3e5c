"""API keys, held and compared as SHA-256 digests (bytes).

Comparing digests means no presented key, however odd (non-ASCII, control characters, 10 KB
long), can raise: ``hmac.compare_digest`` on two ``str`` raises TypeError for non-ASCII input,
which once answered 500. The secrets themselves are not kept in the ring.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

from core.settings import ApiKey

BEARER = "bearer "


def _digest(value: str) -> bytes:
    # header values arrive decoded as latin-1 (every byte maps to one character), so this gives back
    # the bytes the client sent; a configured key (any str) is hashed as UTF-8, which matches them
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogatepass")
    return hashlib.sha256(raw).digest()


class KeyRing:
    """Who a presented key belongs to. Empty ring: keyless mode (one local user on loopback)."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._users = [(hashlib.sha256(k.key.get_secret_value().encode()).digest(), k.user) for k in keys]

    def __bool__(self) -> bool:
        return bool(self._users)

    def user_for(self, presented: str) -> str | None:
        digest = _digest(presented)
        found = None
        for known, user in self._users:  # no early exit: the time taken does not tell which key matched
            if hmac.compare_digest(known, digest):
                found = user
        return found


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key a request presents: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``."""
    key = headers.get("x-api-key")
    if key:
        return key
    authorization = headers.get("authorization") or ""
    if authorization[: len(BEARER)].lower() == BEARER:
        return authorization[len(BEARER) :].strip() or None
    return None
