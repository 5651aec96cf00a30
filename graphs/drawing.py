"""Draw the prebuilt graphs (or any compiled graph) as Mermaid text or as a PNG, offline.

LangGraph draws Mermaid itself; its PNG renderers need a web service (mermaid.ink), a browser
or Graphviz, none of which an offline machine has. :func:`render_png` lays the graph out in
layers (longest path from ``__start__``; loops drawn as back edges on the right) and draws it
with Pillow. ``genaisys graph draw NAME`` is this module's :func:`draw_graph`.

Example:
    >>> print(draw_graph("rag").splitlines()[5])
    graph TD;
    >>> draw_graph("rag", fmt="png")[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from genaisys.errors import ConfigError, GraphError, UnknownNameError

__all__ = ["PREBUILT_GRAPHS", "draw_graph", "render_png"]


class _DrawingOnlyModel(BaseChatModel):
    """Stands in for a core when a graph is built only to be drawn."""

    @property
    def _llm_type(self) -> str:
        return "drawing-only"

    def bind_tools(self, tools: Any, **kwargs: Any) -> _DrawingOnlyModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:
        raise GraphError("this graph was built by draw_graph for drawing only; build it with a real core to run it")


class _NoMemory:
    def search(self, query: str, k: int = 4, where: dict | None = None) -> list:
        return []


def _assistant(**kw: Any) -> Any:
    from genaisys.graphs.assistant import build_assistant_graph

    return build_assistant_graph(_DrawingOnlyModel(), checkpointer=False, **kw)


def _assistant_full() -> Any:
    return _assistant(tools=["builtin:calculator", "builtin:memory_search"], memory=_NoMemory())


def _assistant_approval() -> Any:
    from genaisys.graphs.assistant import build_assistant_graph

    return build_assistant_graph(
        _DrawingOnlyModel(), tools=["builtin:calculator"], memory=_NoMemory(), approve=True, checkpointer=":memory:"
    )


def _rag() -> Any:
    from genaisys.graphs.rag import build_rag_graph

    return build_rag_graph(_DrawingOnlyModel(), _NoMemory())


def _planner() -> Any:
    from genaisys.graphs.planner import build_planner_graph

    return build_planner_graph(_DrawingOnlyModel(), tools=["builtin:calculator"])


class _NoBlobs:
    def put(self, data: bytes, mime_type: str | None = None) -> str:
        raise GraphError("this graph was built by draw_graph for drawing only")

    def path(self, blob_id: str) -> Any:
        raise GraphError("this graph was built by draw_graph for drawing only")


def _any_to_any() -> Any:
    from genaisys.graphs.any_to_any import build_any_to_any_graph

    def textualize(path: Any) -> str:
        raise GraphError("this graph was built by draw_graph for drawing only")

    return build_any_to_any_graph(
        _DrawingOnlyModel(), blobs=_NoBlobs(), textualizers={"audio": textualize, "video": textualize},
        decoders={"image": textualize, "speech": textualize}, tools=["builtin:calculator"], memory=_NoMemory(),
        checkpointer=False,
    )


PREBUILT_GRAPHS: dict[str, Callable[[], Any]] = {
    "assistant": _assistant_full,
    "assistant-approval": _assistant_approval,
    "rag": _rag,
    "planner": _planner,
    "any-to-any": _any_to_any,
}
"""Names ``draw_graph`` knows, each building its graph with stand-in model, memory and tools."""


def draw_graph(graph: str | Any, *, fmt: Literal["mermaid", "png"] = "mermaid") -> str | bytes:
    """Draw a prebuilt graph by name (see :data:`PREBUILT_GRAPHS`) or any compiled graph.

    Args:
        graph: A name, or a compiled LangGraph graph.
        fmt: ``"mermaid"`` (text) or ``"png"`` (bytes, rendered offline by :func:`render_png`).

    Raises:
        UnknownNameError: An unknown name; the message lists the known ones.
        ConfigError: An unknown format.
    """
    if isinstance(graph, str):
        if graph not in PREBUILT_GRAPHS:
            raise UnknownNameError("graph", graph, list(PREBUILT_GRAPHS))
        graph = PREBUILT_GRAPHS[graph]()
    drawable = graph.get_graph()
    if fmt == "mermaid":
        return drawable.draw_mermaid()
    if fmt == "png":
        return render_png(drawable)
    raise ConfigError(f"fmt must be 'mermaid' or 'png', got {fmt!r}")


# -------------------------------------------------------------------------------------- layout
def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> tuple[dict[str, int], set[tuple[str, str]]]:
    """Longest-path layer of each node over the forward edges; and the back edges (loops)."""
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for s, t in edges:
        succ[s].append(t)
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}

    def dfs(n: str) -> None:
        state[n] = 1
        for t in succ[n]:
            if state.get(t) == 1:
                back.add((n, t))
            elif t not in state:
                dfs(t)
        state[n] = 2

    for root in ["__start__", *nodes]:
        if root in succ and root not in state:
            dfs(root)
    layer = {n: 0 for n in nodes}
    for _ in nodes:  # relax len(nodes) times: longest path on a DAG
        for s, t in edges:
            if (s, t) not in back:
                layer[t] = max(layer[t], layer[s] + 1)
    if "__end__" in layer:  # the end sits alone at the bottom
        layer["__end__"] = max(v for n, v in layer.items() if n != "__end__") + 1
    return layer, back


def render_png(drawable: Any, *, scale: int = 1) -> bytes:
    """Render a LangGraph drawable graph (``compiled.get_graph()``) to PNG bytes with Pillow.

    Solid arrows are fixed edges, dashed arrows conditional ones; loops go up the right side.
    """
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=14 * scale)
    except TypeError:  # Pillow < 10.1: bitmap font only
        font = ImageFont.load_default()
    names = {nid: node.name for nid, node in drawable.nodes.items()}
    order = list(names)
    edges = [(e.source, e.target) for e in drawable.edges]
    conditional = {(e.source, e.target): bool(e.conditional) for e in drawable.edges}
    layer, back = _layers(order, edges)

    pad, gap_x, gap_y, box_h = 10 * scale, 30 * scale, 50 * scale, 32 * scale
    width = {n: int(font.getlength(names[n])) + 2 * pad for n in order}
    rows: dict[int, list[str]] = {}
    loops_from = {s for s, _ in back}
    for n in sorted(order, key=lambda n: n in loops_from):  # loop sources rightmost: their lane is clear
        rows.setdefault(layer[n], []).append(n)
    skips = [(s, t) for s, t in edges if (s, t) not in back and layer[t] - layer[s] > 1]
    row_w = {r: sum(width[n] for n in ns) + gap_x * (len(ns) - 1) for r, ns in rows.items()}
    loop_margin = 30 * scale * (1 + len(back))
    skip_margin = 30 * scale * len(skips)
    canvas_w = max(row_w.values()) + 2 * gap_x + loop_margin + skip_margin
    canvas_h = len(rows) * box_h + (len(rows) + 1) * gap_y
    box: dict[str, tuple[int, int, int, int]] = {}
    for r, ns in rows.items():
        x = skip_margin + (canvas_w - skip_margin - loop_margin - row_w[r]) // 2
        y = gap_y + r * (box_h + gap_y)
        for n in ns:
            box[n] = (x, y, x + width[n], y + box_h)
            x += width[n] + gap_x

    img = Image.new("RGB", (canvas_w, canvas_h), "white")
    draw = ImageDraw.Draw(img)
    ink, fill, edge_ink = (40, 40, 60), (242, 240, 255), (90, 90, 110)

    def arrow(points: list[tuple[float, float]], dashed: bool) -> None:
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            if not dashed:
                draw.line([(x0, y0), (x1, y1)], fill=edge_ink, width=2 * scale)
                continue
            length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-6)
            dash = 6 * scale
            for i in range(0, int(length), 2 * dash):
                a, b = i / length, min(i + dash, length) / length
                draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                          fill=edge_ink, width=2 * scale)
        (x0, y0), (x1, y1) = points[-2], points[-1]
        length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-6)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        size = 8 * scale
        draw.polygon([(x1, y1), (x1 - size * ux + size * 0.5 * uy, y1 - size * uy - size * 0.5 * ux),
                      (x1 - size * ux - size * 0.5 * uy, y1 - size * uy + size * 0.5 * ux)], fill=edge_ink)

    lane = canvas_w - loop_margin + 15 * scale
    left_lane = skip_margin - 15 * scale
    for s, t in edges:
        sx0, sy0, sx1, sy1 = box[s]
        tx0, ty0, tx1, ty1 = box[t]
        dashed = conditional[(s, t)]
        if (s, t) in back or layer[t] <= layer[s]:
            ym_s, ym_t = (sy0 + sy1) / 2, (ty0 + ty1) / 2
            arrow([(sx1, ym_s), (lane, ym_s), (lane, ym_t), (tx1, ym_t)], dashed)
            lane += 30 * scale
        elif (s, t) in skips:  # jumps over rows: go down the left side so no box hides it
            ym_s, ym_t = (sy0 + sy1) / 2, (ty0 + ty1) / 2
            arrow([(sx0, ym_s), (left_lane, ym_s), (left_lane, ym_t), (tx0, ym_t)], dashed)
            left_lane -= 30 * scale
        else:
            arrow([((sx0 + sx1) / 2, sy1), ((tx0 + tx1) / 2, ty0)], dashed)
    for n in order:
        x0, y0, x1, y1 = box[n]
        terminal = n in ("__start__", "__end__")
        draw.rounded_rectangle(box[n], radius=(box_h // 2 if terminal else 6 * scale),
                               fill="white" if terminal else fill, outline=ink, width=2 * scale)
        draw.text(((x0 + x1) / 2, (y0 + y1) / 2), names[n], fill=ink, font=font, anchor="mm")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
