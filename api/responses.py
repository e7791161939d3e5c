"""The API's one error shape, ``{"error": ..., "detail": ...}``, for code that answers before
FastAPI runs (the ASGI middlewares) as well as for the exception handlers."""

from __future__ import annotations

import json

from starlette.types import Send


def error_body(error: str, detail: object = None) -> bytes:
    return json.dumps({"error": error, "detail": detail}).encode()


async def send_json_error(send: Send, status: int, error: str, headers: dict[str, str] | None = None) -> None:
    """Answer a raw ASGI request with a JSON error (the request body, if any, is left unread:
    the server discards it)."""
    body = error_body(error)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
