"""On-chain tools: token prices (Chainlink-style feeds), balances, vault status, transfers.

``transfer`` moves money: it needs the user's approval (the session workflow waits for
it) and the vault contract enforces the daily limit on-chain. Its reference is derived
from the idempotency key, so a retried activity finds its transaction instead of paying twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

from chain.simulation import REVERT_WORDS, plain, simulate_spend
from chain.units import ETH_ADDRESS, MAX_AMOUNT, checksum_address, parse_amount, to_base_units
from chain.vault import VaultService, reference_from_key
from core.errors import BadInputError, ChainRevertError, ImpressoxError, PermanentError
from core.telemetry import metrics
from core.tools import GasPaid, ToolContext, ToolResult
from services.tools import chain_phrases  # noqa: F401  (how the offline model understands these tools)
from services.tools.deps import WorkerDeps
from services.tools.registry import tools

SYMBOL = r"^[A-Za-z][A-Za-z0-9]{1,9}$"


class NoVaultError(PermanentError):
    """The caller owns no vault on this platform."""


NO_VAULT = (
    "register one with POST /v1/vault "
    '{"owner_address": "0x<your wallet address>"} (your wallet owns it; the agent may only spend within its limits)'
)


async def _vault(ctx: ToolContext[WorkerDeps], *, own: bool = True) -> VaultService:
    """The caller's own vault (``own``), or any vault service for reads that are not about a vault."""
    access = ctx.deps.chain if ctx.deps else None
    if access is None:
        raise PermanentError("no chain is configured for this platform")
    if not own:
        return await access.vault()
    vault = await access.vault_of(ctx.owner)
    if vault is None:
        raise NoVaultError(f"user {ctx.owner!r} has no vault on this platform yet: {NO_VAULT}")
    return vault


def _amount(value: Decimal) -> str:
    return f"{value:,.6f}".rstrip("0").rstrip(".") if value != value.to_integral_value() else f"{value:,.0f}"


class PriceArgs(BaseModel):
    symbol: str = Field(pattern=SYMBOL, description="Token symbol, e.g. ETH, BTC")


@tools.register(cache_ttl_seconds=15, timeout_seconds=20)
async def get_token_price(args: PriceArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """The USD price of a token from its on-chain price feed (Chainlink AggregatorV3)."""
    vault = await _vault(ctx, own=False)
    price = await vault.price(args.symbol.upper())
    return ToolResult(
        output=f"{args.symbol.upper()} is ${price:,.2f} (on-chain price feed).",
        data={"symbol": args.symbol.upper(), "usd": str(price)},
    )


class BalanceArgs(BaseModel):
    address: str | None = Field(default=None, description="An address; empty = your vault")
    token: str | None = Field(
        default=None, pattern=SYMBOL, description="ETH or an ERC-20 symbol such as TUSD; empty = every known token"
    )

    @field_validator("address")
    @classmethod
    def _address(cls, v: str | None) -> str | None:
        return None if v in (None, "") else checksum_address(v)


@tools.register(timeout_seconds=20)
async def get_balance(args: BalanceArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """The balance of an address, or of your vault when no address is given: in one token when
    one is named, else ETH and every other known token it holds."""
    vault = await _vault(ctx, own=args.address is None)
    who = "Your vault" if args.address is None else args.address
    holder = args.address or vault.vault_address
    if args.token:
        token = args.token.upper()
        amount = await vault.balance(args.address, token)
        return ToolResult(
            output=f"{who} holds {_amount(amount)} {token}.",
            data={"address": holder, "token": token, "amount": str(amount), "balances": {token: str(amount)}},
        )
    balances = {symbol: await vault.balance(args.address, symbol) for symbol in vault.tokens()}
    # ETH always (it pays for everything), other tokens when there is some
    shown = [f"{_amount(amount)} {symbol}" for symbol, amount in balances.items() if symbol == "ETH" or amount]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return ToolResult(
        output=f"{who} holds {listed}.",
        data={"address": holder, "balances": {symbol: str(amount) for symbol, amount in balances.items()}},
    )


class VaultStatusArgs(BaseModel):
    pass


@tools.register(timeout_seconds=20)
async def vault_status(args: VaultStatusArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Your vault: its balances, daily spend limits and what was spent today."""
    status = await (await _vault(ctx)).status()
    parts = [
        f"{t.symbol}: balance {_amount(t.balance)}, daily limit {_amount(t.daily_limit)}, "
        f"spent today {_amount(t.spent_today)}, left today {_amount(t.remaining_today)}"
        for t in status.tokens
    ]
    return ToolResult(
        output=f"Vault {status.vault} (v{status.version}): " + "; ".join(parts) + ".",
        data=status.model_dump(mode="json"),
    )


class TransferArgs(BaseModel):
    to: str = Field(description="Recipient address (0x...)")
    amount: str = Field(description="Amount in whole units as a decimal string, e.g. '0.05'")
    token: str = Field(default="ETH", pattern=SYMBOL, description="ETH or an ERC-20 symbol such as TUSD")

    @field_validator("to")
    @classmethod
    def _to(cls, v: str) -> str:
        to = checksum_address(v, "recipient")
        if to == ETH_ADDRESS:
            raise BadInputError("the recipient is the zero address: whatever is sent there is lost for good")
        return to

    @field_validator("amount", mode="before")
    @classmethod
    def _amount(cls, v: object) -> str:
        amount = parse_amount(v if not isinstance(v, int | float) or isinstance(v, bool) else str(v))
        if amount <= 0:
            raise BadInputError(f"amount {v} must be greater than zero")
        if amount > MAX_AMOUNT:
            raise BadInputError(f"amount {v} is absurdly large; check the number")
        # positional notation always: str(Decimal("1E-19")) would show "1E-19" to the person approving
        return plain(amount)

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        return v.upper()


#: the vault contract's custom errors, in the words a user reads (the raw revert stays in the logs)
REFUSALS = REVERT_WORDS
#: what a transfer request on a frozen vault is told
FROZEN = "the vault is frozen; only its owner wallet can unfreeze it"


async def _refused(vault: VaultService, args: TransferArgs, exc: ChainRevertError) -> ChainRevertError:
    """The vault's on-chain refusal of a transfer, told in words (never ``LimitExceeded(0x…, 6e17, 3e17)``)."""
    name = exc.error_name or ""
    reason = REFUSALS.get(name, "the vault contract refused it")
    try:
        token = next(t for t in (await vault.status()).tokens if t.symbol == args.token)
        if name == "LimitExceeded":
            reason += f" ({_amount(token.remaining_today)} {args.token} left today)"
        elif name == "InsufficientBalance":
            reason += f" (it holds {_amount(token.balance)} {args.token})"
    except (ImpressoxError, StopIteration):
        pass  # the words alone still say why
    refused = ChainRevertError(f"The vault refused to send {args.amount} {args.token}: {reason}.")
    refused.error_name = name or None
    return refused


async def _check_transfer(args: TransferArgs, ctx: ToolContext[WorkerDeps]) -> dict[str, Any]:
    """Before asking for approval: the token exists, the vault is not frozen, the amount fits today's
    limit and balance, and the simulated spend succeeds. Returns the simulation, what the approval
    binds, and the undo window that applies."""
    vault = await _vault(ctx)
    vault.token_address(args.token)  # unknown token -> a clear BadInputError
    if await vault.paused():
        raise BadInputError(f"{FROZEN}, so this transfer cannot be made")
    status = await vault.status()
    token = next(t for t in status.tokens if t.symbol == args.token)
    amount = Decimal(args.amount)
    to_base_units(args.amount, await vault._token_decimals(vault.token_address(args.token)))  # too many decimals
    if amount > token.remaining_today:
        raise BadInputError(
            f"{args.amount} {args.token} exceeds your vault's daily limit "
            f"({_amount(token.daily_limit)} {args.token}, {_amount(token.remaining_today)} left today)"
        )
    if amount > token.balance:
        raise BadInputError(f"your vault holds only {_amount(token.balance)} {args.token}")
    reference = reference_from_key(ctx.idempotency_key)
    eth_usd = await _price_or_none(vault, "ETH")
    sim = await simulate_spend(vault, reference, args.token, args.to, amount, eth_usd=eth_usd)
    if sim["will_revert"]:
        raise BadInputError(
            f"this transfer would fail on-chain: {sim['revert_reason']}; nobody was asked to approve it"
        )
    binding = {
        "chain_id": status.chain_id,
        "vault": vault.vault_address,
        "token": sim["token_address"],
        "symbol": args.token,
        "to": args.to,
        "amount": sim["amount"],
        "reference": "0x" + reference.hex(),
    }
    usd = amount * price if (price := await _price_or_none(vault, args.token)) is not None else None
    return {"simulation": sim, "binding": binding, "undo_seconds": _undo_seconds(ctx, usd)}


async def _price_or_none(vault: VaultService, symbol: str) -> Decimal | None:
    try:
        return await vault.price(symbol)
    except ImpressoxError:
        return None


def _undo_seconds(ctx: ToolContext[WorkerDeps], usd: Decimal | None) -> float:
    """The undo window of an approved transfer worth ``usd`` (None: no price, so the window applies)."""
    if ctx.deps is None:
        return 0.0
    settings = ctx.deps.settings
    own = settings.transfer_delay_overrides.get(ctx.owner, {})
    seconds = float(own.get("seconds", settings.transfer_delay_seconds))
    floor = Decimal(own.get("min_usd", settings.transfer_delay_min_usd))
    if seconds <= 0 or (usd is not None and usd < floor):
        return 0.0
    return seconds


async def _check_binding(vault: VaultService, args: TransferArgs, ctx: ToolContext[WorkerDeps]) -> None:
    """The signed approval's binding must be this very spend: chain, vault, token, recipient, amount,
    reference, and not past its expiry; anything else is refused before a transaction is built."""
    binding = ctx.binding
    if binding is None:
        return
    reference = "0x" + reference_from_key(ctx.idempotency_key).hex()
    actual = {
        "chain_id": await vault.w3.eth.chain_id,
        "vault": vault.vault_address,
        "token": vault.token_address(args.token),
        "to": args.to,
        "amount": str(to_base_units(args.amount, await vault._token_decimals(vault.token_address(args.token)))),
        "reference": reference,
    }
    wrong = [k for k, v in actual.items() if str(binding.get(k, "")).lower() != str(v).lower()]
    if wrong:
        raise PermanentError(
            f"the approval was signed for another transfer ({', '.join(wrong)} differ), so nothing was sent"
        )
    expires = binding.get("expires_at")
    if (
        expires
        and datetime.fromisoformat(str(expires)) < datetime.now(UTC)
        and not await vault.reference_used(reference)
    ):
        raise PermanentError("the approval of this transfer has expired, so nothing was sent; ask again")


@tools.register(
    requires_approval=True,
    timeout_seconds=150,
    heartbeat_timeout_seconds=5,  # a dead worker is noticed in seconds, not after 150 s
    max_attempts=10,
    precheck=_check_transfer,
    approval_template="send {amount} {token} from your vault to {to}",
)
async def transfer(args: TransferArgs, ctx: ToolContext[WorkerDeps]) -> ToolResult:
    """Send ETH or an ERC-20 token from your vault to an address. Needs your approval; the vault's
    daily limit applies on-chain."""
    vault = await _vault(ctx)
    await _check_binding(vault, args, ctx)
    try:
        result = await vault.spend(reference_from_key(ctx.idempotency_key), args.token, args.to, args.amount)
    except ChainRevertError as exc:
        metrics.TRANSFERS.labels("refused").inc()
        raise await _refused(vault, args, exc) from exc
    # "found": an earlier attempt (a worker that died, a lost reply) had sent it
    metrics.TRANSFERS.labels("found" if result.already_sent else "sent").inc()
    return ToolResult(
        output=(
            f"Sent {args.amount} {args.token} from your vault to {args.to}: "
            f"transaction {result.tx_hash} (block {result.block_number})."
        ),
        data=result.model_dump(mode="json"),
        gas=GasPaid(result.tx_hash, result.gas_used, result.gas_price_wei, await _eth_usd(vault)),
    )


async def _eth_usd(vault: VaultService) -> float | None:
    """The ETH price the gas is counted at: the chain's own feed; None without one (counted as 0 USD)."""
    try:
        return float(await vault.price("ETH"))
    except ImpressoxError:
        return None
