"""A round of the improvement loop from real feedback: serve, talk, rate, retrain, report.

1. starts ``genaisys serve`` on 127.0.0.1 as a subprocess, with its threads in a SQLite
   checkpointer (``OUT/threads.sqlite``; the ratings go beside it, ``OUT/threads.feedback.sqlite``);
2. runs a scripted session of twelve short turns through ``POST /v1/graphs/assistant/runs`` on four
   threads: arithmetic (the calculator's job), the colour of a drawn shape, yes/no questions about
   drawn shapes, a greeting;
3. rates every answer through ``POST /v1/feedback``: ``good`` when a simple checker finds the right
   answer in it, otherwise ``bad`` with ``edited`` = the right answer (a correction: an SFT record
   and a DPO pair for the data engine);
4. stops the server and runs one `genaisys.improve.round.improvement_round` on the same core with
   those sessions and ratings (plus the evaluation failures of ``--tasks``), then prints the report.

The round's report (``OUT/loop/round-NNN/loop_report.md``, a plot beside it) says what was trained
on — failures, session answers, label balance, replay — and whether the checks held. With
``--promote`` the candidate replaces ``OUT/loop/served`` only if they did.

Run: python examples/feedback_round.py [--core nano] [--out runs/feedback-round] [--limit 20] [--steps 30]
     [--select-every 5] [--replay-from runs/nano-replay/data/refine.jsonl]
     (the round on the held-out suites that the model card reports: docs/feedback.md)
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is packaged; never wait for a hub

# (thread, question, drawn shape or None, right answer, kind of check)
SESSION: list[tuple[str, str, tuple[str, str] | None, str, str]] = [
    ("math", "What is 17 times 23?", None, "391", "number"),
    ("math", "And 144 divided by 12?", None, "12", "number"),
    ("math", "What is 2 to the power of 10?", None, "1024", "number"),
    ("colours", "What colour is the shape?", ("red", "circle"), "red", "word"),
    ("colours", "What colour is this one?", ("blue", "rectangle"), "blue", "word"),
    ("colours", "And this shape, what colour is it?", ("green", "triangle"), "green", "word"),
    ("yes-no", "Is there a circle in the image? Answer yes or no.", ("red", "circle"), "yes", "yes/no"),
    ("yes-no", "Is there a triangle in the image? Answer yes or no.", ("blue", "rectangle"), "no", "yes/no"),
    ("yes-no", "Is the shape green? Answer yes or no.", ("green", "triangle"), "yes", "yes/no"),
    ("yes-no", "Is the shape red? Answer yes or no.", ("blue", "rectangle"), "no", "yes/no"),
    ("greeting", "Hello!", None, "Hello! How can I help you?", "greeting"),
    ("greeting", "Thanks, that is all. Bye!", None, "You're welcome. Goodbye!", "greeting"),
]
_GREETING_WORDS = {"hello", "hi", "hey", "welcome", "goodbye", "bye", "glad"}


def shape_png(colour: str, shape: str) -> bytes:
    """A 64×64 PNG of one filled shape on white, as easy-VQA draws them."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (64, 64), "white")
    draw = ImageDraw.Draw(img)
    if shape == "circle":
        draw.ellipse((12, 12, 52, 52), fill=colour)
    elif shape == "triangle":
        draw.polygon([(32, 8), (56, 54), (8, 54)], fill=colour)
    else:
        draw.rectangle((12, 16, 52, 48), fill=colour)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def is_right(answer: str, reference: str, kind: str) -> bool:
    """The simple checker: the right number, colour word, yes/no verdict, or any greeting."""
    from genaisys.eval.parsing import normalize, parse_yes_no

    if kind == "number":
        return reference in re.findall(r"-?\d+(?:\.\d+)?", answer.replace(",", ""))
    if kind == "word":
        return reference in normalize(answer).split()
    if kind == "yes/no":
        return parse_yes_no(answer) == reference
    return bool(_GREETING_WORDS & set(normalize(answer).split()))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(core: str, checkpointer: Path, *, port: int, key: str, max_new_tokens: int, log: Path) -> Any:
    """``genaisys serve`` as a child process, answering once ``GET /v1/models`` does."""
    import httpx

    env = {**os.environ, "GENAISYS_API_KEY": key}
    log_file = log.open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "genaisys.cli", "serve", "--core", core, "--port", str(port),
                             "--checkpointer", str(checkpointer), "--max-new-tokens", str(max_new_tokens)],
                            env=env, stdout=log_file, stderr=subprocess.STDOUT)
    proc.log_file = log_file  # type: ignore[attr-defined]
    deadline = time.monotonic() + 300  # loading a core from its packaged weights takes a while on small machines
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"genaisys serve exited with {proc.returncode}; its log:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key}"},
                         timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"genaisys serve did not answer within 300 s; its log:\n{log.read_text()[-2000:]}")


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
    proc.log_file.close()


def talk_and_rate(url: str, key: str, *, timeout: float) -> list[dict[str, Any]]:
    """Run the scripted session and rate every answer; returns one row per turn."""
    import httpx

    rows = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout) as client:
        for thread, question, drawn, reference, kind in SESSION:
            content: Any = question
            if drawn is not None:
                data = base64.b64encode(shape_png(*drawn)).decode("ascii")
                content = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
                           {"type": "text", "text": question}]
            run = client.post("/v1/graphs/assistant/runs", json={"thread_id": thread, "input": content})
            run.raise_for_status()
            answer, message_id = run.json()["output"], run.json()["message_id"]
            right = is_right(answer, reference, kind)
            rating = {"thread_id": thread, "message_id": message_id, "rating": "good" if right else "bad"}
            if not right:
                rating["edited"] = reference.capitalize() if kind == "yes/no" else reference
            client.post("/v1/feedback", json=rating).raise_for_status()
            rows.append({"thread": thread, "question": question, "answer": answer, "rating": rating["rating"],
                         "edited": rating.get("edited")})
            print(f"[{thread}] {question} → {answer!r}: {rating['rating']}"
                  + (f" (edited: {rating['edited']!r})" if not right else ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--core", default="nano", help="Core to serve and improve: nano, or a saved core's folder.")
    parser.add_argument("--out", type=Path, default=Path("runs/feedback-round"), help="Output folder.")
    parser.add_argument("--tasks", default="easy-vqa,pope-adversarial", help="Comma-separated evaluation tasks.")
    parser.add_argument("--limit", default="20", help="Probe items per task (failures are trained on): a number, "
                                                       "or task=n pairs naming every task (heldout-shapes=160,...).")
    parser.add_argument("--holdout", default=None, help="Held-out items per task, as --limit (default: --limit).")
    parser.add_argument("--steps", type=int, default=30, help="Optimiser steps of the round's sft stage.")
    parser.add_argument("--replay", type=int, default=16, help="Replay records per task (with --replay-from: in all).")
    parser.add_argument("--replay-from", type=Path, default=None,
                        help="A training-records JSONL to replay from (e.g. the recipe's runs/nano/data/refine.jsonl).")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="Token cap of the served answers.")
    parser.add_argument("--eval-max-new-tokens", type=int, default=16, help="Token budget of evaluation answers.")
    parser.add_argument("--resamples", type=int, default=1000, help="Bootstrap resamples of the report.")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="Training override key=value (loop.lr=1e-4, …), repeatable.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the round (default: torch's).")
    parser.add_argument("--promote", action="store_true", help="Serve the candidate only if the checks hold.")
    parser.add_argument("--select-every", type=int, default=None,
                        help="Early stopping: train in segments of N steps, keep the one that scores best on a "
                             "validation cut of the probe slices with yes-ratios in band.")
    parser.add_argument("--validation", type=float, default=0.25,
                        help="With --select-every: share of each task's probe slice kept for validation.")
    parser.add_argument("--session-weight", type=int, default=1,
                        help="Times each rated answer (accepted or corrected) is trained on.")
    parser.add_argument("--timeout", type=float, default=600.0, help="Seconds one graph run may take.")
    args = parser.parse_args()

    from genaisys.improve.round import improvement_round, parse_task_counts, sample_records

    # bad counts or a bad replay file fail here, before the server starts
    limit = parse_task_counts("--limit", args.limit)
    holdout = None if args.holdout is None else parse_task_counts("--holdout", args.holdout)
    replay_records = None if args.replay_from is None else sample_records(args.replay_from, args.replay)
    args.out.mkdir(parents=True, exist_ok=True)
    threads_db = args.out / "threads.sqlite"
    key, port = secrets.token_urlsafe(16), free_port()
    print(f"serving {args.core} on 127.0.0.1:{port} (threads in {threads_db})")
    server = start_server(args.core, threads_db, port=port, key=key, max_new_tokens=args.max_new_tokens,
                          log=args.out / "serve.log")
    try:
        rows = talk_and_rate(f"http://127.0.0.1:{port}", key, timeout=args.timeout)
    finally:
        stop_server(server)
    from genaisys.train.engine.feedback import feedback_path_for

    feedback_db = Path(feedback_path_for(threads_db))  # where the server kept the ratings: beside the threads
    (args.out / "session.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    good = sum(r["rating"] == "good" for r in rows)
    print("feedback:", json.dumps({"turns": len(rows), "good": good, "bad": len(rows) - good,
                                   "store": str(feedback_db)}))

    from genaisys.train.config import parse_overrides

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    report = improvement_round(
        args.core, tasks=[t.strip() for t in args.tasks.split(",") if t.strip()], out_dir=args.out / "loop",
        sessions=threads_db, feedback=feedback_db, limit=limit, holdout=holdout, steps=args.steps,
        replay=args.replay, replay_records=replay_records, max_new_tokens=args.eval_max_new_tokens,
        n_resamples=args.resamples,
        train_overrides=parse_overrides(args.overrides), promote=args.promote, select_every=args.select_every,
        validation=args.validation, session_weight=args.session_weight, log=lambda m: print("  " + m))
    print("session data:", json.dumps(report.adversarial_set["sessions"]))
    print(f"report: {report.round_dir / 'loop_report.md'}")
    print(report.markdown())


if __name__ == "__main__":
    main()
