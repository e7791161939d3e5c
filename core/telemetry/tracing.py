"""OpenTelemetry traces: off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``, or
the ``otel_endpoint`` setting) is given; then spans go over OTLP (``OTEL_EXPORTER_OTLP_PROTOCOL``:
``http/protobuf``, the default, or ``grpc``), batched, with the standard ``OTEL_*`` variables
honoured by the SDK (service name, resource attributes, batch delays, headers).

One trace per turn: the API's request span (FastAPI instrumentation), the Temporal client call
and, through temporalio's ``TracingInterceptor`` (which emits nothing while a workflow replays),
the workflow's handler and every node and tool activity; the LLM call and chain sends add spans
of their own (:func:`span`). The message carries its request's trace context into the session
(``UserMessage.trace``), so the turn's activities join the trace of the request that sent it.

Attributes name the session, the turn, the model and counts; a user only as a hash (``user_ref``).
Never chat text, keys or addresses.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

log = logging.getLogger(__name__)

_enabled = False
_tracer = trace.get_tracer("impressox")


def tracing_wanted(endpoint: str | None = None, environ: Mapping[str, str] = os.environ) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true" or environ.get("OTEL_TRACES_EXPORTER") == "none":
        return False
    return bool(
        endpoint or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup_tracing(service: str, endpoint: str | None = None, exporter: Any = None) -> bool:
    """Install this process's tracer provider (service name ``impressox-<service>`` unless
    OTEL_SERVICE_NAME says otherwise). ``exporter``: a given span exporter (tests), else OTLP.
    Returns whether traces are on. Idempotent."""
    global _enabled
    if _enabled:
        return True
    if exporter is None and not tracing_wanted(endpoint):
        return False
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"impressox-{service}"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(endpoint)))
    trace.set_tracer_provider(provider)
    _enabled = True
    log.info("traces on: service %s", name)
    return True


def _otlp_exporter(endpoint: str | None) -> Any:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    )
    if protocol.startswith("grpc"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        return Grpc(endpoint=endpoint) if endpoint else Grpc()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    # the generic endpoint gets /v1/traces appended by the exporter; a setting is taken as the generic one
    return Http(endpoint=endpoint.rstrip("/") + "/v1/traces") if endpoint else Http()


def enabled() -> bool:
    return _enabled


def user_ref(user: str) -> str:
    """A user as a span attribute: a short hash, stable across processes."""
    return hashlib.sha256(f"impressox-user:{user}".encode()).hexdigest()[:16]


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span of ours (a no-op one while traces are off); None-valued attributes are left out."""
    if not _enabled:
        yield trace.INVALID_SPAN
        return
    # exceptions are not recorded: their messages may quote what the span must never hold
    with _tracer.start_as_current_span(name, record_exception=False, set_status_on_exception=False) as s:
        s.set_attributes({k: v for k, v in attributes.items() if v is not None})
        try:
            yield s
        except BaseException as exc:
            s.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            raise


def current_carrier() -> dict[str, str]:
    """The current trace context as W3C headers (empty when nothing is traced)."""
    if not _enabled:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def trace_id_of(carrier: Mapping[str, str] | None) -> str | None:
    """The trace id in a W3C ``traceparent`` (``00-<trace id>-<span id>-<flags>``)."""
    parts = (carrier or {}).get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


@contextmanager
def attached(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block in the trace context of ``carrier`` (nothing changes without one)."""
    if not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(dict(carrier)))
    try:
        yield
    finally:
        otel_context.detach(token)
