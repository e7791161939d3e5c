"""Safe arithmetic: a tiny AST evaluator (no eval), with limits against huge numbers."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from core.errors import BadInputError

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
MAX_EXPONENT = 10_000
MAX_DIGITS = 4_000  # below Python's 4300-digit int-to-text limit
MAX_CHARS = 500


def _eval(node: ast.AST) -> int | float:
    if isinstance(node, ast.Expression):
        return _eval(node.body)
    # bool is an int subclass, but True is not a number here
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_eval(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _eval(node.left), _eval(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise BadInputError(f"exponent {right} is too large (at most {MAX_EXPONENT})")
        if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
            raise BadInputError("division by zero")
        value = _BINARY[type(node.op)](left, right)
        if isinstance(value, int) and value.bit_length() > MAX_DIGITS * 3.33:
            raise BadInputError("the result is too large")
        if isinstance(value, complex):
            raise BadInputError("the result is not a real number")
        return value
    raise BadInputError(f"not allowed in an arithmetic expression: {ast.unparse(node) if node else '?'}")


def evaluate(expression: str) -> int | float:
    """Evaluate +, -, *, /, //, %, ^ (power) and parentheses over numbers."""
    text = expression.strip()
    if not text:
        raise BadInputError("the expression is empty")
    if len(text) > MAX_CHARS:
        raise BadInputError(f"the expression is longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise BadInputError(f"cannot parse {expression!r} as arithmetic") from None
    try:
        value = _eval(tree)
    except ZeroDivisionError:
        raise BadInputError("division by zero") from None
    except OverflowError:
        raise BadInputError("the result is too large") from None
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        raise BadInputError("the result is not a finite number")
    return value


def format_number(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f") if abs(value) < 1e16 else repr(value)
    return str(value)
