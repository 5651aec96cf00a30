"""The safety wrapper every genaisys tool runs in (docs/architecture.md, "Peripherals and storage").

`safe_tool` turns any LangChain tool, or a plain typed function, into a LangChain `BaseTool`
that LangGraph's `ToolNode` (and any LangChain agent) runs as usual, and adds:

- a **time limit** (`timeout_s`): a late tool gives the model a "timed out" text, not a hang;
- an **output size cap** (`max_output_chars`): longer output is cut and marked as cut;
- **argument validation** against the tool's pydantic (or JSON) schema, whose errors go back to
  the model as readable text (`VALIDATION_ERROR_TEMPLATE`), so the graph continues;
- errors raised by the tool itself become model-facing text (`TOOL_FAILED_TEMPLATE`) too;
  LangGraph's own control flow (`interrupt()`, `Command`) passes through untouched;
- optional **human approval** (`require_approval=True`) through LangGraph `interrupt()`: the
  client resumes with ``Command(resume="approve")``, ``Command(resume={"action": "edit",
  "args": {...}})`` or ``Command(resume={"action": "reject", "reason": "..."})``. When one
  model turn has several gated calls, add the interrupt's ``tool_call_id`` to each decision
  (``{"action": "approve", "tool_call_id": ...}``): decisions are then routed to their call
  even though LangGraph pairs resume values with interrupts by their order in the node;
- an **idempotency cache** in a small SQLite file keyed by (thread id, task namespace,
  tool-call id, tool name): LangGraph re-runs a whole node when a graph resumes after an
  interrupt or a crash, and the cache hands back the recorded result instead of running the
  side effect again.

Limits, by design: a timed-out tool is abandoned, not killed (Python cannot kill a thread; it
runs on in a daemon thread and its late result is dropped). Only finished calls are cached: a
call that crashed the process half-way, raised, or timed out runs again on resume.

Text meant for the model lives in the ``*_TEMPLATE`` constants below, apart from exceptions.

Example:
    >>> from genaisys.tools import safe_tool
    >>> def add(a: int, b: int) -> int:
    ...     '''Add two integers.'''
    ...     return a + b
    >>> tool = safe_tool(add, idempotent_cache=None)
    >>> tool.invoke({"a": 2, "b": 3})
    '5'
    >>> tool.invoke({"a": "two", "b": 3}).splitlines()[0]
    "Invalid arguments for tool 'add':"
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genaisys.errors import ConfigError, ToolError

__all__ = [
    "APPROVAL_REJECTED_TEMPLATE",
    "TIMEOUT_TEMPLATE",
    "TOOL_FAILED_TEMPLATE",
    "TRUNCATION_MARKER",
    "VALIDATION_ERROR_TEMPLATE",
    "ApprovalDecision",
    "IdempotencyCache",
    "SafeTool",
    "default_cache_path",
    "safe_tool",
]

# ---- text for the model (templates, not exceptions) -------------------------------------------

VALIDATION_ERROR_TEMPLATE = (
    "Invalid arguments for tool '{tool}':\n{errors}\n"
    "Expected arguments (JSON schema): {schema}\n"
    "Fix the arguments and call the tool again."
)
TOOL_FAILED_TEMPLATE = "Tool '{tool}' failed: {error}"
TIMEOUT_TEMPLATE = (
    "Tool '{tool}' did not finish within {timeout_s:g} s and was abandoned. "
    "Try a smaller request or a different tool."
)
TRUNCATION_MARKER = "\n[... output truncated: {shown} of {total} characters shown ...]"
APPROVAL_REJECTED_TEMPLATE = "A human reviewer rejected this call to tool '{tool}'. Reason: {reason}"


_DEFAULT_TIMEOUT_S = 30.0
_DEFAULT_MAX_OUTPUT_CHARS = 20_000
_CACHE_ENV = "GENAISYS_TOOL_CACHE"

# The ToolCall (id and raw args) being run, set by SafeTool.invoke/ainvoke for _run/_arun.
_CURRENT_CALL: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "genaisys_tool_call", default=None
)


class ApprovalDecision(BaseModel):
    """What a human answers to an approval interrupt (the ``Command(resume=...)`` value).

    A bare string ``"approve"`` / ``"reject"`` or a bool is accepted as shorthand.

    Example:
        >>> ApprovalDecision.model_validate("approve").action
        'approve'
        >>> ApprovalDecision.model_validate({"action": "edit", "args": {"x": 1}}).args
        {'x': 1}
    """

    # The interrupt carries this model's JSON schema to the client: keep its description short.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=lambda schema, _cls: schema.update(
            description="Approve the tool call, edit its arguments, or reject it."
        ),
    )

    action: Literal["approve", "edit", "reject"]
    args: dict[str, Any] | None = Field(default=None, description="the edited arguments (action 'edit')")
    reason: str | None = Field(default=None, description="why the call was rejected (action 'reject')")
    tool_call_id: str | None = Field(
        default=None, description="the call this decision is for; when given, a decision for another call is refused"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"action": "approve" if value else "reject"}
        if isinstance(value, str):
            return {"action": value.strip().lower()}
        return value

    @model_validator(mode="after")
    def _edit_needs_args(self) -> ApprovalDecision:
        if self.action == "edit" and self.args is None:
            raise ValueError("action 'edit' needs 'args': the full, edited argument object")
        return self


# ---- idempotency cache ------------------------------------------------------------------------


def default_cache_path() -> Path:
    """Where the shared idempotency cache lives: ``$GENAISYS_TOOL_CACHE``, else ``tool_calls.sqlite`` in
    genaisys's home (``$GENAISYS_HOME``, default ~/.cache/genaisys; `genaisys.assets.cache_dir`), so
    everything genaisys keeps moves with that one setting.

    Example:
        >>> default_cache_path().name
        'tool_calls.sqlite'
    """
    env = os.environ.get(_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from genaisys.assets import cache_dir

    return cache_dir() / "tool_calls.sqlite"


class IdempotencyCache:
    """Results of finished tool calls, persisted in SQLite so they survive a process crash.

    Keys are (thread id, task namespace, tool-call id, tool name). The task namespace
    (LangGraph's ``checkpoint_ns``, e.g. ``"tools:<task id>"``) is stable when a graph resumes
    from a checkpoint but differs between two fresh runs that reuse a thread id, so a scripted
    model's repeated call ids do not collide across runs. Entries older than ``ttl_s`` are
    dropped when the cache opens.

    Args:
        path: SQLite file (created with its folder), or ``":memory:"`` for a per-process cache.
        ttl_s: How long a result is kept, in seconds.

    Example:
        >>> cache = IdempotencyCache(":memory:")
        >>> cache.put(("t", "tools:1", "call_1", "add"), "5")
        >>> cache.get(("t", "tools:1", "call_1", "add"))
        '5'
    """

    def __init__(self, path: str | Path = ":memory:", *, ttl_s: float = 7 * 24 * 3600.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection shared by threads (ToolNode runs calls in a thread pool), serialised by
        # the lock; SQLite's own file locking serialises processes.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0, isolation_level=None)
        with self._lock:
            if self.path != ":memory:":
                # WAL + synchronous=NORMAL: a commit survives a *process* crash (what a resumed
                # graph needs) without an fsync per tool call (~4 ms -> ~0.1 ms here).
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS tool_results (thread_id TEXT, task_ns TEXT, call_id TEXT,"
                " tool TEXT, content TEXT, created REAL, PRIMARY KEY (thread_id, task_ns, call_id, tool))"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS approvals (thread_id TEXT, task_ns TEXT, call_id TEXT,"
                " decision TEXT, created REAL, PRIMARY KEY (thread_id, task_ns, call_id))"
            )
            for table in ("tool_results", "approvals"):
                self._conn.execute(f"DELETE FROM {table} WHERE created < ?", (time.time() - ttl_s,))

    def get(self, key: tuple[str, str, str, str]) -> Any | None:
        """The recorded content for ``key``, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT content FROM tool_results WHERE thread_id=? AND task_ns=? AND call_id=? AND tool=?", key
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: tuple[str, str, str, str], content: Any) -> None:
        """Record the content (JSON-serialisable: a string or content blocks) of a finished call."""
        blob = json.dumps(content)
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO tool_results VALUES (?, ?, ?, ?, ?, ?)", (*key, blob, time.time())
            )

    def get_decision(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        """The approval decision recorded for (thread id, task namespace, tool-call id), or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT decision FROM approvals WHERE thread_id=? AND task_ns=? AND call_id=?", key
            ).fetchone()
        return None if row is None else json.loads(row[0])

    def put_decision(self, key: tuple[str, str, str], decision: dict[str, Any]) -> None:
        """Record an approval decision for a tool call."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)", (*key, json.dumps(decision), time.time())
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM tool_results").fetchone()[0])

    def close(self) -> None:
        """Close the SQLite connection."""
        with self._lock:
            self._conn.close()


class _DecisionMemory:
    """Approval decisions of tools built without a cache (kept in this process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str, str], dict[str, Any]] = {}

    def get_decision(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        with self._lock:
            return self._data.get(key)

    def put_decision(self, key: tuple[str, str, str], decision: dict[str, Any]) -> None:
        with self._lock:
            if len(self._data) > 10_000:  # bounded: old entries go first
                self._data.pop(next(iter(self._data)))
            self._data[key] = decision


_MEMORY_DECISIONS = _DecisionMemory()
_MAX_APPROVAL_ROUNDS = 16
_SHARED_CACHES: dict[str, IdempotencyCache] = {}
_SHARED_LOCK = threading.Lock()


def _resolve_cache(spec: IdempotencyCache | str | Path | bool | None) -> IdempotencyCache | None:
    if spec is None or spec is False:
        return None
    if isinstance(spec, IdempotencyCache):
        return spec
    if spec is True:
        spec = default_cache_path()
    if isinstance(spec, (str, Path)):
        key = str(Path(spec).expanduser().resolve()) if str(spec) != ":memory:" else f":memory:{id(spec)}"
        with _SHARED_LOCK:
            if key not in _SHARED_CACHES:
                _SHARED_CACHES[key] = IdempotencyCache(key if not key.startswith(":memory:") else ":memory:")
            return _SHARED_CACHES[key]
    raise ConfigError(
        f"idempotent_cache must be an IdempotencyCache, a file path, True (default file) or None (off); "
        f"got {type(spec).__name__}"
    )


# ---- the wrapper ------------------------------------------------------------------------------


def _format_validation_error(tool: str, schema: Any, exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        lines = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err.get("loc", ())) or "(arguments)"
            got = repr(err.get("input"))
            got = got if len(got) <= 80 else got[:77] + "..."
            lines.append(f"- {where}: {err.get('msg', 'invalid')} (got {got})")
        errors = "\n".join(lines)
    else:
        errors = f"- {exc}"
    try:
        schema_json = json.dumps(schema.get("properties", schema) if isinstance(schema, dict) else schema)
    except (TypeError, ValueError):
        schema_json = str(schema)
    return VALIDATION_ERROR_TEMPLATE.format(tool=tool, errors=errors, schema=schema_json[:2000])


def _cap(content: Any, limit: int) -> Any:
    """Cut text content (a string, or the text of content blocks) to ``limit`` characters."""
    if isinstance(content, str):
        if len(content) <= limit:
            return content
        return content[:limit] + TRUNCATION_MARKER.format(shown=limit, total=len(content))
    if isinstance(content, list):
        budget, total, out = limit, 0, []
        for block in content:
            text = block.get("text") if isinstance(block, dict) else block if isinstance(block, str) else None
            if text is None:
                out.append(block)
                continue
            total += len(text)
            kept = text[: max(budget, 0)]
            budget -= len(kept)
            if kept:
                out.append({**block, "text": kept} if isinstance(block, dict) else kept)
        if total > limit:
            out.append({"type": "text", "text": TRUNCATION_MARKER.format(shown=limit, total=total)})
        return out
    return content


def _flatten_text_blocks(content: Any) -> Any:
    """Content made only of text blocks (what MCP tools return) becomes one string.

    Small local models read a plain string best; content with images or other blocks stays a list.
    """
    if isinstance(content, list) and content and all(
        isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str))
        for b in content
    ):
        return "\n".join(b if isinstance(b, str) else b["text"] for b in content)
    return content


def _json_safe(content: Any) -> bool:
    try:
        json.dumps(content)
    except (TypeError, ValueError):
        return False
    return True


class SafeTool(BaseTool):
    """A LangChain tool run inside genaisys's safety wrapper; build it with `safe_tool`.

    It has the wrapped tool's name, description and argument schema, so a model bound to it
    (``model.bind_tools([tool])``) sees the same tool.
    """

    _genaisys_safe: ClassVar[bool] = True  # graphs check this to avoid wrapping twice

    inner: BaseTool
    timeout_s: float = _DEFAULT_TIMEOUT_S
    max_output_chars: int = _DEFAULT_MAX_OUTPUT_CHARS
    require_approval: bool = False
    cache: Any = None  # IdempotencyCache | None (Any: pydantic need not validate the class)
    response_format: Literal["content", "content_and_artifact"] = "content_and_artifact"
    handle_tool_error: bool = True

    # ---- entry points: remember the ToolCall so _run knows its id and raw args --------------

    def invoke(  # noqa: D102
        self, input: str | dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any  # noqa: A002
    ) -> Any:
        token = _CURRENT_CALL.set(dict(input) if isinstance(input, dict) and input.get("type") == "tool_call" else None)
        try:
            return super().invoke(input, config, **kwargs)
        finally:
            _CURRENT_CALL.reset(token)

    async def ainvoke(  # noqa: D102
        self, input: str | dict[str, Any], config: RunnableConfig | None = None, **kwargs: Any  # noqa: A002
    ) -> Any:
        token = _CURRENT_CALL.set(dict(input) if isinstance(input, dict) and input.get("type") == "tool_call" else None)
        try:
            return await super().ainvoke(input, config, **kwargs)
        finally:
            _CURRENT_CALL.reset(token)

    # ---- validation -------------------------------------------------------------------------

    def _parse_input(self, tool_input: str | dict[str, Any], tool_call_id: str | None) -> str | dict[str, Any]:
        try:
            parsed = super()._parse_input(tool_input, tool_call_id)
            if isinstance(self.args_schema, dict) and isinstance(parsed, dict):
                _validate_json_schema(self.args_schema, parsed)
            return parsed
        except (ValidationError, ValueError, TypeError) as exc:
            raise ToolException(_format_validation_error(self.name, self.tool_call_schema_json(), exc)) from exc

    def tool_call_schema_json(self) -> Any:
        """The JSON schema of the arguments the model must send."""
        schema = self.args_schema
        if isinstance(schema, dict):
            return schema
        if schema is None:
            return {}
        try:
            return self.tool_call_schema.model_json_schema()  # type: ignore[union-attr]
        except (AttributeError, TypeError, ValueError):
            return {}

    # ---- execution --------------------------------------------------------------------------

    def _key(self, config: RunnableConfig | None) -> tuple[str, str, str, str] | None:
        call = _CURRENT_CALL.get()
        configurable = (config or {}).get("configurable", {})
        thread_id = configurable.get("thread_id")
        if self.cache is None or call is None or not call.get("id") or thread_id is None:
            return None
        return (str(thread_id), str(configurable.get("checkpoint_ns", "")), str(call["id"]), self.name)

    def _before(self, kwargs: dict[str, Any], config: RunnableConfig | None) -> dict[str, Any]:
        """Approval gate: the arguments to run with; a rejection raises `ToolException` (text)."""
        if not self.require_approval:
            return kwargs
        call = _CURRENT_CALL.get() or {}
        raw_args = call.get("args", {k: v for k, v in kwargs.items() if _json_safe(v)})
        payload = {
            "type": "tool_approval",
            "tool": self.name,
            "args": raw_args,
            "tool_call_id": call.get("id"),
            "description": self.description,
            "options": ["approve", "edit", "reject"],
        }
        decision = self._ask(payload, call.get("id"), config)
        if decision.action == "reject":
            reason = decision.reason or "none given"
            raise ToolException(APPROVAL_REJECTED_TEMPLATE.format(tool=self.name, reason=reason))
        if decision.action == "edit":
            edited = self._parse_input(dict(decision.args or {}), call.get("id"))
            return dict(edited) if isinstance(edited, dict) else {"__arg1": edited}
        return kwargs

    def _ask(self, payload: dict[str, Any], call_id: str | None, config: RunnableConfig | None) -> ApprovalDecision:
        """Get this call's decision, routing decisions by ``tool_call_id``.

        LangGraph hands resume values to ``interrupt()`` calls by their order inside the node,
        and ToolNode runs a turn's calls in parallel, so with several gated calls in one turn a
        call can receive another call's answer. A decision that names another ``tool_call_id``
        is recorded for that call, and this one asks again; a call first looks for a decision
        recorded for it. Decisions without ``tool_call_id`` go to whichever call asks first.
        """
        from langgraph.errors import GraphInterrupt
        from langgraph.types import interrupt

        configurable = (config or {}).get("configurable", {})
        scope = (str(configurable.get("thread_id")), str(configurable.get("checkpoint_ns", "")))
        store = self.cache if self.cache is not None else _MEMORY_DECISIONS
        if call_id is not None and (known := store.get_decision((*scope, call_id))) is not None:
            return ApprovalDecision.model_validate(known)
        for _ in range(_MAX_APPROVAL_ROUNDS):
            try:
                decision = interrupt(payload, response_schema=ApprovalDecision)
            except GraphInterrupt:
                # Another call of this turn may have just received (and recorded) our answer.
                if call_id is not None and (known := store.get_decision((*scope, call_id))) is not None:
                    return ApprovalDecision.model_validate(known)
                raise
            except (RuntimeError, KeyError) as exc:  # outside a running graph: no config or no scratchpad
                raise ToolError(
                    f"tool {self.name!r} requires human approval, which needs a LangGraph graph with a "
                    "checkpointer and a thread_id (run it through ToolNode), or build it with require_approval=False"
                ) from exc
            if decision.tool_call_id is None or decision.tool_call_id == call_id:
                if call_id is not None:
                    store.put_decision((*scope, call_id), decision.model_dump())
                return decision
            store.put_decision((*scope, decision.tool_call_id), decision.model_dump())
        raise ToolException(f"Tool '{self.name}' got no approval decision for call {call_id!r}; ask again.")

    def _inner_input(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        call = _CURRENT_CALL.get()
        if call and call.get("id"):
            return {"type": "tool_call", "id": call["id"], "name": self.inner.name, "args": kwargs}
        return kwargs

    def _finish(self, result: Any, key: tuple[str, str, str, str] | None) -> tuple[Any, Any]:
        artifact = None
        if isinstance(result, ToolMessage):
            if result.status == "error":
                raise ToolException(_cap(_flatten_text_blocks(result.content), self.max_output_chars))
            content, artifact = result.content, result.artifact
        elif isinstance(result, (str, list)):
            content = result
        elif hasattr(result, "graph") and hasattr(result, "goto"):  # a LangGraph Command: pass through
            return result, None
        elif isinstance(result, BaseModel):
            content = result.model_dump_json()
        elif isinstance(result, (int, float, bool, dict)) or result is None:
            content = json.dumps(result, default=str)
        else:
            content = str(result)
        content = _flatten_text_blocks(content)
        content = _cap(content, self.max_output_chars)
        if key is not None and _json_safe(content):
            self.cache.put(key, content)
        return content, artifact

    def _failure(self, exc: BaseException) -> ToolException:
        if isinstance(exc, ToolException):
            text = str(exc.args[0]) if exc.args else "tool error"
        else:
            text = TOOL_FAILED_TEMPLATE.format(tool=self.name, error=f"{type(exc).__name__}: {exc}")
        return ToolException(_cap(text, self.max_output_chars))

    def _invoke_inner_sync(self, inner_input: Any, config: RunnableConfig) -> Any:
        inner = self.inner
        if isinstance(inner, StructuredTool) and inner.func is None and inner.coroutine is not None:
            # An async-only tool (MCP tools are): run it on a private event loop in this worker thread.
            return asyncio.run(inner.ainvoke(inner_input, config))
        return inner.invoke(inner_input, config)

    def _run(self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any) -> Any:
        from langgraph.errors import GraphBubbleUp

        if args:  # single string input of a legacy tool
            kwargs = {"__arg1": args[0], **kwargs}
        key = self._key(config)
        if key is not None and (hit := self.cache.get(key)) is not None:
            return hit, None
        run_kwargs = self._before(kwargs, config)
        inner_input = run_kwargs["__arg1"] if "__arg1" in run_kwargs else self._inner_input(run_kwargs)

        box: dict[str, Any] = {}
        ctx = contextvars.copy_context()

        def work() -> None:
            try:
                box["result"] = ctx.run(self._invoke_inner_sync, inner_input, config)
            except BaseException as exc:  # noqa: BLE001 — carried to the calling thread
                box["error"] = exc

        # A daemon thread: a tool that never returns cannot keep the process alive at exit.
        worker = threading.Thread(target=work, name=f"genaisys-tool-{self.name}", daemon=True)
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            raise ToolException(TIMEOUT_TEMPLATE.format(tool=self.name, timeout_s=self.timeout_s))
        if "error" in box:
            exc = box["error"]
            if isinstance(exc, GraphBubbleUp) or not isinstance(exc, Exception):
                raise exc
            if hasattr(exc, "graph") and hasattr(exc, "goto"):
                raise exc
            raise self._failure(exc) from exc
        return self._finish(box["result"], key)

    async def _arun(self, *args: Any, config: RunnableConfig, run_manager: Any = None, **kwargs: Any) -> Any:
        from langgraph.errors import GraphBubbleUp

        if args:
            kwargs = {"__arg1": args[0], **kwargs}
        key = self._key(config)
        if key is not None and (hit := self.cache.get(key)) is not None:
            return hit, None
        run_kwargs = self._before(kwargs, config)
        inner_input = run_kwargs["__arg1"] if "__arg1" in run_kwargs else self._inner_input(run_kwargs)
        try:
            result = await asyncio.wait_for(self.inner.ainvoke(inner_input, config), self.timeout_s)
        except asyncio.TimeoutError as exc:
            raise ToolException(TIMEOUT_TEMPLATE.format(tool=self.name, timeout_s=self.timeout_s)) from exc
        except GraphBubbleUp:
            raise
        except Exception as exc:  # noqa: BLE001 — becomes model-facing text
            raise self._failure(exc) from exc
        return self._finish(result, key)


def _validate_json_schema(schema: dict[str, Any], args: dict[str, Any]) -> None:
    """Validate arguments against a JSON-schema ``args_schema`` (MCP tools carry one)."""
    try:
        import jsonschema
    except ImportError:  # minimal check without the library
        missing = [k for k in schema.get("required", []) if k not in args]
        if missing:
            raise ValueError(f"missing required argument(s): {', '.join(missing)}") from None
        return
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(args), key=lambda e: list(e.path))
    if errors:
        msgs = "; ".join(f"{'.'.join(map(str, e.path)) or '(arguments)'}: {e.message}" for e in errors[:5])
        raise ValueError(msgs)


def _unwrapped_tool(tool_or_function: BaseTool | Callable[..., Any], *, name: str | None = None,
                    description: str | None = None) -> BaseTool:
    """The plain LangChain tool under `safe_tool`: a `SafeTool`'s inner tool, a tool, or a function made one.

    Raises:
        ConfigError: The input is neither a tool nor a function.
    """
    if isinstance(tool_or_function, SafeTool):
        return tool_or_function.inner
    if isinstance(tool_or_function, BaseTool):
        return tool_or_function
    if callable(tool_or_function):
        func = tool_or_function
        doc = (getattr(func, "__doc__", None) or "").strip()
        fname = getattr(func, "__name__", None) or type(func).__name__
        kw: dict[str, Any] = {"name": name or fname, "description": description or doc or f"Run {fname}."}
        if asyncio.iscoroutinefunction(func):
            return StructuredTool.from_function(coroutine=func, **kw)
        return StructuredTool.from_function(func=func, **kw)
    raise ConfigError(
        f"safe_tool needs a LangChain BaseTool or a typed function; got {type(tool_or_function).__name__}"
    )


def safe_tool(
    tool_or_function: BaseTool | Callable[..., Any],
    *,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
    max_output_chars: int = _DEFAULT_MAX_OUTPUT_CHARS,
    require_approval: bool = False,
    idempotent_cache: IdempotencyCache | str | Path | bool | None = True,
    name: str | None = None,
    description: str | None = None,
) -> SafeTool:
    """Wrap a LangChain tool or a typed function in genaisys's safety wrapper.

    Args:
        tool_or_function: A `BaseTool`, or a function with type hints and a docstring (its
            docstring becomes the description; async functions work too).
        timeout_s: Seconds the tool may run; after that the model is told it timed out.
        max_output_chars: Longest output handed to the model; longer output is cut and marked.
        require_approval: Ask a human through LangGraph ``interrupt()`` before each call.
        idempotent_cache: Where finished results are recorded so a resumed graph does not run
            a call twice: an `IdempotencyCache`, a SQLite file path, True for the shared default
            file (`default_cache_path`), or None to turn it off.
        name: Override the tool name.
        description: Override the tool description.

    Returns:
        A `SafeTool` (a LangChain `BaseTool`). Wrapping a `SafeTool` again re-wraps its inner tool.

    Raises:
        ConfigError: A limit is not positive, or the input is neither a tool nor a function.

    Example:
        >>> def shout(text: str) -> str:
        ...     '''Upper-case a text.'''
        ...     return text.upper()
        >>> safe_tool(shout, max_output_chars=3, idempotent_cache=None).invoke({"text": "hello"})[:3]
        'HEL'
    """
    if timeout_s <= 0 or max_output_chars <= 0:
        raise ConfigError(f"timeout_s and max_output_chars must be > 0; got {timeout_s} and {max_output_chars}")
    inner = _unwrapped_tool(tool_or_function, name=name, description=description)
    return SafeTool(
        name=name or inner.name,
        description=description or inner.description,
        args_schema=inner.args_schema,
        inner=inner,
        timeout_s=float(timeout_s),
        max_output_chars=int(max_output_chars),
        require_approval=require_approval,
        cache=_resolve_cache(idempotent_cache),
        handle_validation_error=False,
        metadata={**(inner.metadata or {}), "genaisys_safe": True},
        tags=inner.tags,
        return_direct=inner.return_direct,
    )
