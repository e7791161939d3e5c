"""The caller's own vault: register it (the platform deploys it, the caller's wallet owns it)
and read its balances, limits and what the agent spent today."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Sessions, User
from api.schemas import ErrorOut
from services.vaults import VaultRegistryService


async def get_vaults(request: Request) -> VaultRegistryService:
    return request.app.state.vaults


Vaults = Annotated[VaultRegistryService, Depends(get_vaults)]

router = APIRouter(
    prefix="/v1/vault",
    tags=["vault"],
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 422: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)


class VaultRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the user's own wallet: it owns the vault (raises limits, withdraws, upgrades)
    owner_address: str = Field(min_length=42, max_length=42, pattern=r"^0x[0-9a-fA-F]{40}$")


class VaultRegistered(BaseModel):
    address: str
    owner: str
    operator: str
    chain_id: int
    created: bool


class TokenOut(BaseModel):
    symbol: str
    token: str
    balance: Decimal
    daily_limit: Decimal
    spent_today: Decimal
    remaining_today: Decimal


class VaultOut(BaseModel):
    address: str
    owner: str
    operator: str
    chain_id: int
    version: str
    tokens: list[TokenOut]
    #: frozen: every spend reverts until the owner's wallet sends unpause(); None: no pause switch (V1/V2)
    paused: bool | None = None


@router.post("", response_model=VaultRegistered, status_code=201, responses={200: {"model": VaultRegistered}})
async def register_vault(body: VaultRegister, user: User, vaults: Vaults, response: Response) -> VaultRegistered:
    """Register the caller's vault: deployed for this user (the same address every time), owned by
    ``owner_address``, operated by the platform within the default daily limits. 201 when it was
    deployed now, 200 when it existed already."""
    vault = await vaults.register(user, body.owner_address)
    if not vault.created:
        response.status_code = 200
    return VaultRegistered(
        address=vault.address,
        owner=vault.owner,
        operator=vault.operator,
        chain_id=vault.chain_id,
        created=vault.created,
    )


@router.get("", response_model=VaultOut)
async def get_vault(user: User, vaults: Vaults) -> VaultOut:
    """The caller's vault: address, owner, balances, daily limits and what was spent today."""
    status = await vaults.status(user)
    return VaultOut(
        address=status.vault,
        owner=status.owner,
        operator=status.operator,
        chain_id=status.chain_id,
        version=status.version,
        paused=status.paused,
        tokens=[
            TokenOut(
                symbol=t.symbol,
                token=t.address,
                balance=t.balance,
                daily_limit=t.daily_limit,
                spent_today=t.spent_today,
                remaining_today=t.remaining_today,
            )
            for t in status.tokens
        ],
    )


#: keccak("unpause()")[:4]: the one call that unfreezes a vault, sent by its owner's wallet
UNPAUSE_SELECTOR = "0x3f4ba83a"
FROZEN = "the vault is frozen; only its owner wallet can unfreeze it"


class OwnerTransaction(BaseModel):
    """A transaction for the owner's wallet to sign and send (e.g. with a wallet, web3 or cast)."""

    from_: str = Field(alias="from")
    to: str
    data: str
    value: str = "0x0"
    chain_id: int


class FreezeOut(BaseModel):
    frozen: bool
    vault: str
    #: the pause() transaction ("" when the vault was frozen already)
    tx_hash: str
    #: sessions told to withdraw their pending approvals and scheduled transfers
    sessions_notified: int
    message: str
    unfreeze: OwnerTransaction


def _unpause_tx(status_owner: str, vault: str, chain_id: int) -> OwnerTransaction:
    return OwnerTransaction.model_validate(
        {"from": status_owner, "to": vault, "data": UNPAUSE_SELECTOR, "chain_id": chain_id}
    )


@router.post("/freeze", response_model=FreezeOut)
async def freeze_vault(user: User, vaults: Vaults, sessions: Sessions) -> FreezeOut:
    """Freeze the caller's vault: pause() on-chain (every spend reverts), every pending approval
    withdrawn, every transfer in its undo window cancelled, new transfers refused. Anyone holding the
    API key can do this; only the owner's wallet can undo it (``unfreeze`` lists the transaction)."""
    tx_hash = await vaults.freeze(user)
    notified = await sessions.withdraw_approvals(user, "the vault was frozen")
    status = await vaults.status(user)
    return FreezeOut(
        frozen=bool(status.paused),
        vault=status.vault,
        tx_hash=tx_hash,
        sessions_notified=notified,
        message=f"{FROZEN}: send unpause() from {status.owner}",
        unfreeze=_unpause_tx(status.owner, status.vault, status.chain_id),
    )


@router.post("/unfreeze", status_code=403, responses={403: {"model": ErrorOut}})
async def unfreeze_vault(user: User, vaults: Vaults) -> JSONResponse:
    """Always 403: an API key can stop money, never restart it. The answer carries the unpause()
    transaction for the owner's wallet to sign."""
    status = await vaults.status(user)
    tx = _unpause_tx(status.owner, status.vault, status.chain_id)
    return JSONResponse(
        status_code=403,
        content={
            "error": "forbidden",
            "detail": (
                f"an API key cannot unfreeze a vault: {FROZEN}. Send unpause() ({UNPAUSE_SELECTOR}) to "
                f"{status.vault} from the owner {status.owner}"
            ),
            "unfreeze": tx.model_dump(by_alias=True),
        },
    )
