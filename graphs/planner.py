"""The planner graph: a HuggingGPT-style task list run as parallel branches.

::

    START → [plan] → validate ─┬─ ready tasks ─→ execute ×N (Send, in parallel) → join ─┐
                               │                 ▲                                        │
                               │                 └──────────── more ready tasks ──────────┤
                               └─ nothing left ─→ respond → END  ←──── all done ──────────┘

A plan is a JSON list of tasks ``{"task": <tool name>, "id": <id>, "dep": [<ids>], "args": {...}}``
(HuggingGPT's format; ``dep: [-1]`` means none). An argument may take an earlier task's output
by naming it ``"<GENERATED>-<id>"``, as the whole value or inside a string; that id must be
listed in ``dep``. The plan comes from the input state (``{"plan": [...]}``) or, when a model is
given and the input has none, from the model (``plan`` node, :data:`PLANNER_TEMPLATE`); a plan
the model gets wrong is sent back to it with the problems, ``max_replans`` times.

``validate`` rejects, with one :class:`~genaisys.errors.GraphError` listing every problem: a
task whose tool is unknown, unknown or mistyped literal arguments, a missing required argument,
a dependency that does not exist, a ``<GENERATED>`` reference not in ``dep``, and a cycle
(the message shows it, e.g. ``1 → 2 → 1``). Then every task whose dependencies are done is
sent to ``execute`` with LangGraph ``Send``: independent tasks run at the same time; ``join``
waits for the wave and sends the tasks that became ready. Each task's tool runs behind the
safety wrapper with the call id ``plan-<id>``, so a resumed run does not repeat it. A failed
task's dependents are skipped and say why. ``respond`` writes the final message: the model's
summary of the results when a model is given, otherwise one line per task.

Example:
    >>> def double(x: int) -> int:
    ...     '''Double a number.'''
    ...     return 2 * x
    >>> graph = build_planner_graph(tools=[double])
    >>> plan = [{"task": "double", "id": 1, "dep": [-1], "args": {"x": 3}},
    ...         {"task": "double", "id": 2, "dep": [1], "args": {"x": "<GENERATED>-1"}}]
    >>> graph.invoke({"plan": plan})["results"]["2"]["output"]
    '12'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Optional  # Optional: LangGraph matches the `config` annotation text

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from typing_extensions import TypedDict

from genaisys.errors import ConfigError, GraphError
from genaisys.graphs.checkpoint import CheckpointerSpec, make_checkpointer
from genaisys.graphs.nodes import ToolSpec, _stream_writer, resolve_tools
from genaisys.graphs.state import (
    EXECUTE,
    JOIN,
    MESSAGES,
    PLAN,
    PLANNER,
    RESPOND,
    RESULTS,
    VALIDATE,
    last_user_text,
    merge_results,
    message_text,
)
from genaisys.types import Memory

__all__ = [
    "GENERATED",
    "PLANNER_TEMPLATE",
    "REPLAN_TEMPLATE",
    "RESPOND_TEMPLATE",
    "PlanTask",
    "PlannerState",
    "build_planner_graph",
    "parse_plan",
    "validate_plan",
]

GENERATED = "<GENERATED>"
_REF = re.compile(r"<GENERATED>-([A-Za-z0-9_.]+)")

# Text meant for the model (templates, not exceptions).
PLANNER_TEMPLATE = (
    "Break the user's request into tasks, each one call of a tool below.\n"
    "Tools (name: description; arguments as JSON schema):\n{tools}\n\n"
    "Reply with only a JSON list of tasks, nothing else: "
    '[{{"task": <tool name>, "id": <number>, "dep": [<ids of tasks whose output this task needs>, '
    'or -1 for none], "args": {{<argument>: <value>}}}}]. To pass the output of task N as an '
    'argument, write the value "<GENERATED>-N" and list N in dep. Tasks that do not depend on '
    "each other run at the same time."
)
RESPOND_TEMPLATE = (
    "The user's request was broken into tasks that ran as tools. Their results follow, one per "
    "line as 'task <id> (<tool>) <status>: <output>'. Answer the user's request from these results; "
    "say which tasks failed, if any.\n{results}"
)
REPLAN_TEMPLATE = (
    "That plan cannot run:\n{problems}\nReply with only the corrected JSON list of tasks."
)
_SKIPPED = "skipped: dependency {dep} did not succeed"


class PlanTask(BaseModel):
    """One task of a plan (HuggingGPT format), ids normalised to strings and ``-1`` deps dropped.

    Example:
        >>> PlanTask.model_validate({"task": "add", "id": 2, "dep": [-1], "args": {"a": 1}}).dep
        []
    """

    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, description="the tool to call")
    id: str = Field(description="unique within the plan")
    dep: list[str] = Field(default_factory=list, description="ids whose outputs this task needs")
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
            raise ValueError("id must be a number or a non-empty string")
        return str(value).strip()

    @field_validator("dep", mode="before")
    @classmethod
    def _deps(cls, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, (int, str)):
            value = [value]
        return [str(v).strip() for v in value if str(v).strip() not in ("-1", "")]


class PlannerState(TypedDict, total=False):
    """State of the planner graph: ``messages``, the ``plan`` (validated task dicts) and
    ``results`` (task id → ``{"task", "status", "output"}``, merged across parallel branches)."""

    messages: Annotated[list[AnyMessage], add_messages]
    plan: list[dict[str, Any]]
    results: Annotated[dict[str, Any], merge_results]


class _TaskInput(TypedDict):
    task: dict[str, Any]
    results: dict[str, Any]


# ------------------------------------------------------------------------------------- parsing
def parse_plan(text: str) -> list[dict[str, Any]]:
    """The JSON task list in a model's reply (the first ``[...]`` that parses as a list).

    Raises:
        GraphError: No JSON list is found.

    Example:
        >>> parse_plan('Sure! [{"task": "add", "id": 1, "dep": [-1], "args": {}}] Done.')[0]["task"]
        'add'
    """
    start = text.find("[")
    while start != -1:
        end = text.rfind("]")
        while end > start:
            try:
                value = json.loads(text[start : end + 1])
            except json.JSONDecodeError:
                end = text.rfind("]", start, end)
                continue
            if isinstance(value, list):
                return value
            break
        start = text.find("[", start + 1)
    raise GraphError(f"the planner's reply holds no JSON task list; got: {text[:300]!r}")


def _refs(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_REF.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set()


def _find_cycle(deps: Mapping[str, Sequence[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in deps.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and dep in deps and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in deps:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _arg_problems(task: PlanTask, tool: BaseTool) -> list[str]:
    schema = tool.args_schema
    generated = {name for name, value in task.args.items() if _refs(value)}
    if isinstance(schema, dict):  # a JSON-schema tool (MCP): names and required only
        props = set(schema.get("properties", {}))
        problems = [f"unknown argument {n!r}" for n in task.args if props and n not in props]
        problems += [f"missing required argument {n!r}" for n in schema.get("required", []) if n not in task.args]
        return problems
    if schema is None or not isinstance(schema, type) or not issubclass(schema, BaseModel):
        return []
    fields = schema.model_fields
    problems = [f"unknown argument {n!r} (known: {', '.join(fields)})" for n in task.args if n not in fields]
    literal = {n: v for n, v in task.args.items() if n in fields and n not in generated}
    try:
        schema.model_validate(literal)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = err.get("loc", ())
            if loc and loc[0] in generated:  # filled in at run time, checked then
                continue
            where = ".".join(str(p) for p in loc) or "(arguments)"
            problems.append(f"argument {where}: {err.get('msg', 'invalid')}")
    return problems


def validate_plan(plan: Sequence[Any], tools: Sequence[BaseTool] | Mapping[str, BaseTool]) -> list[dict[str, Any]]:
    """Check a plan and return it normalised (ids as strings, ``-1`` deps dropped).

    Args:
        plan: Task dicts (or :class:`PlanTask`).
        tools: The tools the plan may use, as a list or a name → tool mapping.

    Raises:
        GraphError: Listing every problem found (see the module docstring).

    Example:
        >>> def add(a: int, b: int) -> int:
        ...     '''Add.'''
        ...     return a + b
        >>> validate_plan([{"task": "add", "id": 1, "dep": [2], "args": {"a": 1, "b": 2}},
        ...                {"task": "add", "id": 2, "dep": [1], "args": {"a": 1, "b": 2}}], resolve_tools([add], safe=False))
        Traceback (most recent call last):
        ...
        genaisys.errors.GraphError: invalid plan: cycle in dep: 1 → 2 → 1
    """
    by_name = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
    if not isinstance(plan, Sequence) or isinstance(plan, (str, bytes)) or not plan:
        raise GraphError(f"a plan is a non-empty list of tasks, got {plan!r:.200}")
    problems: list[str] = []
    tasks: list[PlanTask] = []
    for i, raw in enumerate(plan):
        try:
            tasks.append(raw if isinstance(raw, PlanTask) else PlanTask.model_validate(raw))
        except ValidationError as exc:
            details = "; ".join(
                f"{'.'.join(str(p) for p in e.get('loc', ())) or 'task'}: {e.get('msg')}"
                for e in exc.errors(include_url=False)
            )
            problems.append(f"task #{i}: {details}")
    ids = [t.id for t in tasks]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"id {dup} is used by {ids.count(dup)} tasks; ids must be unique")
    known = set(ids)
    for t in tasks:
        if t.task not in by_name:
            problems.append(f"task {t.id}: unknown tool {t.task!r} (known: {', '.join(sorted(by_name)) or 'none'})")
        else:
            problems += [f"task {t.id}: {p}" for p in _arg_problems(t, by_name[t.task])]
        for dep in t.dep:
            if dep not in known:
                problems.append(f"task {t.id}: depends on unknown task {dep}")
            elif dep == t.id:
                problems.append(f"task {t.id}: depends on itself")
        for ref in sorted(_refs(t.args)):
            if ref not in t.dep:
                problems.append(f"task {t.id}: uses {GENERATED}-{ref} but does not list {ref} in dep")
    if not problems:
        cycle = _find_cycle({t.id: t.dep for t in tasks})
        if cycle:
            problems.append("cycle in dep: " + " → ".join(cycle))
    if problems:
        raise GraphError("invalid plan: " + "\n".join(problems))
    return [t.model_dump() for t in tasks]


def _fill(value: Any, outputs: Mapping[str, Any]) -> Any:
    """Replace ``<GENERATED>-id`` references with the outputs of those tasks."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return outputs[whole.group(1)]
        return _REF.sub(lambda m: str(outputs[m.group(1)]), value)
    if isinstance(value, Mapping):
        return {k: _fill(v, outputs) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, outputs) for v in value]
    return value


def _ready(plan: Sequence[Mapping[str, Any]], results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [t for t in plan if t["id"] not in results and all(d in results for d in t["dep"])]


# ---------------------------------------------------------------------------------------- build
def build_planner_graph(
    core: BaseChatModel | None = None,
    *,
    tools: Sequence[ToolSpec],
    memory: Memory | None = None,
    checkpointer: CheckpointerSpec = False,
    recursion_limit: int = 25,
    tool_safety: dict[str, Any] | None = None,
    max_replans: int = 1,
) -> CompiledStateGraph:
    """Build the planner graph (see the module docstring).

    Args:
        core: A chat model that writes the plan (when the input has none) and the final answer.
            Without one, the input must carry ``plan`` and the answer lists the results.
        tools: The tools a plan may use (names, LangChain tools or functions), safety-wrapped.
        memory: Handed to memory tools.
        checkpointer: See ``genaisys.graphs.checkpoint.CheckpointerSpec``; none by default.
        recursion_limit: Steps allowed per run (each wave of parallel tasks costs two).
        tool_safety: Settings for ``genaisys.tools.safe_tool``.
        max_replans: When the model's plan does not parse or validate, it is shown the problems
            (:data:`REPLAN_TEMPLATE`) and asked again, up to this many times; then the run stops
            with a ``GraphError``. A plan given in the input is never retried.

    Returns:
        The compiled graph. Input ``{"messages": [request]}`` and/or ``{"plan": [...]}``.

    Raises:
        ConfigError: No tools, or a bad tool spec. (A bad plan raises ``GraphError`` when run.)
    """
    if core is not None and not isinstance(core, BaseChatModel):
        raise ConfigError(f"core must be a LangChain BaseChatModel or None, got {type(core).__name__}")
    if not tools:
        raise ConfigError("build_planner_graph needs the tools a plan may use")
    if not isinstance(max_replans, int) or max_replans < 0:
        raise ConfigError(f"max_replans must be an integer ≥ 0, got {max_replans!r}")
    resolved = {t.name: t for t in resolve_tools(tools, memory=memory, safety=tool_safety)}

    def plan(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, Any]:
        if state.get(PLAN):
            return {}
        if core is None:
            raise GraphError("no plan in the input and no model to write one: pass {'plan': [...]} or a core")
        listing = "\n".join(
            f"- {t.name}: {t.description} {json.dumps(_schema_json(t))}" for t in resolved.values()
        )
        prompt = [SystemMessage(PLANNER_TEMPLATE.format(tools=listing)), HumanMessage(last_user_text(state.get(MESSAGES, [])))]
        for attempt in range(max_replans + 1):
            reply = core.invoke(prompt, config)
            try:
                return {PLAN: validate_plan(parse_plan(message_text(reply)), resolved)}
            except GraphError as exc:
                problems = str(exc)
                prompt += [AIMessage(message_text(reply)), HumanMessage(REPLAN_TEMPLATE.format(problems=problems))]
        raise GraphError(f"the model wrote no valid plan in {max_replans + 1} tries; the last one: {problems}")

    def validate(state: dict) -> dict[str, Any]:
        return {PLAN: validate_plan(state.get(PLAN) or [], resolved)}

    def dispatch(state: dict) -> list[Send] | str:
        results = state.get(RESULTS) or {}
        ready = _ready(state[PLAN], results)
        if not ready:
            return RESPOND
        return [Send(EXECUTE, _TaskInput(task=dict(t), results={d: results[d] for d in t["dep"]})) for t in ready]

    def execute(payload: _TaskInput, config: Optional[RunnableConfig] = None) -> dict[str, Any]:
        task, inputs = payload["task"], payload["results"]
        failed = [d for d in task["dep"] if inputs[d]["status"] != "success"]
        if failed:
            out = {"task": task["task"], "status": "skipped", "output": _SKIPPED.format(dep=failed[0])}
            return {RESULTS: {task["id"]: out}}
        args = _fill(task["args"], {d: r["output"] for d, r in inputs.items()})
        write = _stream_writer()
        call_id = f"plan-{task['id']}"
        write({"type": "tool_start", "name": task["task"], "args": args, "id": call_id, "task_id": task["id"]})
        try:
            message = resolved[task["task"]].invoke(
                {"type": "tool_call", "name": task["task"], "args": args, "id": call_id}, config
            )
        except Exception as exc:  # noqa: BLE001 — a raw (unwrapped) tool failing; reported as the task's result
            message = ToolMessage(f"{type(exc).__name__}: {exc}", tool_call_id=call_id, status="error")
        content = message.content if isinstance(message, ToolMessage) else message
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        status = getattr(message, "status", "success")
        write({"type": "tool_end", "name": task["task"], "id": call_id, "status": status, "content": text[:2000]})
        return {RESULTS: {task["id"]: {"task": task["task"], "status": status, "output": text}}}

    def join(state: dict) -> dict[str, Any]:
        return {}

    def respond(state: dict, config: Optional[RunnableConfig] = None) -> dict[str, Any]:
        results = state.get(RESULTS) or {}
        lines = "\n".join(
            f"task {t['id']} ({t['task']}) {results[t['id']]['status']}: {results[t['id']]['output']}"
            for t in state[PLAN]
        )
        if core is None:
            return {MESSAGES: [AIMessage(lines, name=RESPOND)]}
        reply = core.invoke(
            [SystemMessage(RESPOND_TEMPLATE.format(results=lines)), *state.get(MESSAGES, [])], config
        )
        return {MESSAGES: [reply]}

    graph = StateGraph(PlannerState)
    graph.add_node(PLANNER, plan)
    graph.add_node(VALIDATE, validate)
    graph.add_node(EXECUTE, execute)
    graph.add_node(JOIN, join)
    graph.add_node(RESPOND, respond)
    graph.add_edge(START, PLANNER)
    graph.add_edge(PLANNER, VALIDATE)
    graph.add_conditional_edges(VALIDATE, dispatch, [EXECUTE, RESPOND])
    graph.add_edge(EXECUTE, JOIN)
    graph.add_conditional_edges(JOIN, dispatch, [EXECUTE, RESPOND])
    graph.add_edge(RESPOND, END)
    compiled = graph.compile(checkpointer=make_checkpointer(checkpointer), name="planner")
    return compiled.with_config(recursion_limit=recursion_limit)


def _schema_json(tool: BaseTool) -> Any:
    schema = tool.args_schema
    if isinstance(schema, dict):
        return schema.get("properties", schema)
    try:
        return tool.tool_call_schema.model_json_schema().get("properties", {})  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        return {}
