"""A model the configuration cannot reach, told as the setting to fix.

A missing or refused API key, an unknown model and a base URL nobody answers at are not outages:
retrying cannot help, so each becomes an ``LLMConfigError`` (permanent: not retried by Temporal)
whose message names the setting (``IMPRESSOX_LLM_API_KEY`` or the provider's own variable, the
agent's ``model``, ``IMPRESSOX_LLM_API_BASE``) instead of litellm's text about its own options.
Timeouts, rate limits and 5xx stay transient (``gateway._map_error``).
"""

from __future__ import annotations

import re
import socket

import httpx

from core.errors import LLMPermanentError

#: providers' own key variables, which litellm reads when IMPRESSOX_LLM_API_KEY is not set
PROVIDER_KEYS = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "azure": "AZURE_API_KEY",
}
_MISSING_KEY = re.compile(r"missing (credentials|\w+ api key)|api_key client option must be set|no api key", re.I)
_UNKNOWN_MODEL = re.compile(r"LLM Provider NOT provided|model[^.]*(not found|does not exist)|unknown model", re.I)
MODEL_SETTING = "the agent's `model` in config/agents.yaml (or IMPRESSOX_MODEL for agents without one)"


class LLMConfigError(LLMPermanentError):
    """The model cannot be used as configured; the message names the setting to change."""


def provider_of(model: str) -> str:
    return model.split("/", 1)[0] if "/" in model else "openai"


def key_settings(model: str) -> str:
    own = PROVIDER_KEYS.get(provider_of(model))
    return "IMPRESSOX_LLM_API_KEY" + (f" (or {own})" if own else "")


def misconfiguration(exc: BaseException, model: str, api_base: str | None) -> LLMConfigError | None:
    """The configuration problem ``exc`` (raised by litellm for ``model``) shows, or None when it
    is something else (an outage, a timeout, a refused request)."""
    text = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
    status = getattr(exc, "status_code", None)
    if _MISSING_KEY.search(text):
        return LLMConfigError(f"the model {model} has no API key: set {key_settings(model)}")
    if type(exc).__name__ in ("AuthenticationError", "PermissionDeniedError") or status in (401, 403):
        return LLMConfigError(
            f"the provider of {model} refused its API key ({status or 401}): check {key_settings(model)}"
        )
    if _UNKNOWN_MODEL.search(text) or type(exc).__name__ == "NotFoundError" or status == 404:
        return LLMConfigError(f"unknown model {model!r}: set {MODEL_SETTING} to a model the provider serves")
    if _unreachable(exc):
        where = api_base or f"the provider of {model}"
        fix = "check IMPRESSOX_LLM_API_BASE (is the server running?)" if api_base else "is there a network?"
        return LLMConfigError(f"cannot connect to {where}: {fix}")
    return None


def _unreachable(exc: BaseException) -> bool:
    """Nothing listens at the address, or its name does not resolve (not a timeout, not a reset
    mid-answer: those may pass)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionRefusedError, socket.gaierror, httpx.ConnectError)):
            return True
        if isinstance(current, OSError) and "connect call failed" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return "cannot connect to host" in str(exc).lower()
