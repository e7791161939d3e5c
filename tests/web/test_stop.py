"""The Stop button in Chromium against a real stack whose offline model writes a word every 300 ms
(its "help" answer takes about 25 s): while the answer streams, Stop is enabled; pressed, the answer
ends where it was, marked as stopped (also after a reload), the session keeps that text as the
cancelled turn's answer, and the next message is answered."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.web.conftest import Stack, api_get
from tests.web.test_chat_ui import new_session, say

STACK_ENV = {"IMPRESSOX_OFFLINE_TOKEN_DELAY_MS": "300"}
#: the end of the whole "help" answer (never shown when it is stopped early)
LAST_WORDS = "list my alerts"


def words(text: str) -> str:
    return " ".join(text.split())


def test_stop_button_stops_the_answer_and_the_next_message_is_answered(page: Any, stack: Stack) -> None:
    page.narrow = False
    sid = new_session(page, stack)
    status = page.get_by_role("status", name="Agent status")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_disabled()  # nothing to stop

    say(page, "help")
    answer = page.locator(".msg.assistant").filter(has_text="I am the offline model")
    expect(answer).to_contain_text("I can help with")  # it is being written
    expect(status).to_have_text("typing…")
    expect(stop).to_be_enabled()
    stop.click()
    mark = answer.get_by_role("note")
    expect(mark).to_have_text("Stopped: the answer ends here.")
    expect(status).to_have_text("Ready")
    expect(stop).to_be_disabled()

    view = api_get(f"{stack.api}/v1/sessions/{sid}")
    assert view["current_turn"] is None
    [kept] = [m for m in view["messages"] if m["role"] == "assistant"]
    assert kept["status"] == "cancelled" and LAST_WORDS not in kept["content"]
    assert words(kept["content"]) in words(answer.inner_text())  # the page shows what was kept
    cut = answer.inner_text()

    say(page, "what is 6 * 7?")
    expect(page.locator(".msg.assistant").last).to_contain_text("42", timeout=60_000)
    expect(status).to_have_text("Ready")
    assert answer.inner_text() == cut  # the stopped answer did not grow meanwhile
    assert page.get_by_role("note").count() == 1  # the answered one is not marked

    page.reload(wait_until="networkidle")
    expect(answer.get_by_role("note")).to_have_text("Stopped: the answer ends here.")
    assert LAST_WORDS not in answer.inner_text()
    assert page.errors == [] and page.outside == [], (page.errors, page.outside)
