"""Benchmark: a chat turn through the Telegram bot vs the same turn through the API path.

Same dev server, same worker process, interleaved, one run:
- bot: a message pushed to a local fake Bot API server -> the real aiogram bot long-polls it,
  signals the session -> the turn -> the ``deliver`` activity -> ``sendMessage`` at the fake;
- api: the same kind of message through the session service (the send_and_wait update), as the API does.
Then a notification stored for a user whose chat turned notifications on -> ``sendMessage``.
Prints one JSON object (p50/p90 in ms).
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.common.runtime import BotRuntime
from bots.telegram.app import TelegramBot, build_bot
from core.cache import build_cache
from core.notifications import Notification
from core.settings import load_settings
from core.temporal.client import connect
from core.temporal.search_attributes import ensure_registered
from devstack.processes import free_port
from devstack.redis_server import RedisServer
from devstack.temporal_server import TemporalDevServer
from services.notifications import NotificationService
from services.tools import load_tools
from temporal.worker import build_worker
from tests.bots.fake_telegram import FakeTelegram

ROUNDS = 50
NOTES = 20
USER = 1001


def pct(xs: list[float], q: int) -> float:
    return round(statistics.median(xs) if q == 50 else statistics.quantiles(xs, n=10)[-1], 2)


async def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="impressox-bench-") as tmp:
        server = TemporalDevServer(free_port(), Path(tmp) / "temporal.db").start()
        redis = RedisServer()
        fake = FakeTelegram()
        try:
            redis.start()
            settings = load_settings(
                temporal_address=server.address, redis_url=redis.url, task_queue="bench-agent", bot_agent="calculator"
            )
            return await measure(settings, fake)
        finally:
            fake.close()
            redis.stop()
            server.stop()


async def until(predicate, timeout: float = 30) -> None:
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise TimeoutError("no reply")
        await asyncio.sleep(0.001)


async def measure(settings, fake: FakeTelegram) -> dict:
    client = await connect(settings)
    await ensure_registered(client)
    cache = await build_cache(settings.redis_url)
    worker = build_worker(client, settings, load_tools(), cache)
    runtime = await BotRuntime.start(settings, client)
    stop = asyncio.Event()
    out: dict = {}
    async with worker:
        bot = asyncio.create_task(TelegramBot(runtime, build_bot(fake.token, fake.url)).run(stop))
        await until(lambda: fake.polls > 0)
        chats = runtime.chats
        owner, sid = await chats.session_for("telegram", "9", "dm")

        async def bot_turn(text: str) -> float:
            n = len(fake.texts(USER))
            t0 = time.perf_counter()
            fake.push_message(USER, text)
            await until(lambda n=n: len(fake.texts(USER)) > n)
            return (time.perf_counter() - t0) * 1000

        async def api_turn(text: str) -> float:
            t0 = time.perf_counter()
            await chats.sessions.send(owner, sid, text, wait=30)
            return (time.perf_counter() - t0) * 1000

        for i in range(5):
            await bot_turn(f"what is {i} * 1000003?")
            await api_turn(f"what is {i} * 1000033?")
        bots, apis = [], []
        for i in range(ROUNDS):
            bots.append(await bot_turn(f"what is {i} * 7919 + 13?"))
            apis.append(await api_turn(f"what is {i} * 7927 + 17?"))
        out.update(
            bot_p50_ms=pct(bots, 50), bot_p90_ms=pct(bots, 90), api_p50_ms=pct(apis, 50), api_p90_ms=pct(apis, 90)
        )
        out["bot_extra_p50_ms"] = round(out["bot_p50_ms"] - out["api_p50_ms"], 2)

        n = len(fake.texts(USER))
        fake.push_message(USER, "/notify_on")
        await until(lambda: len(fake.texts(USER)) > n)
        notes = NotificationService(client, settings)
        times = []
        for i in range(NOTES):
            n = len(fake.texts(USER))
            t0 = time.perf_counter()
            await notes.notify(
                f"tg-{USER}", Notification(key=f"k{i}", kind="deposit", text=f"deposit {i}", at=datetime.now(UTC))
            )
            await until(lambda n=n: len(fake.texts(USER)) > n)
            times.append((time.perf_counter() - t0) * 1000)
        out["notification_p50_ms"] = pct(times, 50)
        out["rounds"] = ROUNDS
        stop.set()
        await bot
    await cache.close()
    gc.collect()
    return out


if __name__ == "__main__":
    result = asyncio.run(main())
    gc.collect()
    print(json.dumps(result))
