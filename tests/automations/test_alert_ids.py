"""Alert ids as people and models write them: matched whatever their case; an identical alert
is refused naming the one the user has; "stop the ETH alert" with several asks which, and the
offered id alone as the answer deletes it."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from core.errors import ConflictError, NotFoundError
from core.settings import Settings
from services.alerts import AlertCreate, AlertService
from services.tools.automations import _pick
from services.tools.automations_phrases import parse_automation_intent


async def test_an_identical_alert_is_refused_and_ids_match_in_any_case(
    client: Client, settings: Settings, worker: None
) -> None:
    owner = f"alice-{uuid.uuid4().hex[:6]}"
    symbol = f"I{uuid.uuid4().hex[:6].upper()}"  # a watch of this test's own (its task queue)
    alerts = AlertService(client, settings.model_copy(update={"alert_symbols": [symbol]}))
    first = await alerts.create(owner, AlertCreate(kind="price", symbol=symbol, above=5000))
    with pytest.raises(ConflictError) as refused:
        await alerts.create(owner, AlertCreate(kind="price", symbol=symbol.lower(), above=5000))
    assert first.alert_id in str(refused.value)
    other = await alerts.create(owner, AlertCreate(kind="price", symbol=symbol, above=6000))  # not identical
    assert len(await alerts.list(owner)) == 2

    assert (await alerts.get(owner, first.alert_id.lower())).alert_id == first.alert_id
    await alerts.delete(owner, first.alert_id.lower())
    await alerts.delete(owner, other.alert_id.upper())
    with pytest.raises(NotFoundError):
        await alerts.get(owner, first.alert_id)


def test_the_offered_id_alone_answers_which_alert() -> None:
    offered: list[tuple[str, str, int | None]] = [
        ("price.ETH.0a1b2c3d4e", "ETH above 4000", None),
        ("price.ETH.9f8e7d6c5b", "ETH below 3000", None),
    ]
    with pytest.raises(Exception, match="which alert do you mean"):
        _pick("eth", offered, "alert")
    answer = parse_automation_intent("price.eth.9f8e7d6c5b", {"delete_alert", "list_alerts"})
    assert answer is not None and answer[0] == "delete_alert"
    tool, args = answer
    assert _pick(args["alert"], offered, "alert") == "price.ETH.9f8e7d6c5b"
    assert parse_automation_intent("price.eth.9f8e7d6c5b", {"list_alerts"}) is None
