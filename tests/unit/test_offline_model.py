"""The offline model: plain-English requests become the right tool calls, small talk does not,
and through litellm a repeated call is served from the cache."""

from __future__ import annotations

import json
from typing import Any

import litellm
import pytest
from litellm.types.utils import ChatCompletionMessageToolCall, Message

from core.cache import MemoryCache
from core.llm.gateway import LLMGateway
from core.llm.offline import respond
from core.llm.offline_intents import Intent, parse_intent
from core.settings import OFFLINE_MODEL

# the phrasings of the built-in tools, as loading the tools declares them
from services.tools import automations_phrases, builtin_phrases, chain_phrases  # noqa: F401
from services.tools.calculator import evaluate

ALL_TOOLS = {"calculator", "current_time", "get_token_price", "get_balance", "vault_status", "transfer"}
ADDRESS = "0x" + "ab" * 20


def text_of(message: Message) -> str:
    """The reply's text; fails when the model asked for tools instead."""
    assert message.content is not None, message
    return message.content


def function_calls(message: Message) -> list[ChatCompletionMessageToolCall]:
    """The reply's function tool calls (the only kind the offline model makes)."""
    calls = message.tool_calls or []
    assert all(isinstance(c, ChatCompletionMessageToolCall) for c in calls), calls
    return [c for c in calls if isinstance(c, ChatCompletionMessageToolCall)]


def tool_defs(*names: str) -> list[dict]:
    return [
        {"type": "function", "function": {"name": n, "description": n, "parameters": {"type": "object"}}} for n in names
    ]


@pytest.mark.parametrize(
    ("text", "expression", "value"),
    [
        ("what is 17 * 23?", "17 * 23", 391),
        ("what's 2^10 minus 24", "2^10 - 24", 1000),
        ("calculate five times six", "5 * 6", 30),
        ("how much is 7 x 8?", "7 * 8", 56),
        ("what is (2 + 3) * 4", "(2 + 3) * 4", 20),
        ("what is 10 divided by 4?", "10 / 4", 2.5),
        ("please compute 100 over 8", "100 / 8", 12.5),
    ],
)
def test_arithmetic_phrasings_become_calculator_calls(text: str, expression: str, value: float) -> None:
    assert parse_intent(text, ALL_TOOLS) == Intent("calculator", {"expression": expression})
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("what time is it in Tokyo?", "Tokyo"),
        ("time in New York", "New York"),
        ("What's the time in London right now?", "London"),
        ("what time is it?", "UTC"),
    ],
)
def test_time_phrasings_become_current_time_calls(text: str, zone: str) -> None:
    assert parse_intent(text, ALL_TOOLS) == Intent("current_time", {"timezone": zone})


def test_transfer_request() -> None:
    assert parse_intent(f"send 0.05 ETH to {ADDRESS}", ALL_TOOLS) == Intent(
        "transfer", {"to": ADDRESS, "amount": "0.05", "token": "ETH"}
    )
    assert parse_intent(f"please transfer 12 tusd to {ADDRESS}.", ALL_TOOLS) == Intent(
        "transfer", {"to": ADDRESS, "amount": "12", "token": "TUSD"}
    )


def test_transfer_without_a_token_does_not_invent_one() -> None:
    # "send 5 to 0x..." names no token: the word "to" must not become token "TO"
    intent = parse_intent(f"send 5 to {ADDRESS}", ALL_TOOLS)
    assert intent is None or intent.args.get("token") != "TO", intent


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("what is the price of ETH?", "ETH"),
        ("What is the ETH price?", "ETH"),
        ("how much is ETH worth?", "ETH"),
        ("price for btc", "BTC"),
    ],
)
def test_price_requests(text: str, symbol: str) -> None:
    assert parse_intent(text, ALL_TOOLS) == Intent("get_token_price", {"symbol": symbol})


def test_balance_requests() -> None:
    assert parse_intent("what's my balance?", ALL_TOOLS) == Intent("get_balance", {})
    assert parse_intent(f"balance of {ADDRESS}", ALL_TOOLS) == Intent("get_balance", {"address": ADDRESS})
    assert parse_intent("my TUSD balance", ALL_TOOLS) == Intent("get_balance", {"token": "TUSD"})
    assert parse_intent("my ETH balance", ALL_TOOLS) == Intent("get_balance", {"token": "ETH"})


@pytest.mark.parametrize(
    "text", ["hello there", "how are you?", "thanks!", "tell me a joke", "I want to pay my rent", "what is x"]
)
def test_small_talk_is_not_a_tool_call(text: str) -> None:
    assert parse_intent(text, ALL_TOOLS) is None


def test_only_available_tools_are_offered() -> None:
    assert parse_intent("what is 17 * 23?", {"current_time"}) is None
    assert parse_intent("what time is it in Tokyo?", {"calculator"}) is None
    assert parse_intent(f"send 0.05 ETH to {ADDRESS}", {"calculator", "current_time"}) is None
    assert parse_intent("what is the price of ETH?", {"calculator"}) is None
    assert parse_intent("what's my balance?", set()) is None
    assert parse_intent('/tool transfer {"amount": "1"}', {"calculator"}) is None


def test_explicit_tool_command() -> None:
    assert parse_intent('/tool calculator {"expression": "1+1"}', ALL_TOOLS) == Intent(
        "calculator", {"expression": "1+1"}
    )


def test_respond_asks_for_the_tool() -> None:
    message = respond([{"role": "user", "content": "what is 17 * 23?"}], tool_defs("calculator"))
    assert message.content is None
    (call,) = function_calls(message)
    assert call.function.name == "calculator"
    assert json.loads(call.function.arguments) == {"expression": "17 * 23"}


def test_respond_answers_from_tool_results_in_call_order() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "what is 17 * 23 and the time?"},
        {"role": "assistant", "content": None},
        {"role": "tool", "tool_call_id": "a", "content": "17 * 23 = 391"},
        {"role": "tool", "tool_call_id": "b", "content": "It is 09:00 in UTC."},
    ]
    assert respond(messages, tool_defs("calculator")).content == "17 * 23 = 391 It is 09:00 in UTC."


@pytest.mark.parametrize("text", ["hi", "Hello", "hello there!", "hey", "good morning"])
def test_a_greeting_gets_a_short_greeting(text: str) -> None:
    message = respond([{"role": "user", "content": text}], tool_defs("calculator", "current_time"))
    assert not message.tool_calls
    content = text_of(message)
    assert content.startswith("Hello!") and "offline model" in content and '"help"' in content


@pytest.mark.parametrize("text", ["help", "Help!", "what can you do?", "What can you do for me?", "who are you?"])
def test_help_lists_what_the_agents_tools_can_do(text: str) -> None:
    message = respond([{"role": "user", "content": text}], tool_defs("calculator", "current_time"))
    assert not message.tool_calls
    assert "offline model" in text_of(message)
    assert "arithmetic" in text_of(message) and "the time anywhere" in text_of(message)
    assert "transfers" not in text_of(message)  # not offered: the agent has no transfer tool


@pytest.mark.parametrize("text", ["thanks", "Thank you!", "thx", "thanks a lot"])
def test_thanks_gets_you_are_welcome(text: str) -> None:
    assert respond([{"role": "user", "content": text}], tool_defs("calculator")).content == "You're welcome!"


def test_greeting_help_thanks_and_gibberish_are_four_different_answers() -> None:
    answers = {
        respond([{"role": "user", "content": t}], tool_defs("calculator")).content
        for t in ("hi", "help", "thanks", "tell me a joke")
    }
    assert len(answers) == 4


def test_what_it_does_not_understand_says_so_and_how_to_get_help() -> None:
    message = respond([{"role": "user", "content": "tell me a joke"}], tool_defs("calculator"))
    assert text_of(message).startswith("Sorry, I did not understand that")
    assert "arithmetic" in text_of(message) and '"help"' in text_of(message)


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("what is the price of bitcoin?", "BTC"),
        ("how much is bitcoin worth?", "BTC"),
        ("price of ether", "ETH"),
        ("ethereum price", "ETH"),
        ("what's the price of Ethereum?", "ETH"),
    ],
)
def test_token_names_become_symbols(text: str, symbol: str) -> None:
    assert parse_intent(text, ALL_TOOLS) == Intent("get_token_price", {"symbol": symbol})


def test_a_transfer_in_ether_is_in_eth() -> None:
    assert parse_intent(f"send 0.05 ether to {ADDRESS}", ALL_TOOLS) == Intent(
        "transfer", {"to": ADDRESS, "amount": "0.05", "token": "ETH"}
    )


def _call_and_result(call_id: str, name: str, args: dict, result: str) -> list[dict]:
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
    ]


@pytest.mark.parametrize(
    ("text", "amount", "symbol"),
    [
        ("convert 2 eth to usd", "2", "ETH"),
        ("what is 2 eth in usd?", "2", "ETH"),
        ("How much is 0.5 bitcoin in dollars?", "0.5", "BTC"),
        ("what are 3 ETH worth?", "3", "ETH"),
    ],
)
def test_a_conversion_asks_the_price_then_the_calculator_then_answers_with_the_number(
    text: str, amount: str, symbol: str
) -> None:
    tools = tool_defs("calculator", "get_token_price")
    messages: list[dict] = [{"role": "user", "content": text}]

    first = respond(messages, tools)
    (call,) = function_calls(first)
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_token_price", {"symbol": symbol})

    messages += _call_and_result(call.id, "get_token_price", {"symbol": symbol}, f"{symbol} is $3,000.50 (on-chain).")
    second = respond(messages, tools)
    (call,) = function_calls(second)
    assert call.function.name == "calculator"
    expression = json.loads(call.function.arguments)["expression"]
    assert expression == f"{amount} * 3000.50"

    value = evaluate(expression)
    messages += _call_and_result(call.id, "calculator", {"expression": expression}, f"{expression} = {value}")
    answer = respond(messages, tools)
    assert not answer.tool_calls
    assert answer.content == f"{amount} {symbol} is ${value:,.2f} (at $3,000.50 per {symbol}, on-chain price feed)."


def test_a_conversion_whose_price_failed_reports_the_failure() -> None:
    tools = tool_defs("calculator", "get_token_price")
    messages = [{"role": "user", "content": "convert 2 doge to usd"}]
    messages += _call_and_result("c1", "get_token_price", {"symbol": "DOGE"}, "Error: no price feed for 'DOGE'")
    assert respond(messages, tools).content == "Error: no price feed for 'DOGE'"


def test_respond_without_tools_says_so() -> None:
    message = respond([{"role": "user", "content": "what is 2 + 2?"}], None)
    assert not message.tool_calls
    assert "offline model" in text_of(message) and "no tools" in text_of(message)


async def test_through_litellm_with_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real_acompletion = litellm.acompletion

    async def counting(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return await real_acompletion(**kwargs)

    monkeypatch.setattr(litellm, "acompletion", counting)
    gateway = LLMGateway(MemoryCache())
    messages = [{"role": "user", "content": "what is 17 * 23?"}]
    tools = tool_defs("calculator", "current_time")

    first = await gateway.complete(OFFLINE_MODEL, messages, tools, timeout=5)
    assert calls == 1
    assert first.content is None
    assert [(c.name, c.args) for c in first.tool_calls] == [("calculator", {"expression": "17 * 23"})]
    assert first.model and "offline" in first.model
    assert first.usage.total_tokens > 0

    second = await gateway.complete(OFFLINE_MODEL, messages, tools, timeout=5)
    assert calls == 1  # served from the cache
    assert second.tool_calls == first.tool_calls
    assert second.content == first.content


async def test_through_litellm_small_talk_gets_text() -> None:
    gateway = LLMGateway(MemoryCache())
    reply = await gateway.complete(OFFLINE_MODEL, [{"role": "user", "content": "hi"}], [], timeout=5)
    assert reply.tool_calls == []
    assert reply.content and "offline model" in reply.content
