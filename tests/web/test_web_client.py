"""What a user of the web client sees, in Chromium against a real stack: a chat answered, a
transfer approved with the page's button and mined, a reload that keeps the session, a deposit
that shows under Notifications without a reload, 401 and 429 handled, nothing loaded from
outside the API's origin. (The chat at desktop and phone widths, with its screenshots: test_chat_ui.)"""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import ACCOUNTS, Stack, rpc

NOCASE = re.IGNORECASE
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def send(page: Any, text: str) -> None:
    page.get_by_role("textbox", name=re.compile("message", NOCASE)).fill(text)
    page.get_by_role("button", name=re.compile(r"^send$", NOCASE)).click()


def test_chat_transfer_approval_and_reload(page: Any, stack: Stack) -> None:
    page.goto(stack.api + "/", wait_until="networkidle")
    page.get_by_role("button", name="New session").click()
    page.wait_for_url(re.compile(r"#/sessions/.+"))
    send(page, "what is 17 * 23?")
    page.get_by_text("391").first.wait_for()
    session_url = page.url

    recipient = ACCOUNTS[3]
    before = stack.balance(recipient)
    send(page, f"send 0.01 ETH to {recipient}")
    card = page.get_by_role("group", name="Pending approval")
    card.wait_for()
    assert recipient in card.inner_text() and "0.01 ETH" in card.inner_text()
    assert re.search(r"Expires in\s*\d+:\d\d", card.inner_text()), card.inner_text()
    card.get_by_text(re.compile("limit left today", re.IGNORECASE)).wait_for()  # (after the transfer, simulated)
    page.get_by_role("button", name="Approve").click()
    page.locator(f"text=/{TX_HASH.pattern}/").first.wait_for()
    deadline_ok = False
    for _ in range(30):
        if stack.balance(recipient) - before == 10**16:
            deadline_ok = True
            break
        page.wait_for_timeout(500)
    assert deadline_ok, stack.balance(recipient) - before

    page.reload(wait_until="networkidle")
    assert page.url == session_url
    page.get_by_text("391").first.wait_for()
    assert page.get_by_text(f"send 0.01 ETH to {recipient}").count() >= 1
    # the session list shows it, with its platform
    assert page.get_by_role("complementary", name="Sessions").get_by_text("web").count() >= 1
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_a_deposit_shows_under_notifications_without_a_reload(page: Any, stack: Stack) -> None:
    page.goto(stack.api + "/#/notifications", wait_until="networkidle")
    page.get_by_role("heading", name="Notifications").wait_for()
    rpc(stack.chain, "eth_sendTransaction", {"from": ACCOUNTS[2], "to": stack.vault(), "value": hex(5 * 10**17)})
    page.locator(r"text=/(^|[^0-9.])0\.5\b/").first.wait_for()
    # elsewhere, the nav link counts what arrived since the list was open
    page.get_by_role("link", name="Sessions").click()
    rpc(stack.chain, "eth_sendTransaction", {"from": ACCOUNTS[2], "to": stack.vault(), "value": hex(2 * 10**17)})
    page.get_by_role("link", name=re.compile(r"Notifications.*1 unread")).wait_for()
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_vault_page_shows_balances(page: Any, stack: Stack) -> None:
    page.goto(stack.api + "/", wait_until="networkidle")
    page.get_by_role("link", name="Vault").click()
    page.get_by_role("cell", name="ETH").first.wait_for()
    assert stack.vault() in page.inner_text("main")


def test_schedules_and_alerts_pages(page: Any, stack: Stack) -> None:
    page.goto(stack.api + "/", wait_until="networkidle")
    page.get_by_role("link", name="Schedules").click()
    page.get_by_role("heading", name="Schedules").wait_for()
    # either the automations' endpoints answer (a form) or the page says they are not here
    page.get_by_text(re.compile("not available on this API|Create schedule")).first.wait_for()
    if page.get_by_role("button", name="Create schedule").count():
        page.get_by_label("Prompt").fill("what is the price of ETH?")
        page.get_by_role("button", name="Create schedule").click()
        page.get_by_text("what is the price of ETH?").nth(0).wait_for()
    page.get_by_role("link", name="Alerts").click()
    page.get_by_role("heading", name="Alerts").wait_for()
    page.get_by_text(re.compile("not available on this API|Create alert")).first.wait_for()


def test_401_brings_the_key_prompt_and_429_says_when_to_retry(page: Any, stack: Stack) -> None:
    seen: list[str | None] = []

    def unauthorized(route: Any) -> None:
        seen.append(route.request.headers.get("authorization"))
        if route.request.headers.get("authorization") == "Bearer right-key":
            route.continue_()
        else:
            route.fulfill(status=401, content_type="application/json", body='{"error": "a valid API key is needed"}')

    # the network edge answers 401 until the key is given (the stack itself is keyless)
    page.route("**/v1/sessions", unauthorized)
    page.goto(stack.api + "/", wait_until="networkidle")
    key = page.get_by_label(re.compile("needs a key", NOCASE))
    key.fill("right-key")
    page.get_by_role("button", name="Use key").click()
    page.get_by_label(re.compile("needs a key", NOCASE)).wait_for(state="detached")
    assert "Bearer right-key" in seen
    assert page.evaluate("sessionStorage.getItem('impressox.apiKey')") == "right-key"
    assert "right-key" not in page.url
    page.unroute("**/v1/sessions")

    page.route(
        "**/v1/sessions",
        lambda route: (
            route.fulfill(
                status=429,
                headers={"Retry-After": "30"},
                content_type="application/json",
                body='{"error": "slow down"}',
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    page.get_by_role("button", name="New session").click()
    page.get_by_text(re.compile(r"try again in \d+ s")).wait_for()


def test_phone_width_keeps_every_control_reachable(browser: Any, stack: Stack) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    try:
        page.goto(stack.api + "/", wait_until="networkidle")
        # the menu is folded: the page itself offers a new chat
        page.get_by_role("button", name="Start a new chat").click()
        page.get_by_role("textbox", name="Message").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        # keyboard only: Tab reaches the message box and the Send button
        page.get_by_role("textbox", name="Message").focus()
        page.keyboard.type("what is 2 + 2?")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Send"
        page.keyboard.press("Enter")
        page.get_by_text("4").first.wait_for()
    finally:
        context.close()


def test_a_dropped_stream_is_resumed_with_last_event_id(page: Any, stack: Stack) -> None:
    resumed: list[str | None] = []
    dropped: list[str] = []

    def drop_after_first_event(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch()
        first = re.split(r"\r?\n\r?\n", answer.text())[0] + "\r\n\r\n"  # the connection drops after one event
        dropped.append(first)
        route.fulfill(status=answer.status, headers=answer.headers, body=first)

    page.route(lambda url: "/messages?" in url and "stream=true" in url, drop_after_first_event)
    page.on("request", lambda r: resumed.append(r.headers.get("last-event-id")) if r.url.endswith("/events") else None)
    page.goto(stack.api + "/", wait_until="networkidle")
    page.get_by_role("button", name="New session").click()
    send(page, "what is 17 * 23?")
    page.get_by_text("391").first.wait_for()
    assert dropped and "id:" in dropped[0], dropped
    assert resumed and resumed[0], (resumed, dropped)  # resumed after the event it had, not from the start
    assert page.errors == [], page.errors
