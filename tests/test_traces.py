"""Traces with the OpenTelemetry SDK's in-memory exporter: one trace per turn from the API's request
span through the Temporal client call, the workflow and its node and tool activities to the LLM
call; its id in the response header and the turn's result; no chat text in any attribute; a
replayed history emits no span."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.worker import Replayer

from api.app import create_app
from core.cache import Cache
from core.settings import Settings
from core.telemetry import tracing
from core.temporal.client import connect
from services.tools import load_tools
from temporal.sandbox import WORKFLOW_RUNNER
from temporal.worker import WORKFLOWS, build_worker

TEXT = "what is 1717 * 23?"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    if not tracing.setup_tracing("test", exporter=spans):
        pytest.fail("traces could not be set up")
    yield spans
    # the tracer provider stays (it is set once per process); later tests' clients get no interceptor
    tracing._enabled = False
    spans.shutdown()


@pytest.fixture
async def traced_api(exporter: InMemorySpanExporter, settings: Settings, cache: Cache) -> AsyncIterator[tuple]:
    client: Client = await connect(settings, wait_seconds=10)  # traces on: with the TracingInterceptor
    app = create_app(settings)
    async with build_worker(client, settings, load_tools(settings.tool_modules), cache):
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as http:
                yield http, client


def attribute_strings(span) -> list[str]:
    values = [*(span.attributes or {}).values(), *span.resource.attributes.values()]
    for event in span.events:
        values += list((event.attributes or {}).values())
    out: list[str] = []
    for v in values:
        out += [str(x) for x in v] if isinstance(v, tuple | list) else [str(v)]
    return out


async def test_one_trace_per_turn_without_the_chat_text(traced_api, exporter: InMemorySpanExporter) -> None:
    http, client = traced_api
    sid = (await http.post("/v1/sessions", json={"agent": "assistant"})).json()["session_id"]
    exporter.clear()
    r = await http.post(f"/v1/sessions/{sid}/messages", json={"text": TEXT})
    assert r.status_code == 200 and "39491" in r.json()["reply"].replace(",", "")
    trace_id = r.headers["x-trace-id"]
    assert len(trace_id) == 32 and r.json()["trace_id"] == trace_id
    spans = [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
    names = {s.name for s in spans}
    assert "POST /v1/sessions/{session_id}/messages" in names
    assert any(n.startswith("StartWorkflowUpdate:") for n in names), names
    assert {"RunActivity:node.llm", "RunActivity:tool.calculator", "llm.call", "tool calculator"} <= names, names
    llm = dict(next(s for s in spans if s.name == "llm.call").attributes or {})
    assert llm["impressox.session_id"] == sid and int(str(llm["llm.usage.prompt_tokens"])) > 0
    assert "llm.cost_usd" in llm and llm["llm.cache_hit"] is False
    # nothing the user wrote, in any span of any trace
    for s in exporter.get_finished_spans():
        assert not any("1717" in v for v in attribute_strings(s)), (s.name, s.attributes)

    # replaying the session's history (as a restarted worker does) emits no span
    history = await client.get_workflow_handle(sid).fetch_history()
    exporter.clear()
    await Replayer(
        workflows=WORKFLOWS,
        data_converter=client.data_converter,
        workflow_runner=WORKFLOW_RUNNER,
        interceptors=[TracingInterceptor()],
    ).replay_workflow(history)
    assert exporter.get_finished_spans() == ()
