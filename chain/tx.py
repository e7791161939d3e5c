"""Send a transaction and wait for its receipt; a reverted receipt becomes ChainRevertError.

Shared by deploy.py and vault.py. Gas is estimated first, which also surfaces most reverts
(with their custom error) before anything is signed or sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from eth_typing import Hash32
from web3 import AsyncWeb3
from web3 import exceptions as w3x
from web3.types import TxParams

from chain.accounts import Signer
from chain.client import chain_errors, revert_error, to_domain_error
from chain.nonces import NonceManager
from core.errors import ChainUnavailableError

RECEIPT_TIMEOUT_SECONDS = 120.0


async def prepare(w3: AsyncWeb3, signer: Signer, tx: dict[str, Any], action: str) -> dict[str, Any]:
    """Fill chainId, from, gas (estimated, +20 %) and EIP-1559 fees; raises on a simulated revert."""
    tx = {"value": 0, **tx, "from": signer.address}
    with chain_errors(action):
        tx["chainId"] = await w3.eth.chain_id
        if "gas" not in tx:
            tx["gas"] = int(await w3.eth.estimate_gas(cast(TxParams, tx)) * 1.2) + 10_000
        latest = await w3.eth.get_block("latest")
        priority = await w3.eth.max_priority_fee
    base_fee = int(latest.get("baseFeePerGas") or 0)
    tx["maxPriorityFeePerGas"] = priority
    tx["maxFeePerGas"] = 2 * base_fee + priority
    return tx


async def wait_for_receipt(
    w3: AsyncWeb3, tx_hash: bytes, *, timeout: float = RECEIPT_TIMEOUT_SECONDS, poll: float = 0.05
) -> Any:
    """Poll for the receipt; ChainUnavailableError after ``timeout`` (a retry will find the tx)."""
    deadline = time.monotonic() + timeout
    while True:
        with chain_errors("wait for receipt"):
            try:
                return await w3.eth.get_transaction_receipt(Hash32(tx_hash))
            except w3x.TransactionNotFound:
                pass
        if time.monotonic() > deadline:
            raise ChainUnavailableError(f"transaction 0x{tx_hash.hex()} not mined within {timeout:.0f}s")
        await asyncio.sleep(poll)


async def raise_if_reverted(w3: AsyncWeb3, receipt: Any, tx: dict[str, Any], action: str) -> None:
    """Status 0: replay the call at that block to learn the custom error, then raise it."""
    if receipt["status"] == 1:
        return
    call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
    try:
        await w3.eth.call(cast(TxParams, call), block_identifier=receipt["blockNumber"])
    except w3x.ContractLogicError as exc:
        raise (to_domain_error(exc, action) or revert_error(action, None)) from None  # the one mapping
    except Exception:  # noqa: BLE001 - the replay is only for a better message
        pass
    raise revert_error(action, None, f"transaction 0x{bytes(receipt['transactionHash']).hex()} failed")


async def transact(
    w3: AsyncWeb3,
    signer: Signer,
    tx: dict[str, Any],
    *,
    action: str,
    nonces: NonceManager | None = None,
    on_signed: Callable[[bytes], Awaitable[None] | None] | None = None,
    timeout: float = RECEIPT_TIMEOUT_SECONDS,
) -> Any:
    """Estimate, sign, send (nonce-safe) and wait; return the receipt of a successful transaction."""
    full = await prepare(w3, signer, tx, action)
    manager = nonces or NonceManager(w3)

    def sign(nonce: int) -> tuple[bytes, bytes]:
        unsigned = {k: v for k, v in full.items() if k != "from"}  # the key implies the sender
        return signer.sign_transaction({**unsigned, "nonce": nonce})

    tx_hash = await manager.send(signer.address, sign, on_signed=on_signed, action=action)
    receipt = await wait_for_receipt(w3, tx_hash, timeout=timeout)
    await raise_if_reverted(w3, receipt, full, action)
    return receipt
