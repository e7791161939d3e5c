"""The chat as a person uses it, at a desktop width (1280) and a phone's (390), in Chromium against
a real stack: the status says what the agent is doing while it streams, the approval card sits
above the composer without scrolling, decisions show once and coloured by outcome, errors say what
to do, copy and the keyboard work, sessions have titles, search, rename, end and a Temporal UI
link, schedules show their runs' answers, notifications link to where they came from, the link
code shows, and nothing asks for a key in keyless mode. Screenshots at both widths go to
docs/screenshots/."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.web.conftest import ACCOUNTS, SCREENSHOTS, Stack, api_get

NOCASE = re.IGNORECASE
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
BUSY = re.compile(r"typing|thinking|running", NOCASE)
GREEN_BG, RED_BG = "rgb(232, 245, 233)", "rgb(253, 236, 234)"


def api_post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r) if r.status != 204 else None


@pytest.fixture(params=list(WIDTHS))
def view(request: pytest.FixtureRequest, browser: Any, stack: Stack) -> Iterator[Any]:
    """A fresh tab at the width, with the clipboard allowed, recording requests outside the API and page errors."""
    w, h = WIDTHS[request.param]
    context = browser.new_context(viewport={"width": w, "height": h})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.api)
    p = context.new_page()
    p.width_name = request.param
    p.narrow = w < 700
    p.outside = []
    p.errors = []
    p.on("request", lambda r: None if r.url.startswith((stack.api, "data:", "blob:")) else p.outside.append(r.url))
    p.on("pageerror", lambda e: p.errors.append(str(e)))
    p.set_default_timeout(60_000)
    yield p
    context.close()


def open_menu(page: Any) -> None:
    """At phone width the menu (pages and sessions) is folded behind a 'Menu' button."""
    if page.narrow:
        toggle = page.get_by_role("button", name="Menu")
        if toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
        expect(page.get_by_role("button", name="New session")).to_be_visible()


def close_menu(page: Any) -> None:
    if page.narrow and page.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "true":
        page.get_by_role("button", name="Menu").click()


def new_session(page: Any, stack: Stack) -> str:
    page.goto(stack.api + "/", wait_until="networkidle")
    open_menu(page)
    page.get_by_role("button", name="New session").click()
    page.wait_for_url(re.compile(r"#/sessions/.+"))
    if page.narrow:  # choosing closes the drawer
        expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "false")
    return urllib.parse.unquote(page.url.split("#/sessions/")[1])


def composer(page: Any) -> Any:
    return page.get_by_role("textbox", name="Message")


def say(page: Any, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")


def in_view(page: Any, locator: Any) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return (
        box is not None
        and box["y"] >= 0
        and box["y"] + box["height"] <= size["height"]
        and box["x"] >= 0
        and (box["x"] + box["width"] <= size["width"])
    )


def test_chat_streams_with_a_live_status_and_pins_the_approval(view: Any, stack: Stack) -> None:
    page = view
    sid = new_session(page, stack)
    # keyless mode: nothing offers or asks for a key
    assert page.get_by_role("button", name="API key").count() == 0
    assert page.get_by_text(re.compile("needs a key", NOCASE)).count() == 0

    # Shift+Enter adds a line, Enter sends
    composer(page).fill("what is 17 * 23?")
    composer(page).press("Shift+Enter")
    assert composer(page).input_value() == "what is 17 * 23?\n"
    composer(page).press("Enter")
    page.get_by_text("391").first.wait_for()
    status = page.get_by_role("status", name="Agent status")
    expect(status).to_have_text("Ready")

    # the status says what happens while the long answer streams, then goes back to Ready
    say(page, "help")
    expect(status).to_have_text(BUSY, timeout=30_000)
    assert page.get_by_text(re.compile(r"^idle$", NOCASE)).count() == 0
    expect(status).to_have_text("Ready", timeout=60_000)
    # timestamps on messages, and a copy button that copies the message
    assert page.locator("time").count() >= 4
    page.get_by_role("button", name="Copy message").nth(1).click()
    assert "391" in page.evaluate("navigator.clipboard.readText()")

    # Stop: wired to the cancel endpoint when this API has it, else shown disabled
    stop = page.get_by_role("button", name="Stop")
    if "cancel" in api_get(stack.api + "/v1/client")["features"]:
        say(page, "help")
        expect(status).to_have_text(BUSY, timeout=30_000)
        page.keyboard.press("Escape")
        expect(status).to_have_text("Ready", timeout=30_000)
    else:
        expect(stop).to_be_disabled()

    # a transfer: the approval card is above the composer, in view with the page unscrolled
    recipient = ACCOUNTS[3]
    before = stack.balance(recipient)
    say(page, f"send 0.01 ETH to {recipient}")
    card = page.get_by_role("group", name="Pending approval")
    card.wait_for()
    expect(status).to_have_text("waiting for your approval")
    approve = card.get_by_role("button", name="Approve")
    assert page.evaluate("window.scrollY") == 0 and in_view(page, approve), approve.bounding_box()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SCREENSHOTS / f"chat-{page.width_name}.png"))
    approve.click()
    decision = page.locator(".decision")
    expect(decision).to_have_count(1)
    expect(decision).to_contain_text("Approved")
    assert decision.evaluate("e => getComputedStyle(e).backgroundColor") == GREEN_BG
    page.locator("text=/0x[0-9a-fA-F]{64}/").first.wait_for()
    for _ in range(60):
        if stack.balance(recipient) - before == 10**16:
            break
        page.wait_for_timeout(500)
    assert stack.balance(recipient) - before == 10**16
    # the approved turn's answer streams on after the decision: the composer sends again once it
    # is written (Enter while an answer streams adds a line, as in any chat on assistant-ui)
    expect(status).to_have_text("Ready", timeout=30_000)

    # a rejected one: its decision replaces the last, red
    say(page, f"send 0.02 ETH to {recipient}")
    page.get_by_role("group", name="Pending approval").get_by_role("button", name="Reject").click()
    expect(decision).to_have_count(1)
    expect(decision).to_contain_text("Rejected")
    assert decision.evaluate("e => getComputedStyle(e).backgroundColor") == RED_BG
    assert stack.balance(recipient) - before == 10**16

    # the session list: titled by the first message, searchable, renamed, linked to the Temporal UI, ended
    open_menu(page)
    sessions = page.get_by_role("complementary", name="Sessions")
    # newest first: this run's session (a failed run of the other viewport may have left one titled alike)
    entry = sessions.get_by_role("link", name=re.compile(r"what is 17 \* 23\?")).first
    expect(entry).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / f"sessions-{page.width_name}.png"))
    ui = sessions.get_by_role("link", name="Temporal UI")
    assert ui.get_attribute("href").endswith(f"/namespaces/default/workflows/{urllib.parse.quote(sid, safe='')}")
    sessions.get_by_role("button", name="Rename").click()
    # one title per viewport: the other viewport's run, on the same stack, left its session in the list
    title = f"Sums and sends on {page.width_name}"
    sessions.get_by_role("textbox", name="Session title").fill(title)
    sessions.get_by_role("button", name="Save").click()
    expect(sessions.get_by_role("link", name=re.compile(title))).to_be_visible()
    search = sessions.get_by_role("searchbox", name="Search sessions")
    search.fill(title.lower())
    expect(sessions.get_by_role("link", name=re.compile(title))).to_be_visible()
    search.fill("no such session zzz")
    expect(sessions.get_by_text("No session matches.")).to_be_visible()
    search.fill("")
    sessions.get_by_role("button", name="End session").click()
    sessions.get_by_role("button", name="Yes, end it").click()
    expect(sessions.get_by_role("link", name=re.compile(title)).get_by_text("ended")).to_be_visible()
    # the server ended it too (its list trails the end by a moment: visibility is eventually consistent)
    deadline = time.monotonic() + 30
    while True:
        listed = {s["session_id"]: s for s in api_get(stack.api + "/v1/sessions")}
        if listed[sid]["status"].lower() != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert listed[sid]["status"].lower() != "running", listed[sid]
    close_menu(page)
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_a_failed_send_says_what_to_do(view: Any, stack: Stack) -> None:
    page = view
    new_session(page, stack)
    page.route(lambda url: "/messages" in url, lambda route: route.abort())
    say(page, "what is 2 + 2?")
    alert = page.get_by_role("alert").filter(has_text=re.compile("Cannot reach the API.*send again"))
    expect(alert).to_be_visible()
    assert alert.evaluate("e => getComputedStyle(e).backgroundColor") == RED_BG
    expect(page.get_by_role("status", name="Agent status")).to_have_text("Ready")


def test_schedules_show_their_runs_and_notifications_link_back(view: Any, stack: Stack) -> None:
    page = view
    prompt, answer = ("what is 6 * 7?", "42") if page.width_name == "desktop" else ("what is 6 * 8?", "48")
    schedule = {"prompt": prompt, "every_seconds": 3600, "timezone": "UTC", "agent": "assistant"}
    api_post(stack.api + "/v1/schedules", schedule)
    page.goto(stack.api + "/#/schedules", wait_until="networkidle")
    card = page.get_by_role("listitem").filter(has_text=prompt)
    expect(card.get_by_text("No runs yet")).to_be_visible()
    card.get_by_role("button", name="Run now").click()
    runs = card.get_by_role("region", name="Recent runs")
    expect(runs.get_by_text(re.compile(rf"\b{answer}\b")).first).to_be_visible(timeout=90_000)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SCREENSHOTS / f"schedules-{page.width_name}.png"), full_page=True)

    # the run's notification leads to the session that answered it
    open_menu(page)
    page.get_by_role("link", name=re.compile("^Notifications")).click()
    item = page.get_by_role("listitem").filter(has_text=re.compile(rf"= {answer}\b")).first
    link = item.get_by_role("link", name="Open its session")
    expect(link).to_be_visible(timeout=60_000)
    link.click()
    page.wait_for_url(re.compile(r"#/sessions/.+"))
    expect(page.get_by_text(prompt).first).to_be_visible()
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)


def test_link_code_and_the_vault_fit_the_width(view: Any, stack: Stack) -> None:
    page = view
    page.goto(stack.api + "/", wait_until="networkidle")
    open_menu(page)
    page.get_by_role("link", name="Linked chats").click()
    page.get_by_role("button", name=re.compile("link code", NOCASE)).click()
    expect(page.get_by_role("status").filter(has_text=re.compile(r"/link \d{8}\b"))).to_be_visible()
    code = page.locator(".link-code").inner_text()
    assert re.fullmatch(r"\d{8}", code), code
    open_menu(page)
    page.get_by_role("link", name="Vault").click()
    page.get_by_role("cell", name="ETH").first.wait_for()
    # the page never scrolls sideways: a wide table scrolls inside its own box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(SCREENSHOTS / f"vault-{page.width_name}.png"), full_page=True)
    assert page.outside == [] and page.errors == [], (page.outside, page.errors)
