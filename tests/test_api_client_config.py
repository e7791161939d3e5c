"""GET /v1/client: what the web page needs before anyone signs in (keyless mode never asks for a
key; each session links to its workflow in the Temporal Web UI; Stop and rename are offered only
when this API serves their endpoints)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from api.app import create_app
from api.routers.client import FEATURES
from core.settings import ApiKey, Settings


async def test_keyless_mode_says_no_key_is_needed_and_where_the_temporal_ui_is(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    r = await api.get("/v1/client")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["keys_required"] is False
    assert body["temporal_ui"] == f"http://127.0.0.1:{settings.temporal_ui_port}"
    assert body["namespace"] == settings.temporal_namespace
    schema = (await api.get("/openapi.json")).json()["paths"]
    served = {name for name, (method, path) in FEATURES.items() if method.lower() in schema.get(path, {})}
    assert set(body["features"]) == served


async def test_with_keys_it_says_so_without_a_key(settings: Settings, worker: None) -> None:
    keyed = settings.model_copy(
        update={
            "api_keys": [ApiKey(user="alice", key=SecretStr("alice-key"))],
            "temporal_ui_origin": "https://temporal.example.com/",
        }
    )
    app = create_app(keyed)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.com") as http:
            assert (await http.get("/v1/agents")).status_code == 401
            r = await http.get("/v1/client")
            assert r.status_code == 200, r.text
            assert r.json()["keys_required"] is True
            assert r.json()["temporal_ui"] == "https://temporal.example.com"
