"""The caller's own vault: register it (the platform deploys it, the caller's wallet owns it)
and read its balances, limits and what the agent spent today."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import User
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
