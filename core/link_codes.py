"""Link codes that cannot be read back from Temporal.

A code's LinkCodeWorkflow is found by an HMAC-SHA256 of the code under the link key, kept like
the approval key (settings ``link_code_key``, else ``<data_dir>/keys/link.key``, created on
first use): whoever can list workflows sees the digest but, without the key, cannot test an
8-digit guess against it (a plain SHA-256 of 10^8 codes falls in under a minute).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from core.keys import key_file, read_or_create
from core.settings import Settings


def link_code_key(settings: Settings) -> bytes:
    if settings.link_code_key is not None:
        return settings.link_code_key.get_secret_value().encode()
    text = read_or_create(
        key_file(settings.data_dir, "link.key"), lambda: base64.b64encode(secrets.token_bytes(32)).decode() + "\n"
    )
    return text.strip().encode()


def code_digest(key: bytes, code: str) -> str:
    """What names a code's workflow: 40 hex characters of HMAC-SHA256(key, code)."""
    return hmac.new(key, b"impressox-link-code:" + code.encode(), hashlib.sha256).hexdigest()[:40]
