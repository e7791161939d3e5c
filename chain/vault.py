"""VaultService: read prices, balances and limits, and make idempotent operator spends.

``spend`` is safe to retry (a Temporal activity retried after a crash or timeout): the vault
refuses a reference twice on-chain, and before sending, the service looks for the transaction
it already sent, first in the chain's ``Spent`` logs (indexed by reference, so any process
finds them), then in the pending record it wrote just before sending (a tx not yet mined).
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress, Hash32
from eth_utils import keccak
from pydantic import BaseModel
from web3 import AsyncWeb3
from web3 import exceptions as w3x

from chain.accounts import Signer
from chain.artifacts import load_artifact
from chain.client import chain_errors, close_web3, make_web3
from chain.deploy import deployment_for
from chain.nonces import NonceManager
from chain.tx import raise_if_reverted, transact, wait_for_receipt
from chain.units import ETH_ADDRESS, checksum_address, from_base_units, to_base_units
from core.errors import BadInputError, ChainRevertError, ChainUnavailableError, ConfigError
from core.files import write_json_atomic


class TokenStatus(BaseModel):
    symbol: str
    address: str
    daily_limit: Decimal
    spent_today: Decimal
    remaining_today: Decimal
    balance: Decimal


class VaultStatus(BaseModel):
    chain_id: int
    vault: str
    owner: str
    operator: str
    version: str
    tokens: list[TokenStatus]
    #: frozen (V3 paused()); None: the vault has no pause switch (V1, V2)
    paused: bool | None = None


class SpendResult(BaseModel):
    tx_hash: str
    block_number: int
    reference: str
    token: str
    to: str
    amount: Decimal
    #: True when this call found an earlier transaction for the reference instead of sending
    already_sent: bool
    #: what the transaction paid for gas (its receipt's gasUsed and effectiveGasPrice), also when
    #: an earlier attempt sent it: the usage ledger counts it once per transaction hash
    gas_used: int = 0
    gas_price_wei: int = 0


def _gas_of(receipt: Any) -> dict[str, int]:
    return {"gas_used": int(receipt["gasUsed"]), "gas_price_wei": int(receipt.get("effectiveGasPrice") or 0)}


def reference_from_key(idempotency_key: str) -> bytes:
    """The on-chain spend reference (bytes32) for an idempotency key: keccak256 of its UTF-8."""
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise BadInputError("idempotency key must be a non-empty string")
    return keccak(text=idempotency_key)


def _reference_bytes(reference: bytes | str) -> bytes:
    if isinstance(reference, str):
        try:
            reference = bytes.fromhex(reference.removeprefix("0x"))
        except ValueError:
            raise BadInputError(f"reference {reference!r} is not hex") from None
    if not isinstance(reference, bytes | bytearray) or len(reference) != 32:
        raise BadInputError("reference must be 32 bytes (use reference_from_key(idempotency_key))")
    return bytes(reference)


class VaultService:
    """Talks to one deployed AgentVault. Read methods need no signer; ``spend`` needs the operator's."""

    def __init__(
        self,
        w3: AsyncWeb3,
        deployment: dict[str, Any],
        signer: Signer | None = None,
        *,
        nonces: NonceManager | None = None,
        confirmations: int = 1,
        pending_dir: Path | None = None,
        receipt_timeout: float = 120.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.signer = signer
        self.nonces = nonces or NonceManager(w3)
        self.confirmations = max(1, confirmations)
        self.pending_dir = pending_dir
        self.receipt_timeout = receipt_timeout
        self.poll_seconds = poll_seconds
        self.vault_address = checksum_address(deployment["vault"], "vault")
        self.vault = w3.eth.contract(address=self.vault_address, abi=load_artifact("AgentVault").abi)
        #: the same proxy seen through the V3 ABI (pause switch, time lock); a V1/V2 vault has none
        self.safety = w3.eth.contract(address=self.vault_address, abi=load_artifact("AgentVaultV3").abi)
        self._erc20_abi = load_artifact("TestToken").abi
        self._feed_abi = load_artifact("MockPriceFeed").abi
        self._decimals: dict[str, int] = {ETH_ADDRESS: 18}
        self._pending: dict[bytes, bytes] = {}  # reference -> tx hash sent by this process
        self._owns_w3 = False

    @classmethod
    async def connect(
        cls,
        rpc_url: str,
        data_dir: Path,
        *,
        signer: Signer | None = None,
        redis: Any | None = None,
        confirmations: int = 1,
    ) -> VaultService:
        """Open a client for ``rpc_url`` and use the deployment recorded in ``data_dir``; close() it after."""
        w3 = make_web3(rpc_url)
        try:
            with chain_errors("read chain id"):
                chain_id = await w3.eth.chain_id
            deployment = deployment_for(Path(data_dir), chain_id)
            if deployment is None:
                raise ConfigError(f"no vault deployed on chain {chain_id} per {data_dir}: run `impressox chain deploy`")
        except BaseException:
            await close_web3(w3)
            raise
        service = cls(
            w3,
            deployment,
            signer,
            nonces=NonceManager(w3, redis=redis),
            confirmations=confirmations,
            pending_dir=Path(data_dir) / "pending-spends",
        )
        service._owns_w3 = True
        return service

    async def close(self) -> None:
        if self._owns_w3:
            await close_web3(self.w3)

    # ---- tokens ------------------------------------------------------------------------------

    def tokens(self) -> dict[str, str]:
        """Known token symbols -> addresses (ETH is the zero address)."""
        known = {"ETH": ETH_ADDRESS}
        known.update({s.upper(): a for s, a in (self.deployment.get("tokens") or {}).items()})
        return known

    def token_address(self, symbol: str) -> ChecksumAddress:
        if not isinstance(symbol, str) or symbol.upper() not in self.tokens():
            raise BadInputError(f"unknown token {symbol!r}; known tokens: {', '.join(sorted(self.tokens()))}")
        return checksum_address(self.tokens()[symbol.upper()])

    async def _token_decimals(self, address: ChecksumAddress) -> int:
        if address not in self._decimals:
            token = self.w3.eth.contract(address=address, abi=self._erc20_abi)
            with chain_errors(f"read decimals of {address}"):
                self._decimals[address] = int(await token.functions.decimals().call())
        return self._decimals[address]

    # ---- reads -------------------------------------------------------------------------------

    async def price(self, symbol: str) -> Decimal:
        """USD price from the symbol's AggregatorV3 feed (latestRoundData / 10**decimals)."""
        feeds = {s.upper(): a for s, a in (self.deployment.get("price_feeds") or {}).items()}
        if not isinstance(symbol, str) or symbol.upper() not in feeds:
            raise BadInputError(f"no price feed for {symbol!r}; known: {', '.join(sorted(feeds)) or 'none'}")
        feed = self.w3.eth.contract(address=checksum_address(feeds[symbol.upper()]), abi=self._feed_abi)
        with chain_errors(f"read {symbol} price"):
            decimals = await feed.functions.decimals().call()
            _, answer, _, _, _ = await feed.functions.latestRoundData().call()
        if answer <= 0:
            raise ChainRevertError(f"the {symbol} price feed returned a non-positive answer ({answer})")
        return from_base_units(answer, decimals)

    async def balance(self, address: str | None = None, token_symbol: str = "ETH") -> Decimal:
        """Balance of ``address`` (None = the vault) in whole units of ``token_symbol``."""
        holder = self.vault_address if address is None else checksum_address(address)
        token = self.token_address(token_symbol)
        with chain_errors(f"read {token_symbol} balance"):
            if token == ETH_ADDRESS:
                raw = await self.w3.eth.get_balance(holder)
            else:
                raw = await self.w3.eth.contract(address=token, abi=self._erc20_abi).functions.balanceOf(holder).call()
        return from_base_units(raw, await self._token_decimals(token))

    async def status(self) -> VaultStatus:
        """Owner, operator, version, and per token: limit, spent today, remaining, balance."""
        f = self.vault.functions
        with chain_errors("read vault status"):
            chain_id = await self.w3.eth.chain_id
            owner, operator, version = (
                await f.owner().call(),
                await f.operator().call(),
                await f.version().call(),
            )
            tokens = []
            for symbol, address in sorted(self.tokens().items()):
                address = checksum_address(address)
                decimals = await self._token_decimals(address)
                limit = await f.dailyLimit(address).call()
                spent = await f.spentToday(address).call()
                tokens.append(
                    TokenStatus(
                        symbol=symbol,
                        address=address,
                        daily_limit=from_base_units(limit, decimals),
                        spent_today=from_base_units(spent, decimals),
                        remaining_today=from_base_units(max(limit - spent, 0), decimals),
                        balance=await self.balance(None, symbol),
                    )
                )
        return VaultStatus(
            chain_id=chain_id,
            vault=self.vault_address,
            owner=owner,
            operator=operator,
            version=version,
            tokens=tokens,
            paused=await self.paused(),
        )

    async def paused(self) -> bool | None:
        """Whether the vault is frozen (V3 ``paused()``); None when it has no pause switch (V1, V2)."""
        with chain_errors("read vault version"):
            version = await self.vault.functions.version().call()
        if str(version) in ("1", "2"):
            return None
        with chain_errors("read paused"):
            return bool(await self.safety.functions.paused().call())

    async def pause(self) -> str | None:
        """Freeze the vault on-chain with the operator's key (V3 lets the operator pause, only the
        owner unpause); returns the transaction hash, None when it was paused already."""
        if self.signer is None:
            raise ConfigError("no operator signer configured (chain_keystore_file or chain_operator_key)")
        state = await self.paused()
        if state is None:
            raise BadInputError(
                f"vault {self.vault_address} has no pause switch (version 1 or 2): its owner can upgrade it to "
                "AgentVaultV3 (`impressox chain upgrade`)"
            )
        if state:
            return None
        receipt = await transact(
            self.w3,
            self.signer,
            {"to": self.vault_address, "data": self.safety.encode_abi("pause", args=[])},
            action="freeze the vault",
            nonces=self.nonces,
            timeout=self.receipt_timeout,
        )
        return "0x" + bytes(receipt["transactionHash"]).hex()

    async def reference_used(self, reference: bytes | str) -> bool:
        with chain_errors("read reference"):
            return bool(await self.vault.functions.referenceUsed(_reference_bytes(reference)).call())

    # ---- spend -------------------------------------------------------------------------------

    async def spend(self, reference: bytes | str, token_symbol: str, to: str, amount: Decimal | str) -> SpendResult:
        """Pay ``amount`` of ``token_symbol`` from the vault to ``to``, exactly once per ``reference``.

        Retrying with the same reference returns the first transaction (``already_sent=True``).
        A revert raises ChainRevertError named after the contract error (e.g. LimitExceeded).
        """
        ref = _reference_bytes(reference)
        token = self.token_address(token_symbol)
        recipient = checksum_address(to, "recipient")
        base = to_base_units(amount, await self._token_decimals(token))
        if self.signer is None:
            raise ConfigError("no operator signer configured (chain_keystore_file or chain_operator_key)")

        earlier = await self._find_sent(ref)
        if earlier is not None:
            return await self._confirmed(self._check_same(earlier, token, recipient, base, token_symbol))

        data = self.vault.encode_abi("spend", args=[ref, token, recipient, base])
        action = f"spend {amount} {token_symbol.upper()} to {recipient}"
        try:
            receipt = await transact(
                self.w3,
                self.signer,
                {"to": self.vault_address, "data": data},
                action=action,
                nonces=self.nonces,
                on_signed=lambda tx_hash: self._record_pending(ref, tx_hash),
                timeout=self.receipt_timeout,
            )
        except ChainRevertError as exc:
            # Another process (or a lost reply) got there first: report that payment, not an error.
            if getattr(exc, "error_name", "") == "ReferenceUsed":
                earlier = await self._find_sent(ref)
                if earlier is not None:
                    return await self._confirmed(self._check_same(earlier, token, recipient, base, token_symbol))
            raise
        result = SpendResult(
            tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
            block_number=receipt["blockNumber"],
            reference="0x" + ref.hex(),
            token=token_symbol.upper(),
            to=recipient,
            amount=from_base_units(base, await self._token_decimals(token)),
            already_sent=False,
            **_gas_of(receipt),
        )
        self._forget_pending(ref)
        return await self._confirmed(result)

    async def _find_sent(self, ref: bytes) -> SpendResult | None:
        """A spend already made for ``ref``: a Spent log on chain, or a pending tx this process recorded."""
        spent_event = self.vault.events.Spent()
        topic = "0x" + keccak(text="Spent(bytes32,address,address,uint256)").hex()
        with chain_errors("look up earlier spend"):
            logs = await self.w3.eth.get_logs(
                {
                    "address": self.vault_address,
                    "topics": [topic, "0x" + ref.hex()],
                    "fromBlock": int(self.deployment.get("deployed_block", 0)),
                    "toBlock": "latest",
                }
            )
        if logs:
            ev = spent_event.process_log(logs[-1])
            return await self._result_from_event(ev, ref)
        tx_hash = self._pending.get(ref) or self._read_pending(ref)
        if tx_hash is None:
            return None
        with chain_errors("look up pending spend"):
            try:
                sent = await self.w3.eth.get_transaction(Hash32(tx_hash))
            except w3x.TransactionNotFound:
                self._forget_pending(ref)  # dropped by the node: sending again is safe
                return None
        receipt = await wait_for_receipt(self.w3, tx_hash, timeout=self.receipt_timeout)
        if receipt["status"] != 1:
            self._forget_pending(ref)
            replay = {"from": sent["from"], "to": sent["to"], "data": sent["input"], "value": sent["value"]}
            await raise_if_reverted(self.w3, receipt, replay, "earlier spend")
        for log in receipt["logs"]:
            try:
                ev = spent_event.process_log(log)
            except Exception:  # noqa: BLE001 - other events in the receipt (e.g. ERC20 Transfer)
                continue
            if bytes(ev["args"]["ref"]) == ref:
                return await self._result_from_event(ev, ref)
        return None

    async def _result_from_event(self, ev: Any, ref: bytes) -> SpendResult:
        token = checksum_address(ev["args"]["token"])
        symbol = next((s for s, a in self.tokens().items() if a.lower() == token.lower()), token)
        with chain_errors("read the earlier spend's receipt"):
            receipt = await self.w3.eth.get_transaction_receipt(ev["transactionHash"])
        return SpendResult(
            tx_hash="0x" + bytes(ev["transactionHash"]).hex(),
            block_number=ev["blockNumber"],
            reference="0x" + ref.hex(),
            token=symbol,
            to=ev["args"]["to"],
            amount=from_base_units(ev["args"]["amount"], await self._token_decimals(token)),
            already_sent=True,
            **_gas_of(receipt),
        )

    def _check_same(self, earlier: SpendResult, token: str, to: str, base: int, symbol: str) -> SpendResult:
        same = earlier.token == symbol.upper() and earlier.to == to
        if not same or to_base_units(earlier.amount, self._decimals[token], allow_zero=True) != base:
            raise BadInputError(
                f"reference {earlier.reference} was already used for {earlier.amount} {earlier.token} "
                f"to {earlier.to} (tx {earlier.tx_hash}); a different payment needs a new idempotency key"
            )
        return earlier

    async def _confirmed(self, result: SpendResult) -> SpendResult:
        """Wait until the block holding the spend has ``confirmations`` blocks on top (itself included)."""
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            with chain_errors("wait for confirmations"):
                head = await self.w3.eth.block_number
            if head - result.block_number + 1 >= self.confirmations:
                return result
            if time.monotonic() > deadline:
                raise ChainUnavailableError(
                    f"spend {result.tx_hash} has {head - result.block_number + 1} of {self.confirmations} confirmations"
                )
            await asyncio.sleep(self.poll_seconds)

    # ---- pending record (survives a crash between sending and seeing the receipt) -------------

    def _pending_path(self, ref: bytes) -> Path | None:
        return self.pending_dir / f"{ref.hex()}.json" if self.pending_dir else None

    def _record_pending(self, ref: bytes, tx_hash: bytes) -> None:
        self._pending[ref] = tx_hash
        path = self._pending_path(ref)
        if path is None:
            return
        write_json_atomic(path, {"tx_hash": "0x" + tx_hash.hex()})

    def _read_pending(self, ref: bytes) -> bytes | None:
        path = self._pending_path(ref)
        if path is None or not path.exists():
            return None
        try:
            return bytes.fromhex(json.loads(path.read_text())["tx_hash"].removeprefix("0x"))
        except (ValueError, KeyError):
            return None

    def _forget_pending(self, ref: bytes) -> None:
        self._pending.pop(ref, None)
        path = self._pending_path(ref)
        if path is not None:
            path.unlink(missing_ok=True)
