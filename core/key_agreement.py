"""Every process of one deployment holds compatible keys, or the late one refuses to start.

The approval key signs decisions the workers verify and the codec keys encrypt what every process
reads from Temporal: an API and a worker with different keys fail every approval, or cannot read
each other's payloads, one confusing turn at a time. So each long-running process (api, worker,
listener, bots) joins the deployment's member list in Redis (under its prefix) when it starts, and
stays on it while it runs. A process refuses to start, with one line, unless for every live member

- it holds the same approval key, and
- each can decrypt what the other encrypts (the first codec key of each is in the other's list),

which lets a codec key rotation roll through the processes one at a time (docs/operations.md:
add the new key second everywhere, then first everywhere). A member that stopped without leaving
(kill -9) lapses ``TTL_SECONDS`` after its last refresh.

Keys never leave the process: each is named by a slow, truncated hash (PBKDF2, 64 bits), enough to
tell keys apart without being a cheap way to test guesses of a weak approval key. Without Redis
nothing is compared (one warning).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import socket
import threading
import time

import redis
from redis.exceptions import RedisError

from core.approvals import approval_key
from core.errors import ConfigError
from core.redis_keys import redis_prefix
from core.settings import Settings
from core.temporal.codec import codec_keys

log = logging.getLogger(__name__)

TTL_SECONDS = 30
REFRESH_SECONDS = 10

# KEYS[1]: the members hash. ARGV: my name, my record (JSON), now (ms), ttl (ms).
# Answers the first incompatible live member's name and why, or nothing after adding me.
_JOIN = """
local me = cjson.decode(ARGV[2])
local now, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local function holds(list, key)
  for _, k in ipairs(list) do if k == key then return true end end
  return false
end
local members = redis.call('HGETALL', KEYS[1])
for i = 1, #members, 2 do
  local name, other = members[i], cjson.decode(members[i + 1])
  if now - other.seen > ttl then
    redis.call('HDEL', KEYS[1], name)
  elseif name ~= ARGV[1] then
    if other.approval ~= me.approval then return {name, 'IMPRESSOX_APPROVAL_KEY'} end
    if other.encrypts ~= me.encrypts
      and not (holds(other.decrypts, me.encrypts) and holds(me.decrypts, other.encrypts)) then
      return {name, 'IMPRESSOX_CODEC_KEYS'}
    end
  end
end
me.seen = now
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(me))
redis.call('PEXPIRE', KEYS[1], ttl * 4)
return false
"""


def _name_of(material: bytes) -> str:
    return hashlib.pbkdf2_hmac("sha256", material, b"impressox-key-agreement", 100_000)[:8].hex()


def key_record(settings: Settings) -> dict[str, object]:
    """This process's keys as the agreement compares them: hashed names, never the keys."""
    if settings.codec_enabled:
        names = [_name_of(k.key_id.encode() + b"\0" + k.key) for k in codec_keys(settings)]
    else:
        names = ["plain"]  # no codec: compatible only with other processes without one
    return {"approval": _name_of(b"approval\0" + approval_key(settings)), "encrypts": names[0], "decrypts": names}


def _join(client: redis.Redis, key: str, name: str, record: dict[str, object], ttl: int) -> list[bytes] | None:
    """Add or refresh ``name``; answers [member, setting] of an incompatible live member instead."""
    answer = client.eval(_JOIN, 1, key, name, json.dumps(record), int(time.time() * 1000), ttl * 1000)
    return answer or None


class KeyAgreement:
    """This process on the deployment's member list, kept there until :meth:`close` (or its end)."""

    def __init__(self, client: redis.Redis, key: str, name: str, record: dict[str, object], ttl: int) -> None:
        self._client, self._key, self.name, self.record, self._ttl = client, key, name, record, ttl
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._keep_joined, name="impressox-key-agreement", daemon=True)
        self._thread.start()

    def _keep_joined(self) -> None:
        while not self._closed.wait(min(REFRESH_SECONDS, self._ttl / 3)):
            try:
                _join(self._client, self._key, self.name, self.record, self._ttl)
            except (RedisError, OSError):
                pass  # Redis is back soon, or gone for good (noticed elsewhere); the next round joins again

    def close(self) -> None:
        """Leave the member list (a process with other keys may start now)."""
        self._closed.set()
        self._thread.join()
        try:
            self._client.hdel(self._key, self.name)
        except (RedisError, OSError):
            pass  # it lapses after the TTL
        self._client.close()


def agree_on_keys(settings: Settings, role: str, ttl_seconds: int = TTL_SECONDS) -> KeyAgreement | None:
    """Join the deployment's member list, or refuse to start (ConfigError) when a live member's keys
    do not work with this process's (see the module's doc). None: no Redis, nothing compared."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    key, name, record = (
        f"{redis_prefix(settings)}:stack:members",
        f"{role}@{socket.gethostname()}:{os.getpid()}/{secrets.token_hex(2)}",
        key_record(settings),
    )
    try:
        refused = _join(client, key, name, record, ttl_seconds)
    except (RedisError, OSError) as exc:
        log.warning("%s: keys not compared with the rest of the deployment (Redis unavailable: %s)", role, exc)
        client.close()
        return None
    if refused:
        client.close()
        other, setting = (part.decode() if isinstance(part, bytes) else str(part) for part in refused)
        raise ConfigError(
            f"this {role} cannot work with the running {other}: their {setting} differ. Give every process "
            f"of the deployment the same {setting} (or the same data dir), or stop the others first"
        )
    return KeyAgreement(client, key, name, record, ttl_seconds)
