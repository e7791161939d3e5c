"""The calculator tool: right answers for plain arithmetic, clear refusals for everything else."""

from __future__ import annotations

import pytest

from core.errors import BadInputError
from core.tools import ToolContext
from services.tools.builtin import CalculatorArgs, calculator
from services.tools.calculator import evaluate

CTX: ToolContext[None] = ToolContext(call_id="c1", session_id="s1", owner="alice", idempotency_key="k1")


async def ask(expression: str) -> str:
    result = await calculator(CalculatorArgs(expression=expression), CTX)
    return result.output


@pytest.mark.parametrize(
    ("expression", "answer"),
    [
        ("17 * 23", "17 * 23 = 391"),
        ("2^10 - 24", "2^10 - 24 = 1000"),
        ("2**10 - 24", "2**10 - 24 = 1000"),
        ("(2 + 3) * 4", "(2 + 3) * 4 = 20"),
        ("((1 + 2) * (3 + 4)) - 1", "((1 + 2) * (3 + 4)) - 1 = 20"),
        ("10 / 4", "10 / 4 = 2.5"),
        ("10 / 2", "10 / 2 = 5"),
        ("7 // 2", "7 // 2 = 3"),
        ("10 % 3", "10 % 3 = 1"),
        ("-3 + 5", "-3 + 5 = 2"),
        ("  6 * 7  ", "6 * 7 = 42"),
    ],
)
async def test_answers(expression: str, answer: str) -> None:
    assert await ask(expression) == answer


async def test_answer_carries_the_value_as_data() -> None:
    result = await calculator(CalculatorArgs(expression="(2^10 - 24) / 4"), CTX)
    assert result.data == {"value": "250"}


@pytest.mark.parametrize(
    "code",
    [
        "__import__('os')",
        "__import__('os').system('true')",
        "open('/etc/passwd')",
        "x",
        "x + 1",
        "abs(-1)",
        "(1).real",
        "(1).__class__",
        "lambda: 1",
        "[1, 2]",
        "'a' * 3",
        "True + 1",
    ],
)
def test_refuses_code(code: str) -> None:
    with pytest.raises(BadInputError, match="not allowed in an arithmetic expression"):
        evaluate(code)


@pytest.mark.parametrize("expression", ["2^100000", "9^9^9", "10 ** 20000"])
def test_refuses_huge_exponents(expression: str) -> None:
    with pytest.raises(BadInputError, match=r"exponent .* is too large \(at most 10000\)"):
        evaluate(expression)


@pytest.mark.parametrize("expression", ["1 / 0", "5 // 0", "5 % 0", "1 / (2 - 2)"])
def test_refuses_division_by_zero(expression: str) -> None:
    with pytest.raises(BadInputError, match="division by zero"):
        evaluate(expression)


@pytest.mark.parametrize("expression", ["", "   "])
def test_refuses_empty_input(expression: str) -> None:
    with pytest.raises(BadInputError, match="the expression is empty"):
        evaluate(expression)


def test_refuses_unparseable_input_and_quotes_it() -> None:
    with pytest.raises(BadInputError, match=r"cannot parse '1 \+' as arithmetic"):
        evaluate("1 +")


def test_refuses_overlong_input() -> None:
    with pytest.raises(BadInputError, match="longer than 500 characters"):
        evaluate("1+" * 300 + "1")


def test_refuses_results_that_are_not_real_numbers() -> None:
    with pytest.raises(BadInputError, match="not a real number"):
        evaluate("(-8) ^ 0.5")


# Every failure a user can provoke must be a BadInputError (a clear, non-retried answer);
# anything else escapes the tool activity and is retried by Temporal as if transient.
@pytest.mark.parametrize(
    "expression",
    [
        "0 ^ -1",  # ZeroDivisionError from float power
        "2.0 ^ 10000",  # OverflowError from float power
        "1e300 ^ 2",  # OverflowError from float power
        "10^400 / 3",  # OverflowError: int too large for a float division
        "10^309 * 1.0",  # OverflowError: int to float
    ],
)
def test_numeric_overflow_and_zero_powers_are_bad_input(expression: str) -> None:
    with pytest.raises(BadInputError):
        evaluate(expression)


async def test_a_large_but_allowed_result_is_answered_or_refused_clearly() -> None:
    # 10^4400 passes the size limit (MAX_DIGITS=5000) but has more digits than Python
    # converts to str by default (4300): the tool must answer or say the result is too large.
    try:
        output = await ask("10^4400")
    except BadInputError as exc:
        assert "too large" in str(exc)
    else:
        assert output.endswith("1" + "0" * 4400)
