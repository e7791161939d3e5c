"""Keyless mode answers loopback Host headers only; pages carry strict security headers; the
chat page and /docs work in a browser with no network (assets served from here)."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from api import pages
from api.app import create_app
from core.settings import ApiKey, Settings
from tests.served import served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WEB_BUILT = (pages.WEB_DIST / "index.html").exists()


def require_browser_and_build() -> str:
    """Chromium and the built client come from `make test-setup`: their absence is a failure, not a skip."""
    assert CHROMIUM is not None, "Debian chromium is not installed: run `make test-setup`"
    assert WEB_BUILT, "the web client is not built: run `make setup`"
    return CHROMIUM


@pytest.mark.parametrize("host", ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:80"])
async def test_keyless_mode_serves_loopback_host_headers(api: httpx.AsyncClient, host: str) -> None:
    r = await api.get("/v1/agents", headers={"Host": host})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8000", "localhost.attacker.example", "127.0.0.2", "[::2]", "", "0"]
)
async def test_keyless_mode_refuses_other_host_headers(api: httpx.AsyncClient, host: str) -> None:
    for method, path in [("GET", "/v1/sessions"), ("POST", "/v1/sessions"), ("GET", "/")]:
        r = await api.request(method, path, headers={"Host": host}, json={} if method == "POST" else None)
        assert r.status_code == 421, r.text
        assert "localhost" in r.json()["error"]


async def test_with_keys_any_host_is_served(settings: Settings, worker: None) -> None:
    keyed = settings.model_copy(update={"api_keys": [ApiKey(user="alice", key=SecretStr("alice-key"))]})
    app = create_app(keyed)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.example.com") as http:
            r = await http.get("/v1/agents", headers={"X-API-Key": "alice-key"})
            assert r.status_code == 200


async def test_pages_send_strict_security_headers(api: httpx.AsyncClient) -> None:
    for path in ("/", "/docs", "/redoc", "/v1/agents", "/healthz", "/favicon.ico"):
        r = await api.get(path)
        assert r.status_code == 200, path
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
        if r.headers["content-type"].startswith("text/html"):
            script_src = re.search(r"script-src ([^;]*)", csp)
            assert script_src and "unsafe-inline" not in script_src.group(1) and "http" not in csp, csp
    chat = await api.get("/")
    if WEB_BUILT:  # the built client loads its script and styles as files from this origin
        assert "<script" in chat.text and not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", chat.text), chat.text
        for asset in re.findall(r"""(?:src|href)=["'](/assets/[^"']+)""", chat.text):
            served = await api.get(asset)
            assert served.status_code == 200 and served.headers["X-Content-Type-Options"] == "nosniff", asset


async def test_root_without_a_build_says_how_to_build_it(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "WEB_DIST", pages.WEB_DIR / "no-such-dist")
    r = await api.get("/")
    assert r.status_code == 200 and "make setup" in r.text and r.text.count("\n") == 0, r.text


async def test_head_root_docs_offline_and_favicon(api: httpx.AsyncClient) -> None:
    assert (await api.head("/")).status_code == 200
    icon = await api.get("/favicon.ico")
    assert (
        icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon" and icon.content[:4] == b"\0\0\1\0"
    )
    for page in ("/docs", "/redoc"):
        html = (await api.get(page)).text
        assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), html
        assets = re.findall(r"""(?:src|href)\s*=\s*["'](/[^"']+)""", html)
        assert any(a.endswith(".js") for a in assets), html
        for asset in assets:
            assert (await api.get(asset)).status_code == 200, asset
    assert (await api.get("/openapi.json")).json()["info"]["title"] == "Impressox Agent API"


@pytest.fixture
async def site(settings: Settings, worker: None) -> AsyncIterator[str]:
    async with served(create_app(settings)) as url:
        yield url.replace("127.0.0.1", "localhost")


async def browse(url: str, ready: str, chat: str | None = None) -> tuple[str, list[str], list[str]]:
    """Open ``url`` in headless Chromium with every non-loopback request blocked; wait until
    ``ready`` (a CSS selector) is there; with ``chat``, send it in the chat form and wait for the
    reply. Returns the page text, CSP/console errors and blocked URLs."""
    from playwright.async_api import async_playwright

    errors: list[str] = []
    outside: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=require_browser_and_build(),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            page = await browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

            async def offline(route) -> None:
                if route.request.url.startswith(("http://localhost", "http://127.0.0.1", "data:", "blob:")):
                    await route.continue_()
                else:
                    outside.append(route.request.url)
                    await route.abort("internetdisconnected")

            await page.route("**/*", offline)
            await page.goto(url, wait_until="networkidle", timeout=60_000)
            await page.wait_for_selector(ready, state="attached", timeout=60_000)
            if chat:
                await page.get_by_role("button", name="New session").click()
                await page.get_by_role("textbox", name="Message").fill(chat)
                await page.get_by_role("button", name="Send").click()
                await page.locator(".msg.assistant .bubble").first.wait_for(timeout=60_000)
            text = await page.inner_text("body")
        finally:
            await browser.close()
    return text, errors, outside


async def test_docs_render_offline_in_a_browser(site: str) -> None:
    text, errors, outside = await browse(f"{site}/docs", ".opblock-summary-path")
    assert "/v1/sessions/{session_id}/messages" in text
    assert outside == [] and errors == [], (outside, errors)


async def test_the_chat_page_runs_under_its_csp(site: str) -> None:
    text, errors, outside = await browse(f"{site}/", "#agent option[value=assistant]", chat="what is 17 * 23?")
    assert "391" in text
    assert outside == [] and errors == [], (outside, errors)
