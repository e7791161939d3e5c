"""Fund safety, second level (issue 21), in Chromium against a real stack whose undo window holds
every approved transfer for 8 s: the approval card shows what the transfer will do (the vault's and
the recipient's balance before and after, from the simulation) and those are the balances the
chain has once it is mined; an approved transfer waits in a card with a countdown and Cancel
(cancelled, nothing is sent and the transcript says so; left alone, it is sent when the window
ends and the card goes); the Vault page freezes the vault on-chain, says it is frozen and shows the
owner's unpause() transaction, a transfer asked for meanwhile is refused without an approval card,
and once the owner's wallet unpauses the page shows it running again."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from chain.simulation import show
from tests.web.conftest import ACCOUNTS, Stack, api_get, rpc, send_tx
from tests.web.test_chat_ui import new_session, say

STACK_ENV = {"IMPRESSOX_TRANSFER_DELAY_SECONDS": "8", "IMPRESSOX_TRANSFER_DELAY_MIN_USD": "0"}
NOCASE = re.IGNORECASE
#: keccak("paused()")[:4] and keccak("unpause()")[:4]
PAUSED, UNPAUSE = "0x5c975abb", "0x3f4ba83a"
RECIPIENT = ACCOUNTS[2]
#: an injected wallet (window.ethereum) that records what the page asks of it and sends nothing
WALLET_STUB = """
window.__wallet = [];
window.ethereum = {
  request: async (req) => {
    window.__wallet.push(req);
    if (req.method === "eth_requestAccounts") return [];
    if (req.method === "eth_sendTransaction") return "0x" + "ab".repeat(32);
    throw new Error("unsupported " + req.method);
  },
};
"""
#: generous: the machine running the tests is loaded
SLOW = 90_000


def eth(wei: int) -> str:
    return show(wei, 18, "ETH")


def is_paused(stack: Stack, vault: str) -> bool:
    return int(rpc(stack.chain, "eth_call", {"to": vault, "data": PAUSED}, "latest"), 16) == 1


def read_card(page: Any) -> tuple[str, str]:
    """The pending approval card's simulated balances after the transfer: (vault, recipient)."""
    card = page.get_by_role("group", name="Pending approval")
    expect(card).to_be_visible(timeout=SLOW)
    expect(card).to_contain_text(RECIPIENT)  # the real recipient and amount stay visible
    expect(card).to_contain_text("0.01 ETH")
    expect(card).to_contain_text("Network fee")
    expect(card).to_contain_text("Limit left today after")
    vault_row = card.get_by_label("Vault balance")
    recipient_row = card.get_by_label("Recipient balance")
    expect(vault_row).to_contain_text("→")
    expect(recipient_row).to_contain_text("→")
    vault_after = vault_row.inner_text().split("→")[1].strip()
    recipient_after = recipient_row.inner_text().split("→")[1].strip()
    assert "E-" not in vault_after + recipient_after  # never scientific notation
    return vault_after, recipient_after


def ask_and_approve(page: Any, text: str) -> tuple[str, str]:
    """Ask for a transfer, read the card's simulated balances, approve; the two 'after' texts."""
    expect(page.get_by_role("status", name="Agent status")).to_have_text("Ready", timeout=SLOW)
    say(page, text)
    after = read_card(page)
    page.get_by_role("group", name="Pending approval").get_by_role("button", name="Approve").click()
    return after


def pending_ids(stack: Stack, sid: str) -> list[str]:
    return [p["call_id"] for p in api_get(f"{stack.api}/v1/sessions/{sid}")["pending_approvals"]]


def test_the_card_shows_the_balances_the_chain_gets_and_cancel_stops_the_send(page: Any, stack: Stack) -> None:
    page.narrow = False
    vault = stack.vault()
    sid = new_session(page, stack)
    scheduled = page.get_by_role("group", name="Scheduled transfer")
    card = page.get_by_role("group", name="Pending approval")

    # the chain moves after the card was shown: Approve is refused (409), the page says why, and
    # the card (the same call, still pending) shows the effect simulated on the chain as it is now
    say(page, f"send 0.01 ETH to {RECIPIENT}")
    _, shown = read_card(page)
    [first] = pending_ids(stack, sid)
    rpc(stack.chain, "eth_sendTransaction", {"from": ACCOUNTS[1], "to": RECIPIENT, "value": "0x1"})
    card.get_by_role("button", name="Approve").click()
    expect(page.locator(".decision")).to_contain_text(re.compile("approval refused.*Nothing was sent"), timeout=SLOW)
    expect(page.get_by_role("status", name="Agent status")).to_have_text("waiting for your approval")
    expect(card).to_be_visible(timeout=SLOW)
    expect(card.get_by_label("Recipient balance")).not_to_contain_text(shown, timeout=SLOW)
    assert pending_ids(stack, sid) == [first]

    # cancelled in its undo window: nothing is sent, and the page and the transcript say so
    before = stack.balance(RECIPIENT)
    card.get_by_role("button", name="Approve").click()
    expect(scheduled).to_be_visible(timeout=SLOW)
    expect(scheduled).to_contain_text(RECIPIENT)
    expect(scheduled.get_by_role("timer")).to_have_text(re.compile(r"sends in \d+ s"))
    scheduled.get_by_role("button", name="Cancel").click()
    expect(page.locator(".decision")).to_contain_text("Cancelled: nothing was sent", timeout=SLOW)
    expect(scheduled).to_have_count(0, timeout=SLOW)
    expect(page.locator(".msg.assistant").last).to_contain_text(re.compile("cancel", NOCASE), timeout=SLOW)
    page.wait_for_timeout(10_000)  # past the window it would have been sent in
    assert stack.balance(RECIPIENT) == before

    # left alone: sent when the window ends, the card goes, and the chain has the simulated balances
    vault_after, recipient_after = ask_and_approve(page, f"send 0.01 ETH to {RECIPIENT}")
    expect(scheduled).to_be_visible(timeout=SLOW)
    expect(scheduled.get_by_role("button", name="Cancel")).to_be_enabled()
    expect(scheduled).to_have_count(0, timeout=SLOW)
    expect(page.locator("text=/0x[0-9a-fA-F]{64}/").first).to_be_visible(timeout=SLOW)
    for _ in range(60):
        if stack.balance(RECIPIENT) != before:
            break
        page.wait_for_timeout(500)
    assert stack.balance(RECIPIENT) - before == 10**16
    assert (recipient_after, vault_after) == (eth(stack.balance(RECIPIENT)), eth(stack.balance(vault)))
    assert page.errors == [] and page.outside == [], (page.errors, page.outside)


def test_freeze_on_the_vault_page_stops_transfers_until_the_owner_unpauses(page: Any, stack: Stack) -> None:
    page.narrow = False
    info = api_get(f"{stack.api}/v1/vault")
    vault, owner = info["address"], info["owner"]
    page.goto(stack.api + "/#/vault", wait_until="networkidle")
    state = page.get_by_role("status", name="Vault state")
    expect(state).to_have_text(re.compile("^Not frozen"), timeout=SLOW)
    page.get_by_role("button", name="Freeze vault").click()
    confirm = page.get_by_role("alertdialog", name="Confirm freeze")
    expect(confirm).to_contain_text("only the owner wallet")
    assert not is_paused(stack, vault)  # nothing happens before the confirmation
    confirm.get_by_role("button", name="Yes, freeze it").click()
    expect(state).to_have_text(re.compile("^Frozen"), timeout=SLOW)
    assert is_paused(stack, vault)
    tx = page.get_by_role("definition").filter(has_text=re.compile(r"^0x3f4ba83a"))
    expect(tx).to_be_visible()
    how = page.get_by_role("region", name="How to unfreeze")
    expect(how).to_contain_text(owner)
    expect(how.get_by_label("cast command")).to_contain_text(f'cast send {vault} "unpause()" --from {owner}')
    assert page.get_by_role("button", name=re.compile("unfreeze", NOCASE)).count() == 0  # no wallet in this browser
    # after a reload (no freeze answer at hand) the same transaction, built from the vault
    page.reload(wait_until="networkidle")
    expect(state).to_have_text(re.compile("^Frozen"), timeout=SLOW)
    expect(how).to_contain_text(UNPAUSE)
    expect(how).to_contain_text(owner)

    # a transfer asked for meanwhile is refused: no approval card
    new_session(page, stack)
    say(page, f"send 0.01 ETH to {RECIPIENT}")
    expect(page.locator(".msg.assistant").last).to_contain_text(re.compile("frozen", NOCASE), timeout=SLOW)
    expect(page.get_by_role("status", name="Agent status")).to_have_text("Ready", timeout=SLOW)
    assert page.get_by_role("group", name="Pending approval").count() == 0

    # with an injected wallet (a stub recording its requests) the page offers to send unpause();
    # the stub's transaction is then sent as the owner's wallet would (anvil's unlocked account 0)
    page.add_init_script(WALLET_STUB)
    page.goto(stack.api + "/#/vault")
    page.reload(wait_until="networkidle")  # a hash change alone loads no page: the stub needs a load
    expect(state).to_have_text(re.compile("^Frozen"), timeout=SLOW)
    how.get_by_role("button", name="Unfreeze with my wallet").click()
    expect(how).to_contain_text("Sent: transaction 0x" + "ab" * 32)
    [sent] = [r["params"][0] for r in page.evaluate("window.__wallet") if r["method"] == "eth_sendTransaction"]
    assert sent == {"from": owner, "to": vault, "data": UNPAUSE, "value": "0x0", "chainId": hex(info["chain_id"])}
    send_tx(stack.chain, {k: sent[k] for k in ("from", "to", "data", "value")})
    assert not is_paused(stack, vault)
    expect(state).to_have_text(re.compile("^Not frozen"), timeout=SLOW)
    expect(page.get_by_role("button", name="Freeze vault")).to_be_visible()
    assert page.errors == [] and page.outside == [], (page.errors, page.outside)
