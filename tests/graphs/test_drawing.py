"""Every prebuilt graph draws as Mermaid (compared to a saved snapshot) and as a PNG, offline."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from genaisys.errors import UnknownNameError
from genaisys.graphs import draw_graph
from genaisys.graphs.drawing import PREBUILT_GRAPHS

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("name", sorted(PREBUILT_GRAPHS))
def test_prebuilt_graph_mermaid_matches_snapshot(name):
    mermaid = draw_graph(name)
    snapshot = SNAPSHOTS / f"draw_{name}.mmd"
    if os.environ.get("GENAISYS_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(mermaid)
    assert mermaid == snapshot.read_text(), f"topology of {name!r} changed; rerun with GENAISYS_UPDATE_SNAPSHOTS=1 if on purpose"


@pytest.mark.parametrize("name", sorted(PREBUILT_GRAPHS))
def test_prebuilt_graph_renders_png_with_every_node(name):
    from PIL import Image

    png = draw_graph(name, fmt="png")
    image = Image.open(io.BytesIO(png))
    image.load()
    nodes = PREBUILT_GRAPHS[name]().get_graph().nodes
    assert image.format == "PNG"
    assert image.height >= 60 * len(nodes)  # one row per layer at least for chains; never squashed
    # boxes are filled with the node colour: some pixels of it must exist
    assert (242, 240, 255) in {image.getpixel((x, y)) for x in range(0, image.width, 2) for y in range(0, image.height, 2)}


def test_unknown_graph_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="known: any-to-any, assistant, assistant-approval, planner, rag"):
        draw_graph("nope")


def test_drawing_only_graph_refuses_to_run():
    from langchain_core.messages import HumanMessage

    from genaisys.errors import GraphError

    graph = PREBUILT_GRAPHS["assistant"]()
    with pytest.raises(GraphError, match="drawing only"):
        graph.invoke({"messages": [HumanMessage("x")]})
