"""Every Redis pool the platform opens holds as many connections as one process may use at once.

redis-py 8 caps a pool at 100 unless told, and refuses the 101st caller at once: a worker's 200
concurrent activities appending to their turns' streams lost events (and the stream's cooldown
then dropped everyone's for 5 s), and an API process with more than 100 SSE clients, each
blocking on its own stream read, could not serve the rest."""

from __future__ import annotations

from core.cache import redis_client
from core.ledger import UsageLedger
from core.settings import Settings
from core.streams import TurnStreams

URL = "redis://127.0.0.1:1/0"  # pools connect lazily: nothing is reached
SSE_CLIENTS_PER_API_PROCESS = 1000  # bench/sse_clients.py


def test_the_pools_hold_a_full_worker_and_a_busy_api_process() -> None:
    need = max(Settings().max_concurrent_activities, SSE_CLIENTS_PER_API_PROCESS)
    streams = TurnStreams.from_url(URL)
    ledger = UsageLedger(URL, "t")
    pools = {
        "stream writer": streams.writer.connection_pool,
        "stream reader": streams.reader.connection_pool,
        "cache": redis_client(URL).connection_pool,
        "ledger": ledger.client.connection_pool,
    }
    small = {name: pool.max_connections for name, pool in pools.items() if pool.max_connections < need}
    assert small == {}, f"pools smaller than {need} connections: {small}"
