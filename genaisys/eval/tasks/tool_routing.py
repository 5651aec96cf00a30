"""``tool-routing``: does the model call the right tool, with valid arguments, and no tool when none is needed?

The model gets the tools bound (``model.bind_tools``) and one request. Per item the record says
whether it chose the right tool (or rightly none), whether its arguments validate against the
tool's pydantic argument schema, and whether the key argument holds what was asked.

Metrics: ``routing_accuracy`` (right tool or rightly none), ``args_valid`` (valid arguments, over
items where a tool was called), ``no_tool_accuracy`` (over items needing none), ``tool_recall``
(over items needing a tool), ``accuracy`` (right tool *and* valid args, or rightly none).

Tools come from `genaisys.tools.get_tool` (calculator, clock, http_fetch, read_file); none runs.
Your own items: a JSONL with ``{"id", "prompt", "tool": "<tool name>" | null, "args": {...}}``.

Example:
    >>> task = ToolRoutingTask()
    >>> sorted({i.reference["tool"] or "-" for i in task.load()})[:2]
    ['-', 'calculator']
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.metrics import accuracy
from genaisys.eval.parsing import normalize
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["ToolRoutingTask"]

_TOOLS = ("builtin:calculator", "builtin:clock", "builtin:http_fetch", "builtin:file_reader")
# (id, request, tool name or None, the arguments a correct call contains (checked loosely))
_ITEMS: tuple[tuple[str, str, str | None, dict[str, Any]], ...] = (
    ("calc-1", "What is 37 * 49? Use a tool to be exact.", "calculator", {"expression": "37*49"}),
    ("calc-2", "Compute the square root of 1764.", "calculator", {"expression": "sqrt(1764)"}),
    ("calc-3", "How much is (12.5 + 7.5) / 4?", "calculator", {"expression": "(12.5+7.5)/4"}),
    ("calc-4", "Calculate 2 to the power of 20.", "calculator", {"expression": "2**20"}),
    ("clock-1", "What time is it now in Tokyo?", "current_time", {"timezone": "Asia/Tokyo"}),
    ("clock-2", "What is today's date in UTC?", "current_time", {"timezone": "UTC"}),
    ("clock-3", "Which weekday is it right now in Paris?", "current_time", {"timezone": "Europe/Paris"}),
    ("fetch-1", "Fetch the page https://example.org and tell me its title.", "http_fetch",
     {"url": "https://example.org"}),
    ("fetch-2", "Read https://www.python.org/downloads/ and list the latest release.", "http_fetch",
     {"url": "https://www.python.org/downloads/"}),
    ("file-1", "Open the file notes.txt and summarise it.", "read_file", {"path": "notes.txt"}),
    ("file-2", "Show me what is in the file README.md.", "read_file", {"path": "README.md"}),
    ("none-1", "Hello! How are you today?", None, {}),
    ("none-2", "Write a haiku about autumn leaves.", None, {}),
    ("none-3", "What is the capital of France?", None, {}),
    ("none-4", "Translate 'good morning' into Spanish.", None, {}),
    ("none-5", "Thanks, that was helpful.", None, {}),
)


def _squash(value: Any) -> str:
    return normalize(str(value)).replace(" ", "")


class ToolRoutingTask(BaseTask):
    """Tool routing over genaisys's builtin tools.

    Args:
        data: optional JSONL of items (see the module doc); default: 16 built-in requests.
        tools: tools to bind (LangChain tools); default the four builtins (nothing is executed).
    """

    name = "tool-routing"

    def __init__(self, data: str | Path | None = None, tools: Sequence[Any] | None = None) -> None:
        self.data = data
        self._tools = list(tools) if tools is not None else None

    def options(self) -> dict[str, Any]:
        return {"data": str(self.data) if self.data else None, "tools": sorted(t.name for t in self.tools)}

    @property
    def labels(self) -> tuple[str, ...]:  # type: ignore[override]
        """Tool names + ``"(none)"``: the classes of the routing confusion matrix."""
        return (*sorted(t.name for t in self.tools), "(none)")

    @property
    def tools(self) -> list[Any]:
        if self._tools is None:
            from genaisys.tools import get_tool

            root = tempfile.mkdtemp(prefix="genaisys-eval-tools-")  # read_file needs a root; nothing runs
            self._tools = [get_tool(n, safety={"idempotent_cache": None},
                                    **({"roots": [root]} if n.endswith("file_reader") else {})) for n in _TOOLS]
        return self._tools

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        if self.data is not None:
            rows = [json.loads(line) for line in Path(self.data).read_text().splitlines() if line.strip()]
            for n, row in enumerate(rows, 1):
                if "id" not in row or "prompt" not in row or "tool" not in row:
                    raise ConfigError(f"{self.data}:{n}: an item needs id, prompt and tool (null for none)")
            spec = [(r["id"], r["prompt"], r["tool"], r.get("args", {})) for r in rows]
        else:
            spec = list(_ITEMS)
        items = [EvalItem(id=i, prompt=p, reference={"tool": t, "args": a}) for i, p, t, a in spec]
        return items[:limit] if limit is not None else items

    def prepare_model(self, model: Any) -> Any:
        if hasattr(model, "bind_tools"):
            return model.bind_tools(self.tools)
        return model  # a graph brings its own tools

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        want, want_args = item.reference["tool"], item.reference.get("args") or {}
        call = prediction.tool_calls[0] if prediction.tool_calls else None
        called = call["name"] if call else None
        schemas = {t.name: t.args_schema for t in self.tools}
        valid = None
        if call is not None:
            schema = schemas.get(called)
            valid = False
            if schema is not None and hasattr(schema, "model_validate"):
                try:
                    schema.model_validate(call.get("args") or {})
                    valid = True
                except ValueError:  # pydantic.ValidationError is a ValueError
                    valid = False
        right_tool = called == want
        args_match = None
        if right_tool and want is not None:
            got = call.get("args") or {}
            args_match = all(_squash(v) == _squash(got.get(k, "")) for k, v in want_args.items())
        return {"id": item.id, "pred": called or "(none)", "ref": want or "(none)", "needs_tool": want is not None,
                "right_tool": right_tool, "args_valid": valid, "args_match": args_match,
                "correct": right_tool and (want is None or bool(valid))}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        called = [r for r in records if r["args_valid"] is not None]
        need = [r for r in records if r["needs_tool"]]
        none = [r for r in records if not r["needs_tool"]]
        return {"accuracy": accuracy([r["correct"] for r in records]),
                "routing_accuracy": accuracy([r["right_tool"] for r in records]),
                "args_valid": accuracy([r["args_valid"] for r in called]),
                "tool_recall": accuracy([r["right_tool"] for r in need]),
                "no_tool_accuracy": accuracy([r["right_tool"] for r in none])}
