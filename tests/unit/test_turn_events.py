"""A turn's stream events: the typed union parses what the writers emit, and the fold rebuilds the answer."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from api.app import create_app
from core.settings import Settings
from core.streams import EventKind
from core.turn_events import (
    ApprovalRequiredEvent,
    DoneEvent,
    ErrorEvent,
    InterruptedEvent,
    ResetEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnFold,
    parse_event,
)


@pytest.mark.parametrize(
    ("event", "data", "kind"),
    [
        # the shapes activities/nodes.py, activities/tools.py and services/streams.py emit
        ("token", {"text": "Hel", "step": 0}, TokenEvent),
        ("reset", {"step": 1, "attempt": 2}, ResetEvent),
        ("tool_call", {"call_id": "c1", "name": "calculator", "args": {"expression": "1+1"}}, ToolCallEvent),
        ("tool_result", {"call_id": "c1", "name": "calculator", "status": "ok", "result": "2"}, ToolResultEvent),
        ("error", {"step": 0, "attempt": 1, "message": "timeout", "final": False}, ErrorEvent),
        ("approval_required", {"reply": None, "status": "awaiting_approval", "approvals": [{}]}, ApprovalRequiredEvent),
        ("done", {"reply": "2", "status": "completed", "tool_calls": [], "usage": {}}, DoneEvent),
        ("interrupted", {"reply": "", "status": "interrupted"}, InterruptedEvent),
    ],
)
def test_each_event_the_writers_emit_parses_to_its_model(event: str, data: dict, kind: type) -> None:
    parsed = parse_event(event, json.dumps(data))
    assert parsed is not None and isinstance(parsed, kind)
    assert parsed.event == event


def test_extra_fields_are_kept_and_unknown_kinds_are_skipped() -> None:
    done = parse_event("done", '{"reply": "hi", "status": "completed", "message_id": "m1"}')
    assert isinstance(done, DoneEvent) and done.model_extra == {"message_id": "m1"}
    assert parse_event("a_kind_from_the_future", "{}") is None
    assert parse_event("token", "not json") is None
    assert parse_event("token", '["a list"]') is None


def test_the_fold_drops_a_retried_step_and_shows_the_running_tool() -> None:
    fold = TurnFold()
    for event, data in [
        ("token", {"text": "Let me ", "step": 0}),
        ("tool_call", {"call_id": "c1", "name": "get_token_price"}),
        ("tool_result", {"call_id": "c1", "name": "get_token_price", "result": "$3,000"}),
        ("token", {"text": "It is $3,00", "step": 1}),
        ("reset", {"step": 1, "attempt": 2}),
        ("token", {"text": "ETH is $3,000.", "step": 1}),
    ]:
        fold.apply(parse_event(event, json.dumps(data)))
        if event == "tool_call":
            assert fold.tool == "get_token_price"
    assert fold.text == "Let me ETH is $3,000."
    assert fold.tool is None and fold.end is None
    assert fold.apply(parse_event("done", '{"reply": "ETH is $3,000.", "status": "completed"}')) is False
    assert isinstance(fold.end, DoneEvent) and fold.end.reply == "ETH is $3,000."


def test_the_api_types_its_event_streams_with_the_union_of_every_kind() -> None:
    """The OpenAPI schema the web client's types are generated from (web/src/api/schema.d.ts, by
    `make web-schema`): both SSE responses are the union, and it names every kind a writer emits."""
    schema = create_app(Settings()).openapi()
    streamed = [
        response["content"]["text/event-stream"]["schema"]
        for path in schema["paths"].values()
        for operation in path.values()
        for response in operation.get("responses", {}).values()
        if "text/event-stream" in response.get("content", {})
    ]
    assert streamed == [{"$ref": "#/components/schemas/TurnStreamEvent"}] * 2
    components = schema["components"]["schemas"]
    mapping = components["TurnStreamEvent"]["discriminator"]["mapping"]
    assert set(mapping) == set(get_args(EventKind))
    for kind, ref in mapping.items():
        assert components[ref.rsplit("/", 1)[1]]["properties"]["event"]["const"] == kind
