"""The activity boundary: domain errors become Temporal failures with the right retry semantics."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from core.errors import PermanentError

T = TypeVar("T")


async def permanent_errors_not_retried(call: Awaitable[T]) -> T:
    """Await ``call``; permanent failures become non-retryable ApplicationErrors.

    Transient errors (and anything unknown) propagate and Temporal retries them.
    """
    try:
        return await call
    except PermanentError as exc:
        raise ApplicationError(str(exc), type=type(exc).__name__, non_retryable=True) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'args'}: {e['msg']}" for e in exc.errors())
        raise ApplicationError(f"invalid arguments: {problems}", type="BadInputError", non_retryable=True) from None
