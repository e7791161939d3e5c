"""LLM gateway error mapping: permanent failures are not retried, transient ones are."""

from __future__ import annotations

from typing import Any

import litellm
import pytest
from pydantic import SecretStr

from core.cache import MemoryCache
from core.errors import LLMPermanentError, LLMTransientError, PermanentError, TransientError
from core.llm.gateway import LLMGateway

MODEL = "openai/gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "hi"}]


def failing(exc: Exception):
    async def acompletion(**kwargs: Any) -> Any:
        raise exc

    return acompletion


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (
            litellm.AuthenticationError("invalid api key", llm_provider="openai", model=MODEL),
            "refused its API key (401): check IMPRESSOX_LLM_API_KEY (or OPENAI_API_KEY)",
        ),
        (
            litellm.InternalServerError(
                "OpenAIException - Missing credentials. Please pass an `api_key`", llm_provider="openai", model=MODEL
            ),
            "has no API key: set IMPRESSOX_LLM_API_KEY (or OPENAI_API_KEY)",
        ),
        (litellm.BadRequestError("bad request", model=MODEL, llm_provider="openai"), "BadRequestError"),
        (litellm.NotFoundError("no such model", model=MODEL, llm_provider="openai"), "set the agent's `model`"),
    ],
)
async def test_permanent_errors(monkeypatch: pytest.MonkeyPatch, exc: Exception, says: str) -> None:
    monkeypatch.setattr(litellm, "acompletion", failing(exc))
    with pytest.raises(LLMPermanentError) as err:
        await LLMGateway(MemoryCache()).complete(MODEL, MESSAGES, [], timeout=5)
    assert isinstance(err.value, PermanentError) and not err.value.retryable
    assert says in str(err.value)


async def test_nothing_listening_at_the_base_url_is_a_setting_to_fix_not_an_outage() -> None:
    gateway = LLMGateway(MemoryCache(), api_key=SecretStr("sk-x"), api_base="http://127.0.0.1:9/v1")
    with pytest.raises(LLMPermanentError) as err:
        await gateway.complete(MODEL, MESSAGES, [], timeout=5)
    assert (
        str(err.value)
        == "cannot connect to http://127.0.0.1:9/v1: check IMPRESSOX_LLM_API_BASE (is the server running?)"
    )


@pytest.mark.parametrize(
    "exc",
    [
        litellm.Timeout("timed out", model=MODEL, llm_provider="openai"),
        litellm.RateLimitError("slow down", llm_provider="openai", model=MODEL),
        litellm.APIConnectionError("connection refused", llm_provider="openai", model=MODEL),
        litellm.ServiceUnavailableError("overloaded", llm_provider="openai", model=MODEL),
    ],
)
async def test_transient_errors(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    monkeypatch.setattr(litellm, "acompletion", failing(exc))
    with pytest.raises(LLMTransientError) as err:
        await LLMGateway(MemoryCache()).complete(MODEL, MESSAGES, [], timeout=5)
    assert isinstance(err.value, TransientError) and err.value.retryable
    assert type(exc).__name__ in str(err.value)


async def test_litellm_retries_are_off_and_the_key_is_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def acompletion(**kwargs: Any) -> Any:
        seen.update(kwargs)
        raise litellm.Timeout("timed out", model=MODEL, llm_provider="openai")

    monkeypatch.setattr(litellm, "acompletion", acompletion)
    gateway = LLMGateway(MemoryCache(), api_key=SecretStr("sk-test"), api_base="http://llm.internal")
    with pytest.raises(LLMTransientError):
        await gateway.complete(MODEL, MESSAGES, [], timeout=7)
    # Temporal owns retries: litellm must not retry underneath it
    assert seen["num_retries"] == 0
    assert seen["timeout"] == 7
    assert seen["api_key"] == "sk-test"
    assert seen["api_base"] == "http://llm.internal"
    assert "tools" not in seen


async def test_a_network_model_is_not_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    async def acompletion(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return litellm.ModelResponse(model=MODEL, choices=[{"message": {"role": "assistant", "content": "hello"}}])

    monkeypatch.setattr(litellm, "acompletion", acompletion)
    gateway = LLMGateway(MemoryCache())
    first = await gateway.complete(MODEL, MESSAGES, [], timeout=5)
    second = await gateway.complete(MODEL, MESSAGES, [], timeout=5)
    assert (first.content, second.content) == ("hello", "hello")
    assert calls == 2  # both calls reached the model
