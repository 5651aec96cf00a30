"""Evaluate the embedded default core: POPE-style probes and tool routing, with a report.

Writes results.json, report.md and PNG plots (bars with bootstrap intervals, confusion matrices)
into ./eval-report. The default nano core is untrained, so expect low scores: the point is the
harness (robust parsing, yes-ratio over predictions, intervals, a resumable prediction cache).

Run: python examples/evaluate.py [--limit 20] [--max-new-tokens 16]
"""

from __future__ import annotations

import argparse

import genaisys
from genaisys.eval import get_task, markdown_table, run_eval, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    args = parser.parse_args()

    core = genaisys.load_core("nano", max_new_tokens=args.max_new_tokens)
    results = [run_eval(get_task(name), core, limit=args.limit, cache="eval-report/predictions.jsonl",
                        model_id="nano-untrained", n_resamples=200)
               for name in ("pope-random", "tool-routing")]
    paths = write_report(results, "eval-report")
    print(markdown_table(results))
    print("wrote", paths["json"], paths["markdown"], *paths["plots"])


if __name__ == "__main__":
    main()
