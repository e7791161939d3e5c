"""``impressox audit verify FILE [--rpc URL] [--signer ADDRESS]``: check an audit bundle offline.

The signature is checked against the signer the bundle names (or ``--signer``, the platform's
audit address from ``GET /v1/audit/key``: pass it, since a forger would name their own key); with
``--rpc`` every transaction hash must be on that chain with the recorded block, status and Spent
event paying the approved recipient and amount.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from chain.client import close_web3, make_web3
from core.errors import BadInputError
from services.audit import verify_bundle


def verify_file(path: str, rpc: str | None, signer: str | None) -> int:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot read the bundle {path}: {exc}") from None

    async def check() -> list[str]:
        w3 = make_web3(rpc) if rpc else None
        try:
            return await verify_bundle(doc, w3, signer)
        finally:
            if w3 is not None:
                await close_web3(w3)

    problems = asyncio.run(check())
    calls = len(doc.get("bundle", {}).get("calls", []))
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return 1
    where = f" and on-chain at {rpc}" if rpc else ""
    print(f"OK: {calls} call(s), signed by {doc.get('signer')}{where}")
    return 0
