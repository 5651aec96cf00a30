"""genaisys's tool-call format, for local models whose chat template has no tool support.

The available tools go into the system prompt (`render_tools_prompt`), one line per tool in a
compact signature form a small model reads easily (and that costs a fraction of the tokens of
the JSON schemas)::

    - calculator(expression: string): Evaluate an arithmetic expression.
    - current_time(timezone?: string = "UTC"): The current date and time in a timezone.

(``?`` marks an optional parameter; enums show their values, ``"a"|"b"``; a parameter whose schema
has no short form — a nested object, say — is shown as its JSON schema). The description is the
tool's first paragraph. The model calls a tool by writing, on its own line::

    <tool_call>{"name": "calculator", "arguments": {"expression": "2+2"}}</tool_call>

one block per call (several blocks = parallel calls), then stops. Each result comes back in a
turn of role ``tool`` as ``<tool_response>{"name": ..., "content": ...}</tool_response>``
(`render_tool_result`); a call the model made earlier is shown in its own turn exactly as above
(`render_tool_call`).

`parse_tool_calls` reads model text back. It is tolerant — small models damage the format — and
repairs: a missing closing tag, code fences, single quotes, Python literals, trailing commas,
missing closing braces, ``args``/``parameters``/``input`` instead of ``arguments``, OpenAI's
``{"function": {...}}`` nesting, arguments given as a JSON string, and a bare JSON object (or
fenced one) that names a known tool. What cannot be repaired becomes an *invalid tool call*
whose ``error`` is a message for the model saying how to write it. It never raises.

Example:
    >>> content, calls, bad = parse_tool_calls(
    ...     "Let me compute.<tool_call>{'name': 'calc', 'args': {'x': 2,}}", known_tools=["calc"])
    >>> content, calls[0]["name"], calls[0]["args"], bad
    ('Let me compute.', 'calc', {'x': 2}, [])
"""

from __future__ import annotations

import ast
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "TOOL_CALL_CLOSE",
    "TOOL_CALL_ERROR_TEMPLATE",
    "TOOL_CALL_OPEN",
    "new_tool_call_id",
    "parse_tool_calls",
    "render_tool_call",
    "render_tool_result",
    "render_tools_prompt",
]

TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"

# Text meant for the model (not an exception message): why a call failed and how to write it.
TOOL_CALL_ERROR_TEMPLATE = (
    "Your tool call could not be used: {error}. Write each call on its own line as "
    '<tool_call>{{"name": "<tool name>", "arguments": {{<arguments as JSON>}}}}</tool_call>'
)

_TOOLS_PROMPT = """# Tools

You can call these tools:
{tools}

To call a tool, write on its own line exactly:
<tool_call>{{"name": "<tool name>", "arguments": {{<arguments as JSON>}}}}</tool_call>
Write one such line per call, then stop and wait: each result comes back in a "tool" turn as <tool_response>...</tool_response>. If no tool is needed, answer directly in plain text."""
_MAX_DESCRIPTION = 240  # characters of a tool's first paragraph shown in the prompt

_OPEN_RE = re.compile(r"<\s*tool_call\s*>", re.IGNORECASE)
_CLOSE_RE = re.compile(r"<\s*/\s*tool_call\s*>", re.IGNORECASE)
_FENCE_RE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n?(.*?)(?:```|$)", re.DOTALL)
_TRAILING_COMMA_RE = re.compile(r",\s*([}\]])")
_ARG_KEYS = ("arguments", "args", "parameters", "input", "params")
_NAME_KEYS = ("name", "tool", "tool_name", "function_name")


def new_tool_call_id() -> str:
    """A fresh tool-call id (``call_`` + 24 hex digits), unique per call."""
    return "call_" + uuid.uuid4().hex[:24]


def _tool_spec(tool: Any) -> dict[str, Any]:
    """An OpenAI-style tool dict (``{"type": "function", "function": {...}}``) or a bare function dict → bare."""
    if isinstance(tool, dict) and "function" in tool and isinstance(tool["function"], dict):
        tool = tool["function"]
    if not isinstance(tool, dict) or "name" not in tool:
        from genaisys.errors import ConfigError

        raise ConfigError(f"a tool spec must be a dict with a 'name' (OpenAI tool format), got {tool!r:.200}; "
                          "convert tools with langchain_core.utils.function_calling.convert_to_openai_tool")
    return {"name": tool["name"], "description": tool.get("description", ""),
            "parameters": tool.get("parameters", {"type": "object", "properties": {}})}


def _type_text(schema: Any) -> str:
    """A parameter's JSON schema in short form: ``string``, ``list[integer]``, ``"a"|"b"`` …"""
    if not isinstance(schema, dict):
        return "any"
    if "enum" in schema and isinstance(schema["enum"], list):
        return "|".join(json.dumps(v, ensure_ascii=False) for v in schema["enum"])
    options = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(options, list):
        kinds = [_type_text(o) for o in options if not (isinstance(o, dict) and o.get("type") == "null")]
        return "|".join(kinds) if kinds else "null"
    kind = schema.get("type")
    if isinstance(kind, list):
        return "|".join(str(k) for k in kind if k != "null") or "null"
    if kind == "array":
        return f"list[{_type_text(schema.get('items', {}))}]"
    if kind == "object" and schema.get("properties"):
        return json.dumps(schema, ensure_ascii=False)  # nested fields: no short form reads better
    return str(kind or "any")


def _signature(spec: dict[str, Any]) -> str:
    params = spec.get("parameters") or {}
    props = params.get("properties") or {}
    required = set(params.get("required") or [])
    parts = []
    for name, schema in props.items():
        text = f"{name}{'' if name in required else '?'}: {_type_text(schema)}"
        if name not in required and isinstance(schema, dict) and "default" in schema and schema["default"] is not None:
            text += f" = {json.dumps(schema['default'], ensure_ascii=False)}"
        parts.append(text)
    description = " ".join(str(spec.get("description") or "").strip().split("\n\n")[0].split())
    if len(description) > _MAX_DESCRIPTION:
        description = description[: _MAX_DESCRIPTION - 1].rstrip() + "…"
    return f"- {spec['name']}({', '.join(parts)})" + (f": {description}" if description else "")


def render_tools_prompt(tools: Sequence[dict[str, Any]]) -> str:
    """The system-prompt section that lists ``tools`` and teaches the call format.

    Args:
        tools: OpenAI-style tool dicts (as `convert_to_openai_tool` makes them) or bare
            ``{"name", "description", "parameters"}`` dicts.

    Example:
        >>> tool = {"name": "now", "description": "The current time.",
        ...         "parameters": {"type": "object", "properties": {"tz": {"type": "string", "default": "UTC"}}}}
        >>> print(render_tools_prompt([tool]).splitlines()[3])
        - now(tz?: string = "UTC"): The current time.
    """
    lines = "\n".join(_signature(_tool_spec(t)) for t in tools)
    return _TOOLS_PROMPT.format(tools=lines)


def render_tool_call(name: str, args: dict[str, Any]) -> str:
    """One call as the model should write it.

    Example:
        >>> render_tool_call("calc", {"x": 1})
        '<tool_call>{"name": "calc", "arguments": {"x": 1}}</tool_call>'
    """
    return f"{TOOL_CALL_OPEN}{json.dumps({'name': name, 'arguments': args}, ensure_ascii=False)}{TOOL_CALL_CLOSE}"


def render_tool_result(name: str | None, content: str) -> str:
    """A tool's result as the model reads it in a ``tool`` turn.

    Example:
        >>> render_tool_result("calc", "4")
        '<tool_response>{"name": "calc", "content": "4"}</tool_response>'
    """
    return f"<tool_response>{json.dumps({'name': name, 'content': content}, ensure_ascii=False)}</tool_response>"


def _strip_fences(s: str) -> str:
    s = s.strip()
    m = _FENCE_RE.search(s)
    if m and s.startswith("```"):
        return m.group(1).strip()
    return s


def _balance(s: str) -> str:
    """Append the closing brackets a truncated JSON object lacks (ignoring those inside strings)."""
    stack: list[str] = []
    in_str, esc, quote = False, False, ""
    for ch in s:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == quote:
                in_str = False
        elif ch in "\"'":
            in_str, quote = True, ch
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack and stack[-1] == ch:
            stack.pop()
    if in_str:
        s += quote
    return s + "".join(reversed(stack))


def _loads_tolerant(raw: str) -> tuple[Any, str | None]:
    """Parse JSON-ish text; return (value, None) or (None, error)."""
    s = _strip_fences(raw)
    if not s:
        return None, "the tool call is empty"
    candidates = [s, _TRAILING_COMMA_RE.sub(r"\1", s)]
    balanced = _balance(candidates[-1])
    candidates.append(_TRAILING_COMMA_RE.sub(r"\1", balanced))
    first_err = ""
    for c in candidates:
        try:
            return json.loads(c), None
        except json.JSONDecodeError as exc:
            first_err = first_err or f"invalid JSON ({exc.msg} at position {exc.pos})"
        except RecursionError:
            first_err = first_err or "the JSON is nested too deeply"
        # Python-literal style: single quotes, True/False/None. A literal JSON cannot carry (a set
        # such as {'a'}, bytes) is no repair: it would crash whoever serialises the call later.
        try:
            value = ast.literal_eval(c)
            json.dumps(value)
            return value, None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    # Trailing junk after a valid object: take the first object.
    start = s.find("{")
    if start >= 0:
        try:
            obj, _ = json.JSONDecoder().raw_decode(s[start:])
            return obj, None
        except (json.JSONDecodeError, RecursionError):
            pass
    return None, first_err or "the tool call is not a JSON object"


def _normalise(obj: Any) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """A parsed object → (name, args, error)."""
    if not isinstance(obj, dict):
        return None, None, f"expected a JSON object with 'name' and 'arguments', got a {type(obj).__name__}"
    if isinstance(obj.get("function"), dict):  # OpenAI nesting
        obj = {**obj["function"], **{k: v for k, v in obj.items() if k != "function"}}
    name = next((obj[k] for k in _NAME_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
    if name is None:
        return None, None, "the object has no 'name' naming the tool"
    args: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    if isinstance(args, str):
        parsed, err = _loads_tolerant(args) if args.strip() else ({}, None)
        if err is not None:
            return name.strip(), None, f"the arguments of {name.strip()!r} are not a JSON object: {err}"
        args = parsed
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return name.strip(), None, f"'arguments' of {name.strip()!r} must be a JSON object, got {type(args).__name__}"
    return name.strip(), args, None


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": new_tool_call_id(), "type": "tool_call"}


def _invalid(name: str | None, raw: str, error: str) -> dict[str, Any]:
    return {"name": name, "args": raw, "id": new_tool_call_id(), "error": TOOL_CALL_ERROR_TEMPLATE.format(error=error),
            "type": "invalid_tool_call"}


def _tagged_payloads(text: str) -> tuple[str, list[str]]:
    """Split text into (content outside the tags, payloads of the ``<tool_call>`` blocks)."""
    opens = list(_OPEN_RE.finditer(text))
    if not opens:
        return text, []
    content_parts, payloads = [text[: opens[0].start()]], []
    for i, m in enumerate(opens):
        end_limit = opens[i + 1].start() if i + 1 < len(opens) else len(text)
        close = _CLOSE_RE.search(text, m.end(), end_limit)
        if close:
            payloads.append(text[m.end(): close.start()])
            content_parts.append(text[close.end(): end_limit])
        else:  # missing closing tag: the payload runs to the next open tag or the end
            payloads.append(text[m.end(): end_limit])
    return "".join(content_parts), payloads


def _bare_calls(text: str, known: set[str]) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """Find fenced or bare JSON objects that name a known tool; return (rest of text, calls)."""
    calls: list[tuple[str, dict[str, Any]]] = []
    spans: list[tuple[int, int]] = []
    decoder = json.JSONDecoder()
    i = 0
    while (start := text.find("{", i)) >= 0:
        obj, end = None, start + 1
        try:
            obj, n = decoder.raw_decode(text[start:])
            end = start + n
        except (json.JSONDecodeError, RecursionError):
            pass
        if isinstance(obj, dict):
            name, args, err = _normalise(obj)
            if err is None and name in known and args is not None:
                calls.append((name, args))
                # Also swallow a code fence around the object.
                s, e = start, end
                pre = text[:s].rstrip()
                fence_open = re.search(r"```[a-zA-Z0-9_-]*\s*$", pre)
                if fence_open:
                    post = re.match(r"\s*```", text[e:])
                    if post:
                        s, e = fence_open.start(), e + post.end()
                spans.append((s, e))
                i = end
                continue
        i = start + 1
    rest, last = [], 0
    for s, e in spans:
        rest.append(text[last:s])
        last = e
    rest.append(text[last:])
    return "".join(rest), calls


def parse_tool_calls(text: str, known_tools: Iterable[str] | None = None
                     ) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """Read tool calls out of model text; never raises.

    Args:
        text: the model's raw output.
        known_tools: names of the bound tools. When given, a call to another name is invalid,
            and a bare (untagged) JSON object naming one of them counts as a call.

    Returns:
        ``(content, tool_calls, invalid_tool_calls)``: the text outside the calls (stripped), calls
        as LangChain ``ToolCall`` dicts (``name``, ``args``, ``id``, ``type``), and unusable calls as
        ``InvalidToolCall`` dicts whose ``error`` tells the model how to fix them.

    Example:
        >>> parse_tool_calls('<tool_call>{"name": "f", "arguments": {}}</tool_call>')[1][0]["name"]
        'f'
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    known = set(known_tools) if known_tools is not None else None
    calls: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    content, payloads = _tagged_payloads(text)
    for raw in payloads:
        obj, err = _loads_tolerant(raw)
        if err is not None:
            invalid.append(_invalid(None, raw.strip(), err))
            continue
        for item in obj if isinstance(obj, list) and obj else [obj]:
            name, args, err = _normalise(item)
            if err is None and known is not None and name not in known:
                err = f"there is no tool named {name!r}; available tools: {', '.join(sorted(known)) or '(none)'}"
            if err is not None or name is None or args is None:
                invalid.append(_invalid(name, raw.strip(), err or "unreadable tool call"))
            else:
                calls.append(_call(name, args))
    if not payloads and known:
        content, bare = _bare_calls(text, known)
        calls.extend(_call(n, a) for n, a in bare)
    return content.strip(), calls, invalid
