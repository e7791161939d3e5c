"""Chain event listener (observer): follow new blocks and hand decoded events to async handlers.

    listener = EventListener(w3, deployment, data_dir, confirmations=settings.chain_confirmations)

    @listener.on("AgentVault", "Deposited")
    async def notify_owner(event: ChainEvent) -> None: ...

    await listener.run(stop_event)        # or: await listener.poll_once() in tests

Guarantees:

* a log is handed over only once its block has ``confirmations`` blocks on top (itself included);
* reorgs: the listener remembers recent block hashes; when a remembered block is no longer
  canonical it rewinds to the fork point and rescans, so events in replacement blocks are not
  missed, and every log is checked against the canonical hash of its block before delivery, so
  a log from a dropped block is never delivered;
* each log is delivered once, keyed ``txHash:logIndex``. The cursor, the recent hashes and the
  delivered keys are kept in an atomic JSON file under data_dir, so a restart continues where
  it stopped without redelivering. Delivered keys are bounded: the cursor only moves forward, so
  keys are needed only for logs a rewind can revisit.

A handler that raises stops the poll at that log; the next poll retries it (handlers should be
idempotent anyway, e.g. a Temporal signal-with-start keyed by ``event.key``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from eth_typing import ABIEvent, ChecksumAddress
from eth_utils import event_abi_to_log_topic
from web3 import AsyncWeb3
from web3 import exceptions as w3x

from chain.artifacts import load_artifact
from chain.client import chain_errors
from chain.units import checksum_address
from core.errors import ConfigError, TransientError
from core.files import write_json_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainEvent:
    """One decoded, confirmed contract event."""

    contract: str
    event: str
    args: dict[str, Any]
    address: str
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str

    @property
    def key(self) -> str:
        """The delivery key: ``txHash:logIndex`` (stable across reorgs that re-include the tx)."""
        return f"{self.tx_hash}:{self.log_index}"


Handler = Callable[[ChainEvent], Awaitable[None]]
#: pseudo-contract of plain value transfers (no log): ``on("native", "Transfer")``; their
#: events have ``log_index`` -1 (key ``txHash:-1``) and args ``from``, ``to``, ``value`` (wei)
NATIVE = "native"


@dataclass
class _Watched:
    contract: str
    address: ChecksumAddress
    abi: list[dict[str, Any]]
    handlers: dict[str, list[Handler]] = field(default_factory=dict)
    #: more contracts of the same kind followed since (e.g. every user's vault), see ``follow``
    more: list[ChecksumAddress] = field(default_factory=list)

    @property
    def addresses(self) -> list[ChecksumAddress]:
        return [self.address, *self.more]


def _plain(value: Any) -> Any:
    """web3 values to JSON-friendly ones: bytes -> 0x-hex; nested AttributeDicts -> dicts."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex() if isinstance(value, bytes | bytearray) else str(value)


class EventListener:
    """Delivers confirmed events of the deployment's contracts to registered handlers."""

    def __init__(
        self,
        w3: AsyncWeb3,
        deployment: dict[str, Any],
        data_dir: Path,
        *,
        name: str = "default",
        confirmations: int = 1,
        poll_seconds: float = 1.0,
        start_block: int | None = None,
        max_block_range: int = 2000,
        reorg_window: int = 128,
        keep_delivered: int = 10_000,
        contracts: dict[str, tuple[str, list[dict[str, Any]]]] | None = None,
    ) -> None:
        self.w3 = w3
        self.confirmations = max(1, confirmations)
        self.poll_seconds = poll_seconds
        self.start_block = start_block
        self.max_block_range = max_block_range
        self.reorg_window = reorg_window
        chain_id = deployment.get("chain_id", "unknown")
        self.state_file = Path(data_dir) / f"listener-{chain_id}-{name}.json"
        known: dict[str, tuple[str, list[dict[str, Any]]]] = {
            "AgentVault": (deployment["vault"], load_artifact("AgentVault").abi)
        }
        if deployment.get("token"):
            known["TestToken"] = (deployment["token"], load_artifact("TestToken").abi)
        known.update(contracts or {})
        self._watched = {n: _Watched(n, checksum_address(a, f"{n} address"), abi) for n, (a, abi) in known.items()}
        self._keep_delivered = keep_delivered
        self._next_block: int | None = None
        self._hashes: dict[int, str] = {}
        self._delivered: deque[str] = deque(maxlen=keep_delivered)
        self._delivered_set: set[str] = set()
        self._loaded = False
        self._behind = False  # more confirmed blocks wait beyond the last scanned range
        #: address -> first block, for followed contracts whose past blocks were scanned (persisted)
        self._followed: dict[str, int] = {}
        #: followed contracts whose blocks from their first one still need a scan
        self._to_catch_up: dict[str, int] = {}
        self._native_handlers: list[Handler] = []

    # ---- registration --------------------------------------------------------------------------

    def on(self, contract: str, event: str) -> Callable[[Handler], Handler]:
        """Decorator: call the async handler for each confirmed ``event`` of ``contract``."""
        if contract == NATIVE:
            if event != "Transfer":
                raise ConfigError(f"{NATIVE} has only the event 'Transfer', not {event!r}")

            def register_native(handler: Handler) -> Handler:
                if not asyncio.iscoroutinefunction(handler):
                    raise ConfigError(f"handler {handler!r} for {contract}.{event} must be async")
                self._native_handlers.append(handler)
                return handler

            return register_native
        watched = self._watched.get(contract)
        if watched is None:
            raise ConfigError(f"unknown contract {contract!r}; known: {', '.join(sorted(self._watched))}")
        if not any(i.get("type") == "event" and i["name"] == event for i in watched.abi):
            raise ConfigError(f"{contract} has no event {event!r}")

        def register(handler: Handler) -> Handler:
            if not asyncio.iscoroutinefunction(handler):
                raise ConfigError(f"handler {handler!r} for {contract}.{event} must be async")
            watched.handlers.setdefault(event, []).append(handler)
            return handler

        return register

    def follow(self, contract: str, address: str, from_block: int) -> None:
        """Also deliver ``contract`` events emitted by ``address`` (same ABI and handlers), from
        ``from_block`` on: a contract followed for the first time makes the next poll rescan from
        that block (events already delivered are skipped by their keys), so a deposit made right
        after the contract was created is not missed even if it was added later."""
        watched = self._watched.get(contract)
        if watched is None:
            raise ConfigError(f"unknown contract {contract!r}; known: {', '.join(sorted(self._watched))}")
        address = checksum_address(address, f"{contract} address")
        if address in watched.addresses:
            return
        watched.more.append(address)
        self._to_catch_up[address] = from_block

    def _apply_catch_up(self) -> None:
        """Rewind the cursor for contracts followed since the last poll (once per contract, durably)."""
        pending = {a: b for a, b in self._to_catch_up.items() if a not in self._followed}
        self._to_catch_up.clear()
        if not pending:
            return
        self._followed.update(pending)
        first = min(pending.values())
        if self._next_block is not None and first < self._next_block:
            log.info("listener: rescanning from block %s for %s newly followed contract(s)", first, len(pending))
            self._hashes = {n: h for n, h in self._hashes.items() if n < first}
            self._next_block = first
        self._save()

    def contracts(self) -> list[str]:
        """The names of the contracts this listener watches."""
        return sorted(self._watched)

    @property
    def next_block(self) -> int | None:
        """The first block not yet scanned (None until the first poll)."""
        return self._next_block

    # ---- durable state -------------------------------------------------------------------------

    def _load(self) -> None:
        self._loaded = True
        try:
            raw = json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return
        self._next_block = raw.get("next_block")
        self._hashes = {int(k): v for k, v in raw.get("hashes", {}).items()}
        self._delivered = deque(raw.get("delivered", []), maxlen=self._keep_delivered)
        self._delivered_set = set(self._delivered)
        self._followed = {a: int(b) for a, b in raw.get("followed", {}).items()}

    def _save(self) -> None:
        state = {
            "next_block": self._next_block,
            "hashes": {str(k): v for k, v in sorted(self._hashes.items())},
            "delivered": list(self._delivered),
            "followed": self._followed,
        }
        write_json_atomic(self.state_file, state)

    def _mark_delivered(self, key: str) -> None:
        if len(self._delivered) == self._delivered.maxlen:
            self._delivered_set.discard(self._delivered[0])
        self._delivered.append(key)
        self._delivered_set.add(key)

    # ---- chain reads ---------------------------------------------------------------------------

    async def _hash_of(self, number: int) -> str | None:
        """The canonical hash of block ``number`` now, or None if the chain is shorter."""
        try:
            block = await self.w3.eth.get_block(number)
        except w3x.BlockNotFound:
            return None
        return _hex(block["hash"])

    async def _check_reorg(self) -> bool:
        """Rewind to the fork point if a remembered block was replaced; True if it rewound."""
        if not self._hashes:
            return False
        numbers = sorted(self._hashes, reverse=True)
        if await self._hash_of(numbers[0]) == self._hashes[numbers[0]]:
            return False
        fork = None
        for n in numbers[1:]:
            if await self._hash_of(n) == self._hashes[n]:
                fork = n
                break
        if fork is None:
            fork = numbers[-1] - 1  # deeper than the window: rescan all we remember
            log.error("reorg deeper than the %s remembered blocks; rescanning from %s", len(numbers), fork + 1)
        log.warning("chain reorg: block %s replaced; rewinding the listener to %s", numbers[0], fork + 1)
        self._hashes = {n: h for n, h in self._hashes.items() if n <= fork}
        self._next_block = fork + 1
        self._save()
        return True

    # ---- the step ------------------------------------------------------------------------------

    async def poll_once(self) -> list[ChainEvent]:
        """Scan the next confirmed range once; deliver new events; return what was delivered."""
        if not self._loaded:
            self._load()
        with chain_errors("listener poll"):
            head = await self.w3.eth.block_number
            safe = head - self.confirmations + 1
            if self._next_block is None:
                self._next_block = self.start_block if self.start_block is not None else max(safe + 1, 0)
                self._save()
            self._apply_catch_up()
            await self._check_reorg()
            start = self._next_block
            if safe < start:
                return []
            end = min(safe, start + self.max_block_range - 1)
            self._behind = end < safe
            return await self._scan(start, end)

    async def _scan(self, start: int, end: int) -> list[ChainEvent]:
        end_hash = await self._hash_of(end)
        first = await self.w3.eth.get_block(start)
        remembered_parent = self._hashes.get(start - 1)
        if remembered_parent is not None and _hex(first["parentHash"]) != remembered_parent:
            await self._check_reorg()  # the chain moved under us: rewind, scan next time
            return []
        topics: dict[str, dict[str, tuple[_Watched, str]]] = {}
        for w in self._watched.values():
            for item in w.abi:
                if item.get("type") == "event" and item["name"] in w.handlers:
                    # one signature may be watched on several contracts (e.g. every price feed)
                    by_address = topics.setdefault("0x" + event_abi_to_log_topic(cast(ABIEvent, item)).hex(), {})
                    for address in w.addresses:
                        by_address[address.lower()] = (w, item["name"])
        logs = []
        if topics:
            logs = await self.w3.eth.get_logs(
                {
                    "address": [a for w in self._watched.values() for a in w.addresses],
                    "topics": [list(topics)],
                    "fromBlock": start,
                    "toBlock": end,
                }
            )
        canonical: dict[int, str | None] = {}
        for entry in logs:
            n: int = entry["blockNumber"]
            if n not in canonical:
                canonical[n] = await self._hash_of(n)
            if _hex(entry["blockHash"]) != canonical[n]:
                return []  # a log from a block no longer canonical: never deliver it; retry next poll
        natives = await self._native_transfers(start, end, canonical) if self._native_handlers else []
        if natives is None or await self._hash_of(end) != end_hash:
            return []  # reorg during the scan
        delivered: list[ChainEvent] = []
        for event in natives:  # (a block's value transfers come before its logs)
            if event.key in self._delivered_set:
                continue
            try:
                for handler in self._native_handlers:
                    await handler(event)
            except BaseException:
                self._save()
                raise
            self._mark_delivered(event.key)
            self._save()
            delivered.append(event)
        for entry in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
            topic0 = _hex(entry["topics"][0])
            found = topics.get(topic0, {}).get(entry["address"].lower())
            if found is None:
                continue  # an event of a watched contract nobody handles
            watched, event_name = found
            key = f"{_hex(entry['transactionHash'])}:{entry['logIndex']}"
            if key in self._delivered_set:
                continue
            decoded = getattr(
                self.w3.eth.contract(address=watched.address, abi=watched.abi).events, event_name
            )().process_log(entry)
            event = ChainEvent(
                contract=watched.contract,
                event=event_name,
                args=_plain(dict(decoded["args"])),
                address=checksum_address(entry["address"]),
                tx_hash=_hex(entry["transactionHash"]),
                log_index=entry["logIndex"],
                block_number=entry["blockNumber"],
                block_hash=_hex(entry["blockHash"]),
            )
            try:
                for handler in watched.handlers.get(event_name, []):
                    await handler(event)
            except BaseException:
                self._save()  # the logs delivered before the failing one stay delivered
                raise
            self._mark_delivered(key)
            self._save()
            delivered.append(event)
        for n, h in canonical.items():
            if h is not None:
                self._hashes[n] = h
        self._hashes[start] = _hex(first["hash"])
        if end_hash is not None:
            self._hashes[end] = end_hash
        for n in sorted(self._hashes)[: max(0, len(self._hashes) - self.reorg_window)]:
            del self._hashes[n]
        self._next_block = end + 1
        self._save()
        return delivered

    async def _native_transfers(
        self, start: int, end: int, canonical: dict[int, str | None]
    ) -> list[ChainEvent] | None:
        """Successful plain value transfers in blocks start..end (None: a block left the chain)."""
        out: list[ChainEvent] = []
        for n in range(start, end + 1):
            block = await self.w3.eth.get_block(n, full_transactions=True)
            block_hash = _hex(block["hash"])
            # a block a log came from must be this one; otherwise this fetch is the canonical
            # block now (fetching its hash again would compare the chain with itself)
            if canonical.setdefault(n, block_hash) != block_hash:
                return None
            for tx in cast(list[Any], block["transactions"]):  # full transactions, asked for above
                if not tx.get("to") or int(tx.get("value", 0)) == 0:
                    continue
                receipt = await self.w3.eth.get_transaction_receipt(tx["hash"])
                if int(receipt.get("status", 1)) != 1:
                    continue  # reverted: nothing moved
                out.append(
                    ChainEvent(
                        contract=NATIVE,
                        event="Transfer",
                        args={"from": tx["from"], "to": tx["to"], "value": int(tx["value"])},
                        address=tx["to"],
                        tx_hash=_hex(tx["hash"]),
                        log_index=-1,
                        block_number=n,
                        block_hash=block_hash,
                    )
                )
        return out

    async def run(self, stop_event: asyncio.Event) -> None:
        """Poll until ``stop_event`` is set. Node outages and handler errors are logged and retried."""
        while not stop_event.is_set():
            try:
                await self.poll_once()
                caught_up = not self._behind
            except TransientError as exc:
                log.warning("listener: %s; retrying in %.1fs", exc, self.poll_seconds)
                caught_up = True
            except Exception:
                log.exception("listener: a handler failed; the event will be retried")
                caught_up = True
            if caught_up:
                try:
                    await asyncio.wait_for(stop_event.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass
