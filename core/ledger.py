"""The usage ledger and the daily budget, in Redis: one place every process shares.

Recording. Each LLM call's tokens and cost (and each transaction's gas) is added, once, by the
activity that paid for it, to the caller's counters per day, session and agent: one Lua script,
deduplicated by the activity's identity (a retried or replayed call is never counted twice).
Amounts are kept as integers of nano-USD, so sums are exact.

Budget. ``budget_usd_per_day`` (``budget_usd_per_user``: per-user overrides) bounds a user's LLM
cost plus gas of one UTC day. A turn is admitted by one atomic script before its message is
delivered (``SessionService.send``, which the API, the bots, the CLI and the schedules all go
through): refused when the day's spend has reached the budget; else it takes a hold (released
by the turn's last LLM step, or expiring). While other turns of the user hold the budget, a
new one is admitted only if the spend plus every live turn (itself included) at twice the largest
turn cost seen so far stays under the budget (turns grow with their conversation); before any
turn's cost is known, and near the budget, one turn runs at a time. So 50 concurrent turns
overspend by at most one turn's worth (while no turn costs more than twice the largest seen so
far); a turn that crosses the budget mid-way
finishes (no cut answers) and the next one is refused. The Temporal side stays the authority on
what was spent: the counters are written only by the activities, from their results.

Without Redis nothing is recorded and nothing is refused (a warning is logged).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.redis_client import async_redis

log = logging.getLogger(__name__)

NANO = 1_000_000_000
GROUPS = ("day", "session", "agent")
GroupBy = Literal["day", "session", "agent"]
COUNTERS = ("turns", "calls", "prompt_tokens", "completion_tokens", "total_tokens", "llm_nusd", "gas_nusd", "gas_wei")
#: how long a call's "already counted" mark is kept (longer than any activity's retries)
SEEN_SECONDS = 3 * 24 * 3600
#: how long an admitted turn holds the budget unless its last step releases it first
HOLD_SECONDS = 600
#: how long a turn waits for concurrent turns to settle before it is refused
ADMIT_WAIT_SECONDS = 30.0

_RECORD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return 0 end
local fields = {'calls', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'llm_nusd', 'gas_nusd', 'gas_wei'}
for i = 2, 4 do
  for j, f in ipairs(fields) do
    if ARGV[5 + j] ~= '0' then redis.call('HINCRBY', KEYS[i], f, ARGV[5 + j]) end
  end
  if ARGV[13] == '1' then redis.call('HINCRBY', KEYS[i], 'turns', 1) end
end
redis.call('SADD', KEYS[5], ARGV[2]); redis.call('SADD', KEYS[6], ARGV[3]); redis.call('SADD', KEYS[7], ARGV[4])
redis.call('SADD', KEYS[8], ARGV[5])
local spent = redis.call('HINCRBY', KEYS[9], 'nusd', tonumber(ARGV[10]) + tonumber(ARGV[11]))
redis.call('EXPIRE', KEYS[9], 86400)
if ARGV[13] == '1' then
  local est = tonumber(redis.call('GET', KEYS[10]) or '0')
  if spent > est then redis.call('SET', KEYS[10], spent) end
  redis.call('HDEL', KEYS[11], ARGV[14])
end
return 1
"""

_ADMIT = """
local spent = tonumber(redis.call('HGET', KEYS[1], 'llm_nusd') or '0')
  + tonumber(redis.call('HGET', KEYS[1], 'gas_nusd') or '0')
local budget = tonumber(ARGV[1])
if spent >= budget then return {0, tostring(spent)} end
local now = tonumber(ARGV[2])
local live = 0
local holds = redis.call('HGETALL', KEYS[2])
for i = 1, #holds, 2 do
  if tonumber(holds[i + 1]) <= now then redis.call('HDEL', KEYS[2], holds[i])
  elseif holds[i] ~= ARGV[3] then live = live + 1 end
end
local est = tonumber(redis.call('GET', KEYS[3]) or '0')
-- beside other live turns only while all of them, at twice the largest turn cost seen (turns grow with
-- their conversation), fit under the budget; near it, one turn at a time
if live > 0 and (est <= 0 or spent + (live + 1) * 2 * est >= budget) then return {2, tostring(spent)} end
redis.call('HSET', KEYS[2], ARGV[3], now + tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 2)
return {1, tostring(spent)}
"""


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def resets_at(day: str | None = None) -> datetime:
    """When the budget of ``day`` (today) resets: the next UTC midnight."""
    d = date.fromisoformat(day or today())
    return datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(days=1)


def owner_of(session_id: str) -> str:
    parts = session_id.split(":")
    return parts[1] if len(parts) == 3 else "unknown"


@dataclass
class Spend:
    """What one activity paid for (tokens, LLM cost, gas)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    llm_usd: float = 0.0
    gas_usd: float = 0.0
    gas_wei: int = 0
    calls: int = 0


class Admission:
    """The outcome of :meth:`UsageLedger.admit`."""

    def __init__(self, admitted: bool, spent_usd: float, budget_usd: float | None, day: str) -> None:
        self.admitted = admitted
        self.spent_usd = spent_usd
        self.budget_usd = budget_usd
        self.day = day


class UsageLedger:
    def __init__(self, redis_url: str, prefix: str = "impressox", client: aioredis.Redis | None = None) -> None:
        """``prefix``: the deployment's Redis prefix (core/redis_keys.py)."""
        self.redis_url = redis_url
        self.usage = f"{prefix}:usage"
        self.budget = f"{prefix}:budget"
        self._client = client
        self._warned = 0.0

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = async_redis(self.redis_url, socket_timeout=5, socket_connect_timeout=2)
        return self._client

    def _down(self, what: str, exc: Exception) -> None:
        if time.monotonic() - self._warned > 30:
            self._warned = time.monotonic()
            log.warning("usage ledger (Redis at %s) unavailable, %s: %s", self.redis_url, what, exc)

    # ------------------------------------------------------------------ recording
    async def record(
        self,
        call_key: str,
        session_id: str,
        message_id: str | None,
        agent: str | None,
        spend: Spend,
        *,
        last_step: bool = False,
    ) -> bool:
        """Add ``spend`` once per ``call_key``; ``last_step``: the turn is done (counts a turn, releases
        its hold, updates the largest turn cost). False when it was counted before (or Redis is down)."""
        user, day, agent = owner_of(session_id), today(), agent or "unknown"
        keys = [
            f"{self.usage}:seen:{call_key}",
            f"{self.usage}:{user}:day:{day}",
            f"{self.usage}:{user}:session:{session_id}",
            f"{self.usage}:{user}:agent:{agent}",
            f"{self.usage}:{user}:index:day",
            f"{self.usage}:{user}:index:session",
            f"{self.usage}:{user}:index:agent",
            f"{self.usage}:users",
            f"{self.usage}:turn:{session_id}:{message_id}",
            f"{self.budget}:{user}:turn_cost",
            f"{self.budget}:{user}:{day}:holds",
        ]
        args: list[Any] = [
            SEEN_SECONDS, day, session_id, agent, user,
            spend.calls, spend.prompt_tokens, spend.completion_tokens, spend.total_tokens,
            round(spend.llm_usd * NANO), round(spend.gas_usd * NANO), spend.gas_wei,
            1 if last_step else 0, message_id or "",
        ]  # fmt: skip
        try:
            return bool(await self.client.eval(_RECORD, len(keys), *keys, *[str(a) for a in args]))
        except (RedisError, OSError) as exc:
            self._down("usage not recorded", exc)
            return False

    # ------------------------------------------------------------------ budget
    async def admit(self, user: str, message_id: str, budget_usd: float | None) -> Admission:
        """Admit one turn of ``user`` against the day's budget (see the module's doc)."""
        day = today()
        if budget_usd is None:
            return Admission(True, 0.0, None, day)
        keys = [
            f"{self.usage}:{user}:day:{day}",
            f"{self.budget}:{user}:{day}:holds",
            f"{self.budget}:{user}:turn_cost",
        ]
        deadline = time.monotonic() + ADMIT_WAIT_SECONDS
        delay = 0.02
        while True:
            now_ms = int(time.time() * 1000)
            try:
                code, spent = await self.client.eval(
                    _ADMIT, len(keys), *keys, str(round(budget_usd * NANO)), str(now_ms), message_id,
                    str(HOLD_SECONDS * 1000),
                )  # fmt: skip
            except (RedisError, OSError) as exc:
                self._down("budgets not enforced", exc)
                return Admission(True, 0.0, budget_usd, day)
            spent_usd = float(spent) / NANO
            if int(code) != 2:
                return Admission(int(code) == 1, spent_usd, budget_usd, day)
            if time.monotonic() >= deadline:  # concurrent turns still hold what is left
                return Admission(False, spent_usd, budget_usd, day)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def release(self, user: str, message_id: str) -> None:
        try:
            await self.client.hdel(f"{self.budget}:{user}:{today()}:holds", message_id)
        except (RedisError, OSError) as exc:
            self._down("hold not released", exc)

    # ------------------------------------------------------------------ reading
    async def users(self) -> list[str]:
        return sorted(
            m.decode() if isinstance(m, bytes) else m for m in await self.client.smembers(f"{self.usage}:users")
        )

    async def rows(self, user: str, group_by: GroupBy) -> list[dict[str, Any]]:
        """The user's usage per ``group_by`` value (days newest first)."""
        names = sorted(
            (
                m.decode() if isinstance(m, bytes) else m
                for m in await self.client.smembers(f"{self.usage}:{user}:index:{group_by}")
            ),
            reverse=group_by == "day",
        )
        pipe = self.client.pipeline(transaction=False)
        for n in names:
            pipe.hgetall(f"{self.usage}:{user}:{group_by}:{n}")
        out = []
        for n, raw in zip(names, await pipe.execute(), strict=True):
            counts = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in raw.items()}
            out.append({group_by: n, "user": user, **usage_fields(counts)})
        return out


def usage_fields(counts: dict[str, int]) -> dict[str, Any]:
    """The counters of one record as the API shows them (USD as floats, gas in ETH too)."""
    c = {k: counts.get(k, 0) for k in COUNTERS}
    llm, gas = c["llm_nusd"] / NANO, c["gas_nusd"] / NANO
    return {
        "turns": c["turns"],
        "calls": c["calls"],
        "prompt_tokens": c["prompt_tokens"],
        "completion_tokens": c["completion_tokens"],
        "total_tokens": c["total_tokens"],
        "llm_cost_usd": llm,
        "gas_eth": c["gas_wei"] / 1e18,
        "gas_cost_usd": gas,
        "cost_usd": (c["llm_nusd"] + c["gas_nusd"]) / NANO,
    }


def total_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("turns", "calls", "prompt_tokens", "completion_tokens", "total_tokens")
    out: dict[str, Any] = {k: sum(r[k] for r in rows) for k in keys}
    for k in ("llm_cost_usd", "gas_eth", "gas_cost_usd", "cost_usd"):
        out[k] = sum(r[k] for r in rows)
    return out
