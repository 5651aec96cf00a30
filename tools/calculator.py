"""A safe calculator tool: the expression is parsed with `ast` and walked node by node.

Nothing is ever passed to ``eval``/``exec``. Allowed: int/float literals, ``+ - * / // % **``,
unary ``+ -``, parentheses, and calls of a whitelist of math functions and constants
(`ALLOWED_FUNCTIONS`, `ALLOWED_CONSTANTS`). Everything else — names, attributes, subscripts,
strings, lambdas, comprehensions, keyword arguments — is refused with a model-facing message.

Exhaustion is bounded before it happens: expression length and nesting depth are capped,
``**`` refuses exponents over `MAX_EXPONENT` and results whose size (estimated from logarithms
*before* computing) exceeds `MAX_RESULT_DIGITS`; integers larger than that are refused after
every operation, and ``factorial`` accepts at most `MAX_FACTORIAL`.

Example:
    >>> evaluate("2 * (3 + 4) ** 2")
    98
    >>> evaluate("sqrt(16) + pi")
    7.141592653589793
    >>> build_calculator_tool().invoke({"expression": "__import__('os')"}).startswith("Error")
    True
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from genaisys.errors import ToolError

__all__ = [
    "ALLOWED_CONSTANTS",
    "ALLOWED_FUNCTIONS",
    "CALCULATOR_ERROR_TEMPLATE",
    "CalculatorError",
    "MAX_EXPONENT",
    "MAX_EXPRESSION_CHARS",
    "MAX_FACTORIAL",
    "MAX_NESTING",
    "MAX_RESULT_DIGITS",
    "build_calculator_tool",
    "calculator",
    "evaluate",
]

MAX_EXPRESSION_CHARS = 500
MAX_NESTING = 30
MAX_EXPONENT = 10_000
MAX_RESULT_DIGITS = 4_000  # under Python's int->str limit (4300); bigger numbers are useless to a model
MAX_FACTORIAL = 1_000

CALCULATOR_ERROR_TEMPLATE = "Error: {reason}. The calculator accepts numbers, + - * / // % **, parentheses and {names}."


class CalculatorError(ToolError, ValueError):
    """An expression the calculator refuses or cannot compute. The message is safe to show."""


def _factorial(n: Any) -> int:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, int) or n < 0:
        raise CalculatorError("factorial needs a non-negative integer")
    if n > MAX_FACTORIAL:
        raise CalculatorError(f"factorial is limited to n <= {MAX_FACTORIAL}")
    return math.factorial(n)


def _round(x: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and (not isinstance(ndigits, int) or abs(ndigits) > 100):
        raise CalculatorError("round's second argument must be an integer between -100 and 100")
    return round(x, ndigits) if ndigits is not None else round(x)


ALLOWED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "round": _round,
    "min": min,
    "max": max,
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "log10": math.log10,
    "log2": math.log2,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "asin": math.asin,
    "acos": math.acos,
    "atan": math.atan,
    "atan2": math.atan2,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "degrees": math.degrees,
    "radians": math.radians,
    "floor": math.floor,
    "ceil": math.ceil,
    "trunc": math.trunc,
    "hypot": math.hypot,
    "factorial": _factorial,
    "gcd": math.gcd,
}
ALLOWED_CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf}

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
_MAX_ARGS = 16


def _digits(x: Any) -> float:
    """Approximate decimal digits of |x| (0 for 0), without converting big ints to str."""
    if isinstance(x, bool) or x == 0:
        return 0.0
    if isinstance(x, int):
        return x.bit_length() * math.log10(2)
    if isinstance(x, float):
        return math.log10(abs(x)) if math.isfinite(x) else 0.0
    return 0.0


def _check_size(x: Any) -> Any:
    if isinstance(x, int) and not isinstance(x, bool) and _digits(x) > MAX_RESULT_DIGITS:
        raise CalculatorError(f"the result would have more than {MAX_RESULT_DIGITS} digits")
    if isinstance(x, complex):
        raise CalculatorError("the result is a complex number; only real results are supported")
    return x


def _power(base: Any, exp: Any) -> Any:
    if isinstance(exp, (int, float)) and abs(exp) > MAX_EXPONENT:
        raise CalculatorError(f"exponents are limited to ±{MAX_EXPONENT}")
    # Estimate the size of the result from logarithms before computing it: 9**9**9 never runs.
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1:
        if _digits(base) * exp > MAX_RESULT_DIGITS:
            raise CalculatorError(f"the result would have more than {MAX_RESULT_DIGITS} digits")
    if base == 0 and isinstance(exp, (int, float)) and exp < 0:
        raise CalculatorError("zero cannot be raised to a negative power")
    return pow(float(base), exp) if isinstance(base, float) or isinstance(exp, float) else pow(base, exp)


def _multiply(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and _digits(a) + _digits(b) > MAX_RESULT_DIGITS + 1:
        raise CalculatorError(f"the result would have more than {MAX_RESULT_DIGITS} digits")
    return a * b


class _Evaluator:
    def __init__(self) -> None:
        self.nodes = 0

    def visit(self, node: ast.AST, depth: int) -> Any:
        self.nodes += 1
        # Parentheses are bounded in `evaluate`; this bounds long operator chains (1+1+...),
        # which nest one level per operator, well under Python's recursion limit.
        if depth > MAX_EXPRESSION_CHARS or self.nodes > 4 * MAX_EXPRESSION_CHARS:
            raise CalculatorError("the expression has too many operations")
        if isinstance(node, ast.Expression):
            return self.visit(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise CalculatorError(f"only numbers are allowed, not {type(node.value).__name__} {node.value!r:.40}")
            return _check_size(node.value)
        if isinstance(node, ast.BinOp):
            fn = _BINARY.get(type(node.op))
            if fn is None:
                raise CalculatorError(f"the operator {type(node.op).__name__} is not allowed")
            left = self.visit(node.left, depth + 1)
            right = self.visit(node.right, depth + 1)
            if isinstance(node.op, ast.Pow):
                return _check_size(_power(left, right))
            if isinstance(node.op, ast.Mult):
                return _check_size(_multiply(left, right))
            if isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) and right == 0:
                raise CalculatorError("division by zero")
            return _check_size(fn(left, right))
        if isinstance(node, ast.UnaryOp):
            fn1 = _UNARY.get(type(node.op))
            if fn1 is None:
                raise CalculatorError(f"the operator {type(node.op).__name__} is not allowed")
            return fn1(self.visit(node.operand, depth + 1))
        if isinstance(node, ast.Name):
            if node.id in ALLOWED_CONSTANTS:
                return ALLOWED_CONSTANTS[node.id]
            raise CalculatorError(f"unknown name {node.id!r}")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in ALLOWED_FUNCTIONS:
                if isinstance(node.func, ast.Name):
                    raise CalculatorError(f"the function {node.func.id!r} is not allowed")
                raise CalculatorError(f"calling a {type(node.func).__name__} expression is not allowed")
            if node.keywords:
                raise CalculatorError("keyword arguments are not allowed")
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise CalculatorError("starred (*) arguments are not allowed")
            if len(node.args) > _MAX_ARGS:
                raise CalculatorError(f"at most {_MAX_ARGS} arguments per function call")
            args = [self.visit(a, depth + 1) for a in node.args]
            try:
                return _check_size(ALLOWED_FUNCTIONS[node.func.id](*args))
            except CalculatorError:
                raise
            except (ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:
                shown = ", ".join(repr(a)[:20] for a in args)
                raise CalculatorError(f"{node.func.id}({shown}) is undefined: {exc}") from exc
        raise CalculatorError(f"{type(node).__name__} expressions are not allowed")


def evaluate(expression: str) -> int | float:
    """Evaluate an arithmetic expression safely.

    Args:
        expression: e.g. ``"2**10 / sqrt(4)"``.

    Returns:
        The value, an int or a float.

    Raises:
        CalculatorError: The expression is too long, too deep, uses something not allowed, or
            its result would be too big; the message says which.

    Example:
        >>> evaluate("7 // 2 + 7 % 2")
        4
    """
    if not isinstance(expression, str):
        raise CalculatorError(f"the expression must be a string, not {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculatorError(f"the expression is longer than {MAX_EXPRESSION_CHARS} characters")
    if not expression.strip():
        raise CalculatorError("the expression is empty")
    # Parentheses nest before `ast` sees them: bound them cheaply (the parser itself recurses).
    depth = peak = 0
    for ch in expression:
        depth += ch in "([{"
        depth -= ch in ")]}"
        peak = max(peak, depth)
    if peak > MAX_NESTING:
        raise CalculatorError(f"the expression is nested too deeply (limit {MAX_NESTING} levels)")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise CalculatorError(f"the expression is not valid arithmetic ({type(exc).__name__})") from exc
    try:
        value = _Evaluator().visit(tree, 0)
    except OverflowError as exc:
        raise CalculatorError("the result is too large to represent") from exc
    except RecursionError as exc:
        raise CalculatorError(f"the expression is nested too deeply (limit {MAX_NESTING} levels)") from exc
    if isinstance(value, float) and math.isnan(value):
        raise CalculatorError("the result is not a number (NaN)")
    return value


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression, e.g. "(3 + 4) * sqrt(2) / 5".

    Supports numbers, + - * / // % ** and parentheses, the constants pi, e, tau, inf, and the
    functions abs, round, min, max, sqrt, exp, log, log10, log2, sin, cos, tan, asin, acos,
    atan, atan2, sinh, cosh, tanh, degrees, radians, floor, ceil, trunc, hypot, factorial, gcd.
    """
    from langchain_core.tools import ToolException

    try:
        return repr(evaluate(expression))
    except CalculatorError as exc:
        names = "functions " + ", ".join(ALLOWED_FUNCTIONS) + "; constants " + ", ".join(ALLOWED_CONSTANTS)
        # ToolException: the tool message gets status "error" and the text goes to the model.
        raise ToolException(CALCULATOR_ERROR_TEMPLATE.format(reason=str(exc), names=names)) from exc


def build_calculator_tool() -> Any:
    """The calculator as a LangChain tool (the registry wraps it in the safety wrapper).

    Example:
        >>> build_calculator_tool().invoke({"expression": "1 + 1"})
        '2'
    """
    from langchain_core.tools import StructuredTool

    import inspect

    return StructuredTool.from_function(
        func=calculator,
        name="calculator",
        description=inspect.cleandoc(calculator.__doc__ or ""),
        handle_tool_error=True,
    )
