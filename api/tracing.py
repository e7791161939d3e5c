"""The API's request spans (OpenTelemetry's FastAPI instrumentation, when traces are on) and the
trace id of each request in an ``X-Trace-Id`` response header, so a slow or failed turn can be
found in the tracing backend from what the client saw."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.telemetry import tracing

TRACE_HEADER = b"x-trace-id"


class TraceIdHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start" and (trace_id := tracing.current_trace_id()):
                message["headers"] = [*message.get("headers", []), (TRACE_HEADER, trace_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def instrument(app: FastAPI) -> None:
    if not tracing.enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    app.add_middleware(TraceIdHeader)  # inside the instrumentation's span: the id is the request's
    # the URL is kept (session ids, no text); request and response bodies never are
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,metrics", exclude_spans=["receive", "send"])
