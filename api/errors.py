"""Domain errors -> HTTP status codes, by type, in one place. No input makes the API answer 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError

from core.errors import (
    BadInputError,
    BudgetExceededError,
    ConflictError,
    ImpressoxError,
    NotFoundError,
    PermanentError,
    TransientError,
    UnavailableError,
)

log = logging.getLogger(__name__)

STATUS = [
    (NotFoundError, 404),
    (ConflictError, 409),
    (BadInputError, 422),
    (PermanentError, 400),
    (UnavailableError, 503),
    (TransientError, 503),
]


def _json(status: int, error: str, detail: object = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(BudgetExceededError)
    async def budget_spent(_: Request, exc: BudgetExceededError) -> JSONResponse:
        return JSONResponse({"error": "budget", "detail": str(exc), "resets_at": exc.resets_at}, status_code=429)

    @app.exception_handler(ImpressoxError)
    async def domain_error(_: Request, exc: ImpressoxError) -> JSONResponse:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
        response = _json(status, str(exc))
        info = getattr(exc, "info", None)  # e.g. a busy session's {"status": "busy", "turn": 3}
        if isinstance(info, dict):
            response = JSONResponse({"error": str(exc), "detail": None, **info}, status_code=status)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body", "message": e.get("msg")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return _json(422, f"invalid request: {summary}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail), "detail": None},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(ConnectionError)
    @app.exception_handler(RPCError)
    async def temporal_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("Temporal call failed: %s", exc)
        return _json(503, "the orchestration service is unavailable; try again shortly")

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        # a bug of ours: logged with its traceback by the server; the caller learns nothing internal
        return _json(500, "internal error; it has been logged")
