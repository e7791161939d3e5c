"""Signed approvals: only the platform's own front doors (the session service) can approve.

A decision is signed with HMAC-SHA256 over the session id, the call id, the call's
normalised arguments (canonical JSON) and the verdict, with the approval key. The key
comes from settings (``IMPRESSOX_APPROVAL_KEY``) or ``<data_dir>/keys/approval.key``; it
never enters workflow history. The tool activity that moves money verifies the signature
over the very arguments it is about to use, so a decision sent straight through Temporal
(CLI, Web UI, any client without the key) moves nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from core.keys import key_file, read_or_create
from core.settings import Settings

VERSION = "v1"

#: the keys this process's workers verify decisions with, by task queue (set at worker start,
#: read by the session workflow's ``decide_approval`` validator: the module is passed through
#: the workflow sandbox, so the key reaches the validator without ever entering history)
_VERIFYING_KEYS: dict[str, bytes] = {}


def approval_key(settings: Settings) -> bytes:
    """The approval key: from settings, else from the key file (created on first use)."""
    if settings.approval_key is not None:
        return settings.approval_key.get_secret_value().encode()
    text = read_or_create(
        key_file(settings.data_dir, "approval.key"), lambda: base64.b64encode(secrets.token_bytes(32)).decode() + "\n"
    )
    return text.strip().encode()


def canonical_args(args: dict[str, Any]) -> str:
    """One spelling of a call's arguments: sorted keys, no spaces, non-ASCII kept as is."""
    return json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: a decision that also binds the call's on-chain effect (chain id, vault, token, recipient,
#: amount, reference, expiry: PendingApproval.binding)
BOUND_VERSION = "v2"


def _message(
    session_id: str, call_id: str, args: dict[str, Any], approve: bool, binding: dict[str, Any] | None = None
) -> bytes:
    # a JSON array, so no field can bleed into the next (no separator ambiguity)
    fields: list[Any] = [VERSION, session_id, call_id, canonical_args(args), bool(approve)]
    if binding is not None:
        fields = [BOUND_VERSION, *fields[1:], canonical_args(binding)]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()


def sign(
    key: bytes,
    session_id: str,
    call_id: str,
    args: dict[str, Any],
    approve: bool,
    binding: dict[str, Any] | None = None,
) -> str:
    digest = hmac.new(key, _message(session_id, call_id, args, approve, binding), hashlib.sha256).hexdigest()
    return f"{BOUND_VERSION if binding is not None else VERSION}:{digest}"


def verify(
    key: bytes,
    signature: str | None,
    session_id: str,
    call_id: str,
    args: dict[str, Any],
    approve: bool,
    binding: dict[str, Any] | None = None,
) -> bool:
    """Whether ``signature`` is the platform's signature of exactly this decision (constant time)."""
    if not signature:
        return False
    expected = sign(key, session_id, call_id, args, approve, binding)
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", errors="replace"))


def install_verifying_key(task_queue: str, key: bytes) -> None:
    """Let the sessions on ``task_queue`` in this process refuse decisions not signed with ``key``."""
    _VERIFYING_KEYS[task_queue] = key


def verifying_key(task_queue: str) -> bytes | None:
    return _VERIFYING_KEYS.get(task_queue)
