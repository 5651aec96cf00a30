"""The safe calculator: right values, and refusal of hostile or exhausting input."""

from __future__ import annotations

import math
import time

import pytest

from genaisys.tools.calculator import (
    MAX_EXPRESSION_CHARS,
    CalculatorError,
    build_calculator_tool,
    evaluate,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 % 3", 2),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-3 ** 2", -9),
        ("+4", 4),
        ("sqrt(16) + abs(-2)", 6.0),
        ("round(pi, 3)", 3.142),
        ("floor(2.7) + ceil(2.1)", 5),
        ("log(e)", 1.0),
        ("exp(0)", 1.0),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("factorial(5)", 120),
        ("hypot(3, 4)", 5.0),
        ("1e3 + 0.5", 1000.5),
        ("1" + "+1" * 200, 201),  # a long flat chain is fine
    ],
)
def test_values(expression, expected):
    assert evaluate(expression) == pytest.approx(expected)


def test_trig_and_constants():
    assert evaluate("sin(pi / 2)") == pytest.approx(1.0)
    assert evaluate("cos(0) + tau") == pytest.approx(1 + math.tau)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("9**9**9", "exponents are limited"),
        ("9**9**9**9", "exponents are limited"),
        ("2**10000", "more than 4000 digits"),
        ("99999999999999999999**999", "more than 4000 digits"),
        ("factorial(100000)", "factorial is limited"),
        ("factorial(1000) * factorial(1000)", "more than 4000 digits"),
        ("factorial(1000) ** 2", "more than 4000 digits"),
        ("10.0 ** 400", "too large"),
        ("exp(100000)", "undefined"),
        ("(" * 100 + "1" + ")" * 100, "nested too deeply"),
        ("-" * 600 + "1", "longer than"),
        ("1" * (MAX_EXPRESSION_CHARS + 1), "longer than"),
        ("__import__('os').system('true')", "not allowed"),
        ("().__class__.__bases__", "Attribute expressions are not allowed"),
        ("(1).real", "Attribute expressions are not allowed"),
        ("(lambda: 1)()", "calling a Lambda expression is not allowed"),
        ("lambda: 1", "Lambda expressions are not allowed"),
        ("'a' * 10", "only numbers are allowed"),
        ("b'x'", "only numbers are allowed"),
        ("True + 1", "only numbers are allowed"),
        ("x + 1", "unknown name 'x'"),
        ("eval('1')", "the function 'eval' is not allowed"),
        ("pow(2, 3)", "the function 'pow' is not allowed"),
        ("[1] * 10**9", "List expressions are not allowed"),
        ("{1: 2}", "Dict expressions are not allowed"),
        ("[x for x in range(10)]", "not allowed"),
        ("1 << 100000", "LShift is not allowed"),
        ("~1", "Invert is not allowed"),
        ("1 if 1 else 2", "IfExp expressions are not allowed"),
        ("1 < 2", "Compare expressions are not allowed"),
        ("sin(x=1)", "keyword arguments are not allowed"),
        ("max(*[1, 2])", "starred"),
        ("max(" + ",".join(["1"] * 17) + ")", "at most 16 arguments"),
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "zero cannot be raised"),
        ("sqrt(-1)", "undefined"),
        ("(-8) ** 0.5", "complex"),
        ("inf - inf", "NaN"),
        ("1 +", "not valid arithmetic"),
        ("", "empty"),
        ("import os", "not valid arithmetic"),
        ("a = 1", "not valid arithmetic"),
    ],
)
def test_hostile_inputs_are_refused_fast(expression, reason):
    start = time.perf_counter()
    with pytest.raises(CalculatorError, match=reason):
        evaluate(expression)
    assert time.perf_counter() - start < 0.5


def test_non_string_is_refused():
    with pytest.raises(CalculatorError, match="must be a string"):
        evaluate(123)  # type: ignore[arg-type]


def test_tool_returns_error_text_with_status_error():
    from langchain_core.messages import ToolMessage

    calc = build_calculator_tool()
    assert calc.invoke({"expression": "6 * 7"}) == "42"
    message = calc.invoke({"name": "calculator", "args": {"expression": "9**9**9"}, "id": "c1", "type": "tool_call"})
    assert isinstance(message, ToolMessage) and message.status == "error"
    assert message.content.startswith("Error: exponents are limited to ±10000.")
    assert "sqrt" in message.content  # tells the model what it may use
