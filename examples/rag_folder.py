"""Retrieval-grounded QA over a folder, with citations and abstention.

Writes a few Python help topics into a folder, ingests it, then asks one question the folder
answers and one it cannot (the graph abstains without calling the model).

Run: python examples/rag_folder.py [--max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pydoc_data.topics

import genaisys
from genaisys.graphs import build_rag_graph
from genaisys.memory import ChromaMemory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp()) / "docs"
    folder.mkdir()
    for topic in ("with", "assert", "lambda", "pass"):
        (folder / f"{topic}.txt").write_text(pydoc_data.topics.topics[topic])
    memory = ChromaMemory(path=Path(tempfile.mkdtemp()))
    print(memory.ingest(folder, progress=False))

    graph = build_rag_graph(genaisys.load_core("nano", max_new_tokens=args.max_new_tokens), memory, min_score=0.35)
    for question in ("What does the assert statement do?", "Who won the football world cup in 1998?"):
        state = graph.invoke({"messages": [{"role": "user", "content": question}]})
        print(f"\nQ: {question}\nA: {state['messages'][-1].text}")
        print("retrieved:", [f"{h['citation']} ({h['score']:.2f})" for h in state.get("context", [])])
        print("cited:", [c["citation"] for c in state.get("citations", [])])


if __name__ == "__main__":
    main()
