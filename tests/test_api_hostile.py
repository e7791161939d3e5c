"""Hostile request bodies and keys against every POST route of the real API over real HTTP: always a
4xx JSON error that names no Python exception, and the API answers afterwards."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from api.app import create_app
from core.settings import PROJECT_ROOT, ApiKey, Settings, load_settings
from tests.served import served

KEY = "alice-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
PYTHON_NAMES = re.compile(r"\b(\w+Error|\w+Exception|Traceback)\b")

HOSTILE: dict[str, bytes] = {
    "arrays 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects 50,000 deep": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "a 10 MB string": json.dumps({"text": "x" * 10_000_000}).encode(),
    "a number of 1,000,000 digits": b'{"text": 1' + b"0" * 1_000_000 + b"}",
    "a float of 10,000 digits": b'{"text": 1.' + b"5" * 10_000 + b"}",
    "an infinite float": b'{"text": 1e999999}',
    "NaN": b'{"text": NaN}',
    "Infinity": b'{"approve": -Infinity}',
    "invalid UTF-8": b'{"text": "\xff\xfe\xfa"}',
    "a lone surrogate escape": b'{"text": "\\ud800"}',
    "truncated JSON": b'{"text": "hi',
    "an unterminated string full of escapes": b'"' + b'\\"' * 200_000,
    "not JSON at all": b"<xml/>",
    "empty": b"",
    "wrong types": b'{"text": {"nested": [1, 2, 3]}, "message_id": 7, "agent": [], "approve": "yes"}',
    "duplicate keys": b'{"text": "a", "text": {"b": 1}}',
    "a top-level array": b"[1, 2, 3]",
    "a NUL in a key": b'{"te\\u0000xt": "hi"}',
}


@pytest.fixture
async def base_url(settings: Settings, worker: None) -> AsyncIterator[str]:
    keyed = settings.model_copy(update={"api_keys": [ApiKey(user="alice", key=SecretStr(KEY))]})
    async with served(create_app(keyed)) as url:
        yield url


def post_routes() -> list[str]:
    """Every POST route the app has (new routes are covered without editing this test)."""
    paths = create_app(load_settings()).openapi()["paths"]
    return sorted(path for path, operations in paths.items() if "post" in operations)


def body_optional_routes() -> set[str]:
    """POST routes whose body may be left out (e.g. making a link code): an empty body is a request
    without one there, not a hostile body."""
    paths = create_app(load_settings()).openapi()["paths"]
    return {
        path
        for path, operations in paths.items()
        if "post" in operations and not operations["post"].get("requestBody", {}).get("required", False)
    }


def fill(path: str, sid: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: sid if m.group(1) == "session_id" else "x1", path)


def assert_plain_4xx(r: httpx.Response, what: str) -> None:
    assert 400 <= r.status_code < 500, f"{what}: {r.status_code} {r.text[:200]}"
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], f"{what}: {r.text[:200]}"
    assert not PYTHON_NAMES.search(r.text), f"{what} names a Python exception: {r.text[:300]}"


async def test_hostile_bodies_on_every_post_route_get_a_plain_4xx(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=120) as http:
        sid = (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
        routes, optional = post_routes(), body_optional_routes()
        assert {"/v1/sessions", "/v1/sessions/{session_id}/messages"} <= set(routes)
        assert "/v1/links" in optional and "/v1/sessions" not in optional
        for route in routes:
            url = fill(route, sid) + ("?wait=1" if route.endswith("/messages") else "")
            for name, data in HOSTILE.items():
                r = await http.post(url, content=data, headers={"content-type": "application/json"})
                if name == "empty" and route in optional:
                    assert r.status_code < 500, f"POST {route} without a body: {r.status_code} {r.text[:200]}"
                    continue
                assert_plain_4xx(r, f"POST {route} with {name}")
                assert (await http.get("/healthz")).status_code == 200, f"API down after {name} to {route}"
        # the oversized and deep bodies were refused before parsing, with what was wrong
        r = await http.post(
            "/v1/sessions", content=HOSTILE["a 10 MB string"], headers={"content-type": "application/json"}
        )
        assert r.status_code == 413 and "larger than" in r.json()["error"]
        r = await http.post("/v1/sessions", content=HOSTILE["arrays 100,000 deep"])
        assert r.status_code == 422 and "nested deeper than 64" in r.json()["error"]
        r = await http.post("/v1/sessions", content=HOSTILE["duplicate keys"])
        assert r.status_code == 422 and "appears twice" in r.json()["error"]


async def test_a_streamed_oversized_body_is_refused(base_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b'{"text": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=120) as http:
        r = await http.post("/v1/sessions", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        {b"Authorization": b"Bearer \xc3\xa9"},
        {b"Authorization": b"Bearer " + b"\xe9" * 40},
        {b"X-API-Key": b"k\x7f"},
        {b"X-API-Key": b"\xff\xfe"},
        {b"Authorization": b"Bearer " + b"k" * 10_000},
        {b"Authorization": b"Basic abc"},
    ],
    ids=["utf8-e-acute", "latin1-bytes", "DEL", "invalid-utf8", "10k-long", "not-bearer"],
)
async def test_any_wrong_key_is_a_401(base_url: str, header: dict[bytes, bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        r = await http.get("/v1/sessions", headers=header)
        assert r.status_code == 401, r.text
        assert_plain_4xx(r, str(header))


async def test_a_non_ascii_key_can_be_configured(settings: Settings, worker: None) -> None:
    keyed = settings.model_copy(update={"api_keys": [ApiKey(user="zoe", key=SecretStr("clé-secrète"))]})
    async with served(create_app(keyed)) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        r = await http.get("/v1/sessions", headers={b"X-API-Key": "clé-secrète".encode()})
        assert r.status_code == 200, r.text
        assert (await http.get("/v1/sessions", headers={"X-API-Key": "cle-secrete"})).status_code == 401


@pytest.mark.parametrize("verdict", ['"yes"', "1", "0", '"true"', '"false"', "null", "[]", "{}", "1.0"])
async def test_approval_decisions_are_strict_booleans(base_url: str, verdict: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=30) as http:
        sid = (await http.post("/v1/sessions", json={})).json()["session_id"]
        r = await http.post(
            f"/v1/sessions/{sid}/approvals/x1",
            content=f'{{"approve": {verdict}}}'.encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert "approve" in r.json()["error"]
        # a real boolean passes validation (and finds no such pending call)
        r = await http.post(f"/v1/sessions/{sid}/approvals/x1", json={"approve": True})
        assert r.status_code == 404, r.text


def test_the_api_process_keeps_a_sane_recursion_limit() -> None:
    """web3's py_ecc raises the limit to 100,000 at import; building the app puts it back, so a
    recursive parser raises RecursionError instead of overflowing the C stack."""
    code = (
        "import sys, web3; raised = sys.getrecursionlimit()\n"
        "from api.app import create_app; from core.settings import load_settings\n"
        "create_app(load_settings())\n"
        "print(raised, sys.getrecursionlimit())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    raised, after = map(int, out.stdout.split())
    assert raised >= 100_000 and after <= 1000
