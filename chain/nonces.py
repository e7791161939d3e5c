"""Nonce management: several workers sending from the same operator must not collide.

Three layers, each covering what the previous cannot:

* an asyncio lock per address serialises senders inside one process;
* a Redis lock per (chain, address), when a redis client is given, serialises processes;
* without Redis, two processes can still pick the same nonce: the node answers "nonce too low"
  (or "replacement transaction underpriced"), and we re-read the nonce and retry.

The lock is held from reading the nonce until the node has accepted the transaction, so the
node's pending count is the source of truth and no counter has to be stored anywhere.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from eth_typing import ChecksumAddress
from web3 import AsyncWeb3
from web3 import exceptions as w3x

from chain.client import chain_errors, rpc_message
from core.errors import ChainUnavailableError

log = logging.getLogger(__name__)

# Node messages meaning "another sender took this nonce first": re-read it and try again.
_NONCE_CONFLICTS = ("nonce too low", "replacement transaction underpriced", "nonce has already been used")
# The node already holds this exact signed transaction: it was sent before, which is success.
_ALREADY_KNOWN = ("already known", "known transaction", "already imported")


class NonceManager:
    """Hands out nonces for signer addresses and sends raw transactions without collisions."""

    def __init__(
        self,
        w3: AsyncWeb3,
        *,
        redis: Any | None = None,
        lock_timeout: float = 30.0,
        max_attempts: int = 8,
        namespace: str = "impressox:nonce",
    ) -> None:
        self._w3 = w3
        self._redis = redis
        self._lock_timeout = lock_timeout
        self._max_attempts = max_attempts
        self._namespace = namespace
        self._locks: dict[str, asyncio.Lock] = {}
        self.conflicts = 0  # how many "nonce too low" retries happened (for tests and metrics)

    def _local_lock(self, address: str) -> asyncio.Lock:
        return self._locks.setdefault(address.lower(), asyncio.Lock())

    async def send(
        self,
        address: ChecksumAddress,
        sign: Callable[[int], tuple[bytes, bytes]],
        *,
        on_signed: Callable[[bytes], Awaitable[None] | None] | None = None,
        action: str = "send transaction",
    ) -> bytes:
        """Pick a nonce, ``sign(nonce) -> (raw, hash)``, send; retry on nonce conflicts. Returns the hash.

        ``on_signed(hash)`` runs before the raw transaction leaves, so a caller can record what
        it is about to send (an idempotent retry then finds it even if the reply is lost).
        """
        for attempt in range(1, self._max_attempts + 1):
            async with self._local_lock(address):
                redis_lock = None
                if self._redis is not None:
                    chain_id = await self._w3.eth.chain_id
                    redis_lock = self._redis.lock(
                        f"{self._namespace}:{chain_id}:{address.lower()}",
                        timeout=self._lock_timeout,
                        blocking_timeout=self._lock_timeout,
                        sleep=0.005,  # redis-py polls the lock; its 0.1 s default would add latency per send
                    )
                    if not await redis_lock.acquire():
                        raise ChainUnavailableError(f"{action}: timed out waiting for the nonce lock of {address}")
                try:
                    with chain_errors(f"{action}: read nonce"):
                        nonce = await self._w3.eth.get_transaction_count(address, "pending")
                    raw, tx_hash = sign(nonce)
                    if on_signed is not None:
                        maybe = on_signed(tx_hash)
                        if maybe is not None:
                            await maybe
                    try:
                        with chain_errors(action):
                            try:
                                await self._w3.eth.send_raw_transaction(raw)
                            except w3x.Web3RPCError as exc:
                                message = rpc_message(exc).lower()
                                if any(k in message for k in _ALREADY_KNOWN):
                                    return tx_hash
                                if any(k in message for k in _NONCE_CONFLICTS):
                                    raise _NonceConflict(message) from exc
                                raise
                        return tx_hash
                    except _NonceConflict as conflict:
                        self.conflicts += 1
                        log.info("nonce %s of %s taken (%s); retry %s", nonce, address, conflict, attempt)
                finally:
                    if redis_lock is not None:
                        try:
                            await redis_lock.release()
                        except Exception:  # noqa: BLE001 - lock expired already; its timeout freed it
                            log.warning("nonce lock for %s had expired before release", address)
            await asyncio.sleep(0.02 * attempt)  # let the other sender's transaction land
        raise ChainUnavailableError(f"{action}: gave up after {self._max_attempts} nonce conflicts for {address}")


class _NonceConflict(Exception):
    pass
