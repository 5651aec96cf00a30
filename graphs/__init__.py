if __name__ != "genaisys.graphs":  # a bare `import graphs` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.graphs, not graphs (docs/architecture.md, Packaging)")
__doc__ = """genaisys.graphs: the programs. LangGraph state, node factories and prebuilt graphs.

Everything is plain LangGraph (``StateGraph``); names load lazily so ``import genaisys.graphs``
stays light.

Example:
    >>> from genaisys.graphs import build_assistant_graph, run_turn
    >>> from langchain_core.language_models import FakeListChatModel
    >>> graph = build_assistant_graph(FakeListChatModel(responses=["hi"]), checkpointer=False)
    >>> run_turn(graph, "hello", thread_id="demo")["messages"][-1].content
    'hi'
"""

from typing import TYPE_CHECKING

from genaisys._lazy import lazy_exports

_LAZY = {
    # state
    "AssistantState": "genaisys.graphs.state",
    "ContextHit": "genaisys.graphs.state",
    "Artifact": "genaisys.graphs.state",
    "media_block": "genaisys.graphs.state",
    # nodes
    "make_recall_node": "genaisys.graphs.nodes",
    "make_think_node": "genaisys.graphs.nodes",
    "make_remember_node": "genaisys.graphs.nodes",
    "make_act_node": "genaisys.graphs.nodes",
    "make_approval_node": "genaisys.graphs.nodes",
    "route_after_think": "genaisys.graphs.nodes",
    "route_after_approve": "genaisys.graphs.nodes",
    "resolve_tools": "genaisys.graphs.nodes",
    # prebuilt graphs and helpers
    "build_assistant_graph": "genaisys.graphs.assistant",
    "sqlite_checkpointer": "genaisys.graphs.checkpoint",
    "postgres_checkpointer": "genaisys.graphs.checkpoint",
    "make_checkpointer": "genaisys.graphs.checkpoint",
    "run_turn": "genaisys.graphs.assistant",
    "build_rag_graph": "genaisys.graphs.rag",
    "cited_hits": "genaisys.graphs.rag",
    "build_planner_graph": "genaisys.graphs.planner",
    "validate_plan": "genaisys.graphs.planner",
    "PlanTask": "genaisys.graphs.planner",
    "draw_graph": "genaisys.graphs.drawing",
    "build_any_to_any_graph": "genaisys.graphs.any_to_any",
    "make_perceive_node": "genaisys.graphs.media",
    "make_textualize_node": "genaisys.graphs.media",
    "make_decoder_tools": "genaisys.graphs.media",
    "make_decode_node": "genaisys.graphs.media",
    "make_respond_node": "genaisys.graphs.media",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:
    from genaisys.graphs.any_to_any import build_any_to_any_graph
    from genaisys.graphs.assistant import build_assistant_graph, run_turn
    from genaisys.graphs.checkpoint import make_checkpointer, postgres_checkpointer, sqlite_checkpointer
    from genaisys.graphs.drawing import draw_graph
    from genaisys.graphs.media import (
        make_decode_node,
        make_decoder_tools,
        make_perceive_node,
        make_respond_node,
        make_textualize_node,
    )
    from genaisys.graphs.nodes import (
        make_act_node,
        make_approval_node,
        make_recall_node,
        make_remember_node,
        make_think_node,
        resolve_tools,
        route_after_approve,
        route_after_think,
    )
    from genaisys.graphs.planner import PlanTask, build_planner_graph, validate_plan
    from genaisys.graphs.rag import build_rag_graph, cited_hits
    from genaisys.graphs.state import Artifact, AssistantState, ContextHit, media_block


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
