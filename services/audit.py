"""Audit bundles: every money-moving call of a session, signed by the platform, verifiable offline.

A bundle holds what the session recorded for each call (the request, the simulation shown, the
signed decision: who, when, from which client; the undo window; the outcome) plus what the chain
says about its transaction (receipt block and status, the vault's ``Spent`` event). The platform
signs the bundle's canonical JSON with its **audit key** (a secp256k1 key used for nothing else)
as an Ethereum personal signature (EIP-191), so anyone can check it with any Ethereum library:
the signer's address is in the bundle, at ``GET /v1/audit/key``, and in ``<data_dir>/keys/audit.key``'s
derived address. ``impressox audit verify FILE [--rpc URL]`` checks the signature and, given a
chain, that every transaction is on-chain with the recorded effect.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak
from web3 import AsyncWeb3

from core.keys import key_file, read_or_create
from core.schemas import AuditEntry
from core.settings import Settings

SCHEME = "eip191-personal-sign"
SPENT_TOPIC = "0x" + keccak(text="Spent(bytes32,address,address,uint256)").hex()


def audit_account(settings: Settings) -> Any:
    """The platform's audit signer: settings ``audit_key``, else ``<data_dir>/keys/audit.key``."""
    if settings.audit_key is not None:
        return Account.from_key(settings.audit_key.get_secret_value().strip())
    text = read_or_create(key_file(settings.data_dir, "audit.key"), lambda: "0x" + secrets.token_hex(32) + "\n")
    return Account.from_key(text.strip())


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value)


async def chain_record(w3: AsyncWeb3, tx_hash: str) -> dict[str, Any]:
    """The receipt's block and status and the vault's Spent events in it, as the chain says now."""
    try:
        receipt = await w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - not found, or no chain: the bundle says so
        return {"found": False, "error": type(exc).__name__}
    spent = []
    for log in receipt["logs"]:
        topics = [_hex(t) for t in log["topics"]]
        if topics and topics[0] == SPENT_TOPIC and len(topics) == 4:
            spent.append(
                {
                    "vault": log["address"],
                    "ref": topics[1],
                    "token": "0x" + topics[2][-40:],
                    "to": "0x" + topics[3][-40:],
                    "amount": str(int(_hex(log["data"]), 16)),
                }
            )
    return {
        "found": True,
        "block_number": int(receipt["blockNumber"]),
        "block_hash": _hex(receipt["blockHash"]),
        "status": int(receipt["status"]),
        "spent_events": spent,
    }


async def build_bundle(
    settings: Settings, session_id: str, entries: list[AuditEntry], w3: AsyncWeb3 | None
) -> dict[str, Any]:
    """The session's audit bundle, its chain records filled in, signed with the audit key."""
    calls = []
    for entry in entries:
        call = entry.model_dump(mode="json")
        tx = (entry.receipt or {}).get("tx_hash")
        if tx and w3 is not None:
            call["chain"] = await chain_record(w3, tx)
        calls.append(call)
    chain_id = int(await w3.eth.chain_id) if w3 is not None else None
    bundle = {
        "session_id": session_id,
        "chain_id": chain_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "calls": calls,
    }
    account = audit_account(settings)
    signed = Account.sign_message(encode_defunct(text=canonical(bundle)), account.key)
    return {
        "bundle": bundle,
        "scheme": SCHEME,
        "signer": account.address,
        "signature": "0x" + bytes(signed.signature).hex(),
    }


def recover_signer(doc: dict[str, Any]) -> str:
    return str(Account.recover_message(encode_defunct(text=canonical(doc["bundle"])), signature=doc["signature"]))


async def verify_bundle(doc: dict[str, Any], w3: AsyncWeb3 | None = None, signer: str | None = None) -> list[str]:
    """What is wrong with a bundle (empty: nothing): the signature, and with ``w3`` the chain."""
    problems: list[str] = []
    try:
        recovered = recover_signer(doc)
    except Exception as exc:  # noqa: BLE001 - a mangled signature
        return [f"the signature does not verify: {exc}"]
    expected = signer or doc.get("signer")
    if not expected or recovered.lower() != str(expected).lower():
        problems.append(f"signed by {recovered}, not by the platform's audit key {expected}")
    if w3 is None:
        return problems
    for call in doc["bundle"].get("calls", []):
        tx = (call.get("receipt") or {}).get("tx_hash")
        if not tx:
            continue
        now = await chain_record(w3, tx)
        was = call.get("chain") or {}
        if not now.get("found"):
            problems.append(f"call {call['call_id']}: transaction {tx} is not on this chain")
            continue
        for key in ("block_number", "status", "spent_events"):
            if key in was and was[key] != now[key]:
                problems.append(f"call {call['call_id']}: {key} recorded {was[key]!r}, the chain says {now[key]!r}")
        binding = call.get("binding") or {}
        if binding and now["status"] == 1:
            match = [
                e
                for e in now["spent_events"]
                if e["to"].lower() == str(binding.get("to", "")).lower() and e["amount"] == str(binding.get("amount"))
            ]
            if not match:
                problems.append(f"call {call['call_id']}: no Spent event pays the approved recipient and amount")
    return problems
