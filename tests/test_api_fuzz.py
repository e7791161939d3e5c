"""No input makes the API answer 500: seeded random bodies, ids and query strings."""

from __future__ import annotations

import json
import random
import string
from urllib.parse import quote

import httpx

ALPHABET = string.printable + "éß漢字🙂\u0000\u202e"


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.choice([0, 1, 5, 40, 300])))


def random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**70, 3.5, float("1e308")])
    if kind in (3, 4):
        return random_text(rng)
    if kind in (5, 6):
        keys = ["text", "agent", "approve", "message_id", "wait", random_text(rng)]
        return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


async def test_random_requests_never_get_a_500(api: httpx.AsyncClient) -> None:
    rng = random.Random(20261124)
    sid = (await api.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
    ids = [sid, "web:local:" + random_text(rng), "garbage", "web:other:abc", "%00", "a" * 300]
    seen: dict[int, int] = {}
    for _ in range(200):
        target = quote(rng.choice(ids + [random_text(rng)]), safe="")
        path, method = rng.choice(
            [
                ("/v1/sessions", "POST"),
                (f"/v1/sessions/{target}/messages", "POST"),
                (f"/v1/sessions/{target}", "GET"),
                (f"/v1/sessions/{target}/approvals/{target}", "POST"),
            ]
        )
        params = {"wait": rng.choice(["0", "0.2", "-5", "1e9", "nan", "abc"])} if "messages" in path else None
        body = random_json(rng)
        if rng.random() < 0.2:
            content = random_text(rng).encode()  # not JSON at all
        else:
            try:
                content = json.dumps(body).encode()
            except ValueError:
                content = b"{}"
        r = await api.request(
            method, path, params=params, content=content, headers={"content-type": "application/json"}
        )
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code < 500, (method, path, params, content[:200], r.status_code, r.text[:300])
        if r.status_code >= 400:
            assert "error" in r.json(), r.text
    assert any(code >= 400 for code in seen) and any(code < 300 for code in seen), seen
