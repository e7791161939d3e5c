"""One domain error hierarchy for the platform.

Permanent errors become non-retryable Temporal ApplicationErrors at the activity
boundary; transient errors propagate and Temporal retries them.
"""

from __future__ import annotations


class ImpressoxError(Exception):
    """Base of every error the platform raises on purpose."""

    retryable: bool = False


class ConfigError(ImpressoxError):
    """The configuration is invalid (raised at start-up)."""


class PermanentError(ImpressoxError):
    """Retrying cannot help: bad input, an on-chain revert, an auth failure."""


class BadInputError(PermanentError):
    """The caller's input is invalid; the message says what is wrong."""


class NotFoundError(PermanentError):
    """The thing asked for does not exist (or is not the caller's)."""


class TransientError(ImpressoxError):
    """A temporary failure (timeout, connection drop): retry later."""

    retryable = True


class ChainError(ImpressoxError):
    """Base for errors talking to an EVM chain."""


class ChainRevertError(ChainError, PermanentError):
    """The chain executed the call and reverted it: retrying repeats the revert."""

    #: the contract's custom error, e.g. "LimitExceeded", when it could be decoded
    error_name: str | None = None


class ChainUnavailableError(ChainError, TransientError):
    """The RPC node did not answer in time or refused the connection."""


class LLMError(ImpressoxError):
    """Base for errors from the LLM gateway."""

    #: an agent's fallback model is tried on this error (outage, timeout, rate limit, refused key)
    falls_back: bool = False
    #: why, for logs and metrics: auth, bad_request, rate_limit, timeout, server
    reason: str = "other"


class LLMPermanentError(LLMError, PermanentError):
    """Auth failures, bad requests, unknown models."""


class LLMTransientError(LLMError, TransientError):
    """Timeouts, rate limits, provider outages."""


class UnavailableError(TransientError):
    """A dependency (a worker, the Temporal server) did not answer in time; try again."""


class ConflictError(PermanentError):
    """The request conflicts with the current state (e.g. the session has ended)."""


class TurnConflictError(ConflictError):
    """A turn's state refuses the request: the session is busy (``reject`` policy) or the turn
    already ended. ``info`` goes into the 409 body, e.g. {"status": "busy", "turn": 3}."""

    def __init__(self, message: str, info: dict[str, object]) -> None:
        super().__init__(message)
        self.info = info


class SessionExistsError(ConflictError):
    """A session with the requested id is running (or, unless restarting, has run) already."""


class BudgetExceededError(PermanentError):
    """The user's daily budget (budget_usd_per_day) is spent: no new turn until it resets."""

    def __init__(self, message: str, resets_at: str) -> None:
        super().__init__(message)
        #: ISO 8601 UTC time the budget resets (the next UTC midnight)
        self.resets_at = resets_at
