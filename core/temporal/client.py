"""The one Temporal client factory: API, workers, CLI, tests and the replayer use it.

Its data converter is the pydantic converter plus the encrypting payload codec
(temporal/codec.py), so every payload any process writes to history is encrypted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.service import RPCError

from core.settings import Settings
from core.temporal.codec import EncryptionCodec, build_codec

log = logging.getLogger(__name__)
#: without the codec: only for reading histories recorded before it (and for tests that
#: look at history the way `temporal workflow show` does)
PLAIN_DATA_CONVERTER = pydantic_data_converter


def data_converter(settings: Settings) -> DataConverter:
    """The pydantic converter with the payload codec (unless ``codec_enabled`` is off)."""
    return with_codec(build_codec(settings))


def with_codec(codec: EncryptionCodec | None) -> DataConverter:
    if codec is None:
        return PLAIN_DATA_CONVERTER
    return dataclasses.replace(
        PLAIN_DATA_CONVERTER,
        payload_codec=codec,
        # failure messages and stack traces can quote tool arguments: encrypt them too
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def interceptors() -> list[Interceptor]:
    """The client's interceptors (workers built on the client get them too): temporalio's
    OpenTelemetry TracingInterceptor when this process traces (core/telemetry/tracing.py); it
    emits no span while a workflow replays."""
    from core.telemetry import tracing

    if not tracing.enabled():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


async def connect(settings: Settings, *, wait_seconds: float = 0) -> Client:
    """Connect to the configured Temporal server; retry for up to ``wait_seconds``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    converter = data_converter(settings)
    while True:
        try:
            return await Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                data_converter=converter,
                interceptors=interceptors(),
            )
        except (RuntimeError, RPCError, OSError) as exc:
            if loop.time() >= deadline:
                raise ConnectionError(f"cannot reach Temporal at {settings.temporal_address}: {exc}") from None
            log.info("Temporal at %s not reachable yet, retrying", settings.temporal_address)
            await asyncio.sleep(0.5)
