"""The Temporal codec-server protocol on the API: operators read encrypted history.

``POST /codec/decode`` and ``POST /codec/encode`` take and give ``{"payloads": [{"metadata":
{k: base64}, "data": base64}]}``. The Temporal Web UI calls them from the operator's
browser (``impressox up`` starts it with ``--ui-codec-endpoint``), so CORS is answered,
but only for the configured Web UI origin. With API keys configured only operators
(``operator_users``) may call them; keyless loopback mode serves its one local user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import User
from core.settings import Settings
from core.temporal.codec import CodecError, EncryptionCodec

router = APIRouter(prefix="/codec", tags=["codec"])
#: a codec request is one history page's payloads at most; Temporal caps a payload at 2 MB
MAX_BODY_BYTES = 16 * 1024 * 1024


def _cors_headers(request: Request) -> dict[str, str]:
    settings: Settings = request.app.state.settings
    origin = (request.headers.get("origin") or "").rstrip("/")
    if not origin or origin not in settings.codec_cors_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "content-type, x-namespace, authorization",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@router.options("/{operation}", include_in_schema=False)
async def preflight(operation: Literal["encode", "decode"], request: Request) -> Response:
    """CORS preflight of the Web UI (no credentials are sent with it)."""
    return Response(status_code=204, headers=_cors_headers(request))


@router.post("/decode", summary="Decrypt payloads (Temporal codec server)")
async def decode(request: Request, user: User) -> Response:
    return await _apply(request, user, "decode")


@router.post("/encode", summary="Encrypt payloads (Temporal codec server)")
async def encode(request: Request, user: User) -> Response:
    return await _apply(request, user, "encode")


async def _apply(request: Request, user: str, operation: str) -> Response:
    settings: Settings = request.app.state.settings
    if settings.api_keys and user not in settings.operator_users:
        raise HTTPException(403, "only operators (operator_users) may use the codec endpoint")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(413, f"a codec request is at most {MAX_BODY_BYTES} bytes")
    try:
        payloads: Sequence[Payload] = json_format.Parse(body, Payloads()).payloads
    except (json_format.ParseError, UnicodeDecodeError, RecursionError, ValueError):
        raise HTTPException(400, 'expected {"payloads": [{"metadata": {...}, "data": "<base64>"}]}') from None
    # the codec the API's own client uses (None when codec_enabled is off: payloads pass through)
    codec = request.app.state.sessions.client.data_converter.payload_codec
    if codec is not None:
        try:
            if operation == "encode":
                payloads = await codec.encode(payloads)
            elif isinstance(codec, EncryptionCodec):  # shown as recorded: plain ones (markers) pass
                payloads = await codec.decode_for_reading(payloads)
            else:
                payloads = await codec.decode(payloads)
        except CodecError as exc:
            raise HTTPException(400, f"cannot decode: {exc}") from None
    return Response(
        json_format.MessageToJson(Payloads(payloads=payloads)),
        media_type="application/json",
        headers=_cors_headers(request),
    )
