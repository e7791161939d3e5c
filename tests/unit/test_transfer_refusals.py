"""A transfer the vault refuses on-chain is told in words, never as a raw revert."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from chain.client import RevertInfo, revert_error
from chain.vault import TokenStatus, VaultStatus
from core.errors import ChainRevertError
from core.tools import ToolContext
from services.tools.chain import TransferArgs, transfer
from services.tools.deps import WorkerDeps

TO = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
ETH = "0x0000000000000000000000000000000000000000"


@dataclass
class RefusingVault:
    """The vault service as the tool sees it; its ``spend`` reverts as the contract does."""

    error: RevertInfo
    spent: list[Any] = field(default_factory=list)

    async def spend(self, reference: bytes, token: str, to: str, amount: str) -> None:
        raise revert_error(f"spend {amount} {token} to {to}", self.error)

    async def status(self) -> VaultStatus:
        token = TokenStatus(
            symbol="ETH",
            address=ETH,
            balance=Decimal("0.2"),
            daily_limit=Decimal("1"),
            spent_today=Decimal("0.7"),
            remaining_today=Decimal("0.3"),
        )
        return VaultStatus(chain_id=31337, vault=TO, version="1", owner=TO, operator=TO, tokens=[token])


def _ctx(vault: RefusingVault) -> ToolContext:
    async def get_vault() -> RefusingVault:
        return vault

    async def vault_of(user: str) -> RefusingVault:
        return vault

    chain = SimpleNamespace(settings=SimpleNamespace(chain_vault_user="local"), vault=get_vault, vault_of=vault_of)
    deps = cast(WorkerDeps, SimpleNamespace(chain=chain))  # a stand-in with only what the tool reads
    return ToolContext(call_id="c", session_id="web:local:s", owner="local", idempotency_key="k", deps=deps)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (RevertInfo("LimitExceeded", (ETH, 6 * 10**17, 3 * 10**17)), "that is over today's limit (0.3 ETH left today)"),
        (
            RevertInfo("InsufficientBalance", (ETH, 6 * 10**17, 2 * 10**17)),
            "there are not enough funds in the vault (it holds 0.2 ETH)",
        ),
        (RevertInfo("EnforcedPause", ()), "the vault contract refused it"),
    ],
)
async def test_an_on_chain_refusal_is_told_in_words(error: RevertInfo, words: str) -> None:
    args = TransferArgs(to=TO, amount="0.6", token="ETH")
    with pytest.raises(ChainRevertError) as info:
        await transfer(args, _ctx(RefusingVault(error)))
    assert str(info.value) == f"The vault refused to send 0.6 ETH: {words}."
    assert error.name not in str(info.value) and "0x" not in str(info.value)
    assert info.value.error_name == error.name  # operators still see which error it was
