"""Audit trail: a session's money-moving calls as a bundle signed by the platform's audit key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import Sessions, User
from api.schemas import ErrorOut
from services.audit import SCHEME, audit_account, build_bundle

router = APIRouter(prefix="/v1", tags=["audit"], responses={404: {"model": ErrorOut}})


@router.get("/sessions/{session_id}/audit")
async def session_audit(session_id: str, user: User, sessions: Sessions, request: Request) -> dict[str, Any]:
    """Every money-moving call of the session (request, simulation shown, signed decision, undo
    window, transaction, receipt, the vault's Spent event), signed with the platform's audit key
    (EIP-191 personal signature over the bundle's canonical JSON). `impressox audit verify FILE`
    checks it; the signer's address is also at GET /v1/audit/key."""
    entries = await sessions.audit(user, session_id)
    vaults = request.app.state.vaults
    w3 = vaults.chain_client() if vaults.settings.chain_rpc_url else None
    return await build_bundle(vaults.settings, session_id, entries, w3)


@router.get("/audit/key")
async def audit_key(request: Request) -> dict[str, str]:
    """The address whose signature every audit bundle of this platform carries."""
    return {"scheme": SCHEME, "address": audit_account(request.app.state.vaults.settings).address}
