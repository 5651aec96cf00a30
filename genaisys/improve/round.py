"""One round of the improvement loop: evaluate → gather failures → data engine → retrain → re-evaluate.

This is the Dynabench-style loop (docs/architecture.md, "References"), run on a trainable genaisys core:

1. **evaluate** the core on each task — a *probe* slice (the first ``limit`` items of the seeded
   order) and a disjoint *held-out* slice (the next ``holdout`` items), answers cached in
   ``<out>/predictions.jsonl`` so an interrupted round resumes;
2. **gather** the probe slice's failures (`genaisys.eval.adversarial.gather_adversarial`) and, when a
   checkpointer and a `FeedbackStore` are given, the sessions' rejected answers: their *failures*
   (rejected, no correction) and their *DPO pairs* (rejected, corrected) — into one adversarial set,
   ``<out>/adversarial.jsonl``, appended across rounds (ids are content hashes: nothing twice);
3. the **data engine** turns the set's evaluation rows into SFT records
   (`genaisys.improve.failures.failures_to_records`: the prompt answered with its
   reference, or with the task's own ``training_answer``), with ``contrast=True`` a *contrast*
   record beside each failure whose task offers one (``contrast(item)``: the same input asked the
   other way), the sessions' SFT records (accepted and edited answers, in their conversation), balances the
   yes/no labels, and adds a small **replay** sample of the original kind of training data (easy-VQA
   questions, POPE probes, tool conversations — from the *train* split) so the core does not forget;
4. **retrain**: one ``sft`` stage (`genaisys.train.run.run_stage`: connector + LoRA, a few steps)
   on the current core; the new core is ``<round>/train/final`` — or, with ``select_every``, the
   stage runs in segments and early stopping keeps one (`genaisys.improve.select`);
5. **re-evaluate** the new core on the same slices *and* on the adversarial set itself, and
   report before → after per task and slice with bootstrap intervals and a paired bootstrap
   (`genaisys.eval.report.compare`: is the change beyond noise?).
6. **decide**: the new core is a *candidate*; with ``promote=True`` it replaces the served core
   (``served``, default ``<out>/served``) only when the report's checks all hold — the adversarial
   set rose beyond noise, no held-out accuracy / F1 fell beyond noise, no held-out yes-ratio left
   its band (`genaisys.improve.promote`). The report's "Promotion" section says what was compared,
   each check, and the decision.

**Leakage, said plainly.** The adversarial items are trained on, so accuracy on the adversarial set
measures how well the loop fixed what it was shown — not generalisation. The *held-out* slice is
never gathered into training (with the same ``limit``, ``holdout`` and ``seed`` it stays held out in
every round): that is the number that says whether the core got better. The probe slice's items
that were answered right before were not trained on either, but they were *selected* as right, so
their after-accuracy only shows forgetting. The report writes this beside the numbers.

Each call runs one round in ``<out>/round-NNN`` (a round without a ``loop_report.json`` — an
interrupted one — is continued). The next round starts from ``<out>/round-NNN/train/final``.

Example:
    >>> report = improvement_round("nano", tasks=["easy-vqa", "pope-adversarial"], out_dir="runs/loop",
    ...                            limit=40, steps=30)  # doctest: +SKIP
    >>> adv = report.adversarial  # doctest: +SKIP
    >>> adv["before"]["accuracy"]["value"], adv["after"]["accuracy"]["value"]  # doctest: +SKIP
    (0.0, 0.65)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.metrics import DEFAULT_RESAMPLES, accuracy, bootstrap_metrics, paired_bootstrap
from genaisys.eval.runner import EvalResult, model_identity, run_eval
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["LoopReport", "default_replay", "improvement_round", "parse_task_counts", "sample_records"]

PROBE, VALIDATION, HELDOUT, ADVERSARIAL = "probe", "validation", "heldout", "adversarial"
SESSIONS_TASK = "sessions"
_REPORT_JSON, _REPORT_MD, _REPORT_PNG = "loop_report.json", "loop_report.md", "loop_report.png"


# --------------------------------------------------------------------------- task slices


class _Slice(BaseTask):
    """A task restricted to some of its items: same name (so cached answers are shared), prompts,
    model preparation, scoring and metrics."""

    def __init__(self, task: Any, items: Sequence[EvalItem], part: str) -> None:
        self.task, self.items, self.part = task, list(items), part
        self.name = task.name
        self.labels = getattr(task, "labels", None)

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        return self.items[:limit] if limit is not None else list(self.items)

    def build_messages(self, item: EvalItem) -> list[Any]:
        return self.task.build_messages(item)

    def prepare_model(self, model: Any) -> Any:
        return self.task.prepare_model(model)

    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        return self.task.score_all(items, predictions, cache=cache, model_id=model_id)

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        return self.task.metrics(records)

    def options(self) -> dict[str, Any]:
        return {**self.task.options(), "slice": self.part}


class _SessionTask(BaseTask):
    """The adversarial set's corrected session answers as a task: the conversation before the
    rejected answer is the prompt; an answer is right when it contains the user's correction
    (normalised), the way a person would accept it."""

    name = SESSIONS_TASK

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.items = [EvalItem(id=str(r["id"]), prompt=str(r.get("prompt", "")), images=tuple(r.get("images") or ()),
                               reference=str(r["reference"]), meta={"record": r.get("record")}) for r in rows]

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        return self.items[:limit] if limit is not None else list(self.items)

    def build_messages(self, item: EvalItem) -> list[Any]:
        record = item.meta.get("record")
        if not record:
            return super().build_messages(item)
        from genaisys.train.data import to_messages

        messages, _ = to_messages(record, inline_images=True)
        return messages

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        from genaisys.eval.parsing import normalize

        ref, pred = normalize(item.reference), normalize(prediction.text)
        return {"id": item.id, "correct": bool(ref) and ref in pred}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        return {"accuracy": accuracy([r["correct"] for r in records])}


def _pooled_accuracy(records: list[Mapping[str, Any]]) -> dict[str, float]:
    return {"accuracy": accuracy([r["correct"] for r in records])}


# --------------------------------------------------------------------------- the report


@dataclass
class LoopReport:
    """What one round did, and the numbers before and after it.

    Attributes:
        round_dir: the round's folder (results, training run, report files).
        model_before / model_after: the model ids the answers are cached under.
        core_after: the retrained core (``load_core(str(core_after))`` loads it).
        tasks: ``{task: {slice: {"n", "before", "after", "compare"}}}`` — slices ``probe``,
            ``heldout`` and ``adversarial``; metrics as ``{name: {value, ci_low, ci_high}}``,
            ``compare`` as `genaisys.eval.report.compare` gives them per metric (``delta``, its
            95% paired-bootstrap interval, ``p_value``, ``beyond_noise``).
        adversarial: the whole adversarial set (every task and the sessions pooled): ``n``,
            ``before``, ``after`` (accuracy with interval) and ``compare``.
        adversarial_set: ``path``, ``added`` this round, ``total`` rows, rows by source, rows
            without a reference (nothing to train on or score against: a teacher or a person must answer).
        training: record counts by source, steps, first/final loss, wall time, the stage's folder.
        notes: what the numbers mean (leakage) and anything left out.
        promotion: the checks on this report and the decision
            (`genaisys.improve.promote.decide_promotion`): ``asked``, ``checks_hold``, ``promoted``,
            ``decision``, ``candidate``, ``served``, ``compared``, ``checks``, ``caveats``.
        wall_s: seconds the round took.
        plot: the before/after bar plot's file name beside the report (``loop_report.png``), or why
            there is none.
    """

    round_dir: Path
    model_before: str
    model_after: str
    core_after: Path
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    adversarial: dict[str, Any] = field(default_factory=dict)
    adversarial_set: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    promotion: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    plot: str = ""

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    def markdown(self) -> str:
        """The report as Markdown: the adversarial set, per-task slices, training, notes."""

        def cell(m: Mapping[str, Any] | None, name: str) -> str:
            if not m or name not in m:
                return "—"
            v = m[name]
            return f"{v['value']:.3f} [{v['ci_low']:.3f}, {v['ci_high']:.3f}]"

        def delta(c: Mapping[str, Any] | None, name: str) -> str:
            if not c or name not in c:
                return "—"
            s = c[name]
            return (f"{s['delta']:+.3f} [{s['ci_low']:+.3f}, {s['ci_high']:+.3f}]"
                    f"{' beyond noise' if s['beyond_noise'] else ''}")

        adv = self.adversarial
        lines = [f"# genaisys eval loop — {self.round_dir.name}", "",
                 f"- before: `{self.model_before}`", f"- after: `{self.model_after}` (core: `{self.core_after}`)", "",
                 "## Adversarial set (what the loop optimises — its items were trained on)", "",
                 "| items | accuracy before (95% CI) | accuracy after (95% CI) | Δ (95% CI) |", "|---:|---|---|---|",
                 (f"| {adv.get('n', 0)} | {cell(adv.get('before'), 'accuracy')} | "
                  f"{cell(adv.get('after'), 'accuracy')} | {delta(adv.get('compare'), 'accuracy')} |"), "",
                 "## Per task and slice", "",
                 "| task | slice | n | metric | before (95% CI) | after (95% CI) | Δ (95% CI) |",
                 "|---|---|---:|---|---|---|---|"]
        for task, parts in self.tasks.items():
            for part, entry in parts.items():
                names = list(dict.fromkeys([*(entry.get("before") or {}), *(entry.get("after") or {})]))
                for name in names:
                    lines.append(f"| {task} | {part} | {entry.get('n', 0)} | {name} | "
                                 f"{cell(entry.get('before'), name)} | {cell(entry.get('after'), name)} | "
                                 f"{delta(entry.get('compare'), name)} |")
        s, t = self.adversarial_set, self.training
        lines += ["", "## Adversarial set file", "",
                  f"`{s.get('path')}`: {s.get('added', 0)} rows added this round, {s.get('total', 0)} in all "
                  f"(by source: {json.dumps(s.get('by_source', {}))}); {s.get('without_reference', 0)} without a "
                  "reference (need a teacher or a person before they can be trained on or scored).", "",
                  *self._sessions_markdown(),
                  "## Training (one sft stage)", "",
                  f"records: {json.dumps(t.get('records', {}))}; steps {t.get('steps')}, loss {t.get('first_loss')} → "
                  f"{t.get('final_loss')}, {t.get('wall_s')} s; run in `{t.get('output_dir')}`.", "",
                  *self._labels_markdown(),
                  *self._selection_markdown(),
                  "## Notes", "", *[f"- {n}" for n in self.notes], ""]
        p = self.promotion
        if p:
            lines += ["## Promotion", "", f"**Decision: {p['decision']}.** Candidate `{p['candidate']}`; served core "
                      f"`{p['served']}`.", "", f"Compared: {p['compared']}.", "",
                      "| check | compared | rule | value | holds |", "|---|---|---|---|---|",
                      *[f"| {c['name']} | {c['compared']} | {c['rule']} | {c['value']} | "
                        f"{'✓' if c['passed'] else '✗'} |" for c in p["checks"]],
                      "", "What the checks cannot see:", "", *[f"- {c}" for c in p["caveats"]], ""]
        if self.plot == _REPORT_PNG:
            lines += ["## Plot", "", f"![before and after per task and slice]({_REPORT_PNG})", ""]
        elif self.plot:
            lines += ["## Plot", "", self.plot, ""]
        lines.append(f"Round wall time: {self.wall_s:.1f} s.")
        return "\n".join(lines) + "\n"

    def _sessions_markdown(self) -> list[str]:
        n = self.adversarial_set.get("sessions") or {}
        if not any(n.values()):
            return []
        return [f"Sessions (rated answers): {n.get('sft', 0)} SFT records (accepted or corrected answers, trained on), "
                f"{n.get('dpo', 0)} DPO pairs (corrected answers, added to the set), {n.get('failures', 0)} failures "
                "(rejected without a correction).", ""]

    def _selection_markdown(self) -> list[str]:
        sel = self.training.get("selection") or {}
        if not sel:
            return []

        def row(label: str, metrics: Mapping[str, Mapping[str, float]], score: float | str, ok: str) -> str:
            shown = ("accuracy", "yes_ratio")
            cells = "; ".join(f"{task}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.items() if k in shown)
                              for task, m in metrics.items())
            return f"| {label} | {cells} | {score} | {ok} |"

        lines = ["### Early stopping (segments scored on validation cuts never trained on)", "",
                 f"Segments of {sel['every']} steps; scored on: "
                 + ", ".join(f"{t} ({p})" for t, p in sel["checked"].items()) + ".", "",
                 "| after | validation | score | bands hold |", "|---|---|---:|---|",
                 row("before training", sel["before"], f"{sel['before_score']:.3f}", "—")]
        for i, seg in enumerate(sel["segments"]):
            mark = " **kept**" if i == sel["index"] else ""
            lines.append(row(f"{seg['steps']} steps{mark}", seg["validation"], f"{sel['scores'][i]:.3f}",
                             "✓" if sel["eligible"][i] else "✗"))
        return [*lines, "", f"Kept: {sel['reason']}.", ""]

    def _labels_markdown(self) -> list[str]:
        counts = self.training.get("labels") or {}
        groups = counts.get("groups") or {}
        head = f"### Answer labels trained on ({' / '.join(counts.get('labels') or [])})"
        if not groups:
            return [head, "", "No failure or session answer was one of these labels: nothing to balance.", ""]
        lines = [head, "", "Failures and session answers per task and label, before and after balancing (probe items "
                 "answered right added; the majority downsampled where there were too few):", "",
                 "| task | label | before | after |", "|---|---|---:|---:|"]
        for group, g in groups.items():
            lines += [f"| {group} | {lab} | {n} | {g['after'][lab]} |" for lab, n in g["before"].items()]
        return [*lines, "", f"{counts.get('added', 0)} records added, {counts.get('dropped', 0)} dropped.", ""]

    def save(self, folder: str | Path | None = None) -> dict[str, Path]:
        """Write ``loop_report.json``, ``loop_report.md`` and the before/after plot ``loop_report.png``
        (matplotlib permitting; default: into the round folder)."""
        from genaisys.eval.report import plot_before_after

        out = Path(folder) if folder is not None else self.round_dir
        out.mkdir(parents=True, exist_ok=True)
        panels = dict(self.tasks)
        if self.adversarial.get("after"):
            panels["adversarial set (pooled)"] = {ADVERSARIAL: self.adversarial}
        try:
            plot_before_after(panels, out / _REPORT_PNG, title=f"{self.round_dir.name}: before → after (95% CI)")
            self.plot = _REPORT_PNG
        except ImportError as exc:  # MissingDependencyError is an ImportError
            self.plot = f"plot skipped: {exc}"
        except ConfigError as exc:
            self.plot = f"plot skipped: {exc}"
        (out / _REPORT_JSON).write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        (out / _REPORT_MD).write_text(self.markdown(), encoding="utf-8")
        paths = {"json": out / _REPORT_JSON, "markdown": out / _REPORT_MD}
        return {**paths, "plot": out / _REPORT_PNG} if self.plot == _REPORT_PNG else paths


# --------------------------------------------------------------------------- helpers


def default_replay(task_names: Sequence[str], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """A replay sample of the original kind of training data for each task, from the *train* split.

    ``easy-vqa`` → easy-VQA questions, ``pope*`` → POPE probes (the task's sampling setting),
    ``tool-routing`` → tool conversations (train phrasings); other tasks have none.

    Example:
        >>> default_replay(["mc-circular"], 8)
        []
    """
    if n < 0:
        raise ConfigError(f"replay must be ≥ 0, got {n}")
    if n == 0:
        return []
    out: list[dict[str, Any]] = []
    for k, name in enumerate(dict.fromkeys(task_names)):
        if name == "easy-vqa":
            from genaisys.train.engine.easy_vqa import qa

            out += qa("train", max(n, 1), seed + k)
        elif name.startswith("pope"):
            from genaisys.train.engine.easy_vqa import pope_probes

            setting = name.partition("-")[2] or "mixed"
            out += pope_probes("train", max(n, 2), seed + k, setting=setting)
        elif name == "tool-routing":
            from genaisys.train.engine.tool_use import tool_conversations

            out += tool_conversations(max(n, 1), seed + k, split="train")
    return out


def sample_records(path: str | Path, n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` training records drawn (seeded, file order kept) from a records JSONL: a round's replay
    taken from the data the core was trained on (e.g. the nano recipe's ``data/refine.jsonl``).

    Raises:
        ConfigError: no such file, a line that is not JSON, or ``n < 0``.

    Example:
        >>> import json, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
        >>> _ = f.write_text("".join(json.dumps({"id": str(i)}) + "\\n" for i in range(10)))
        >>> [r["id"] for r in sample_records(f, 3, seed=1)]
        ['1', '2', '4']
    """
    import random

    source = Path(path)
    if n < 0:
        raise ConfigError(f"replay must be ≥ 0, got {n}")
    if not source.is_file():
        raise ConfigError(f"no training records at {source}")
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    keep = sorted(random.Random(seed).sample(range(len(lines)), min(n, len(lines))))
    out = []
    for i in keep:
        try:
            out.append(json.loads(lines[i]))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}: record {i + 1} is not JSON ({exc.msg})") from exc
    return out


def _param_fingerprint(chat: Any) -> str:
    """sha256 prefix over a chat model's weights (so new weights never reuse cached answers)."""
    core = getattr(chat, "core", None) or getattr(chat, "language_model", None)
    h = hashlib.sha256()
    if core is None or not hasattr(core, "state_dict"):
        return "noweights"
    for name, tensor in sorted(core.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).float().numpy().tobytes())
    return h.hexdigest()[:10]


def _load(spec: str, max_new_tokens: int) -> tuple[Any, str]:
    import genaisys
    from genaisys.eval.fingerprint import model_fingerprint

    chat = genaisys.load_core(spec, max_new_tokens=max_new_tokens, temperature=0.0)
    return chat, f"{spec}@{model_fingerprint(spec)}:max_new_tokens={max_new_tokens}"


def _round_dir(root: Path) -> Path:
    rounds = sorted(p for p in root.glob("round-[0-9][0-9][0-9]") if p.is_dir())
    if rounds and not (rounds[-1] / _REPORT_JSON).is_file():
        return rounds[-1]  # an interrupted round: continue it (answers are cached, training resumes)
    return root / f"round-{len(rounds) + 1:03d}"


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line
    return rows


def _pair_row(pair: Mapping[str, Any]) -> dict[str, Any]:
    """A session DPO pair (rejected answer + the user's correction) as an adversarial-set row."""
    prompt = next(t["value"] for t in reversed(pair["conversations"]) if t["from"] == "human")
    chosen = pair["chosen"]
    rejected = pair["rejected"]
    chosen_text = chosen.get("value", "") if isinstance(chosen, Mapping) else str(chosen)
    rejected_text = (rejected.get("value") or json.dumps(rejected.get("tool_calls"))) \
        if isinstance(rejected, Mapping) else str(rejected)
    meta = pair.get("meta") or {}
    digest = hashlib.sha256(json.dumps([pair["conversations"], rejected_text]).encode()).hexdigest()[:16]
    return {"id": digest, "source": "session", "origin": f"{meta.get('thread_id')}#{meta.get('message_id')}",
            "task": None, "model_id": None, "prompt": prompt.replace("<image>\n", "").replace("<image>", ""),
            "images": list(pair.get("images") or []), "reference": chosen_text, "rejected": rejected_text,
            "record": {k: v for k, v in pair.items() if k not in ("chosen", "rejected")}}


def _open_sessions(sessions: Any, feedback: Any) -> tuple[Any, Any, Callable[[], None]]:
    """(checkpointer, feedback store, close) from objects or SQLite paths."""
    closers: list[Callable[[], None]] = []
    if isinstance(sessions, (str, Path)):
        import sqlite3

        path = Path(sessions)
        if not path.is_file():
            raise ConfigError(f"no sessions database at {path}; pass the SQLite file the graph's SqliteSaver wrote")
        from genaisys._optional import require

        require("langgraph.checkpoint.sqlite", "langgraph-checkpoint-sqlite>=3")
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(str(path), check_same_thread=False)
        closers.append(conn.close)
        sessions = SqliteSaver(conn)
    if isinstance(feedback, (str, Path)):
        from genaisys.train.engine.feedback import FeedbackStore

        if not Path(feedback).is_file():
            raise ConfigError(f"no feedback database at {feedback}; pass the FeedbackStore's SQLite file")
        feedback = FeedbackStore(feedback)
    return sessions, feedback, lambda: [c() for c in closers]


def parse_task_counts(flag: str, text: str) -> int | dict[str, int]:
    """A command line's per-task count: ``"40"`` → 40; ``"heldout-shapes=160,heldout-text=24"`` →
    ``{"heldout-shapes": 160, "heldout-text": 24}`` (what ``limit`` and ``holdout`` take).

    Raises:
        ConfigError: neither a number nor ``task=n`` pairs (``flag`` names the option in the message).

    Example:
        >>> parse_task_counts("--limit", "heldout-shapes=160,heldout-text=24")
        {'heldout-shapes': 160, 'heldout-text': 24}
    """
    try:
        if "=" not in text:
            return int(text)
        pairs = [part.partition("=") for part in text.split(",") if part.strip()]
        return {name.strip(): int(n) for name, _, n in pairs}
    except ValueError:
        raise ConfigError(f"{flag} takes a number or task=n pairs (heldout-shapes=160,heldout-text=24), "
                          f"got {text!r}") from None


def _per_task(what: str, value: int | Mapping[str, int], names: Sequence[str], *, minimum: int) -> dict[str, int]:
    """``{task: n}`` from one number for every task or a mapping that names each task."""
    if isinstance(value, Mapping):
        missing = [n for n in names if n not in value]
        if missing:
            raise ConfigError(f"{what} names no count for {missing}; give every task one, or one number for all")
        counts = {n: int(value[n]) for n in names}
    else:
        counts = {n: int(value) for n in names}
    low = {n: c for n, c in counts.items() if c < minimum}
    if low:
        raise ConfigError(f"{what} must be ≥ {minimum} for every task, got {low}")
    return counts


def _group_end(items: Sequence[EvalItem], n: int) -> int:
    """``n``, moved forward to the end of the group item ``n - 1`` is in (a follow-up thread's turns
    stay on one side of the probe / held-out cut)."""
    cut = min(n, len(items))
    while 0 < cut < len(items) and (items[cut].group or items[cut].id) == (items[cut - 1].group or items[cut - 1].id):
        cut += 1
    return cut


def _right_answers(before: Mapping[str, Mapping[str, EvalResult | None]],
                   slices: Mapping[str, Mapping[str, _Slice]], skip: Sequence[str] = ()) -> list[dict[str, Any]]:
    """SFT records of the probe items each task answered right: the pool `balance_labels` tops up from.
    Only the probe slice: the held-out slice is never trained on; nor are the tasks in ``skip``."""
    from genaisys.improve.failures import failures_to_records

    rows = []
    for name, parts in before.items():
        result = parts.get(PROBE)
        if result is None or name in skip:
            continue
        items = {i.id: i for i in slices[name][PROBE].items}
        for rec in result.records:
            item = items.get(str(rec["id"]))
            if rec.get("correct") and item is not None:
                rows.append({"id": f"right-{name}-{item.id}", "task": name, "origin": f"{name}/{item.id}",
                             "prompt": item.prompt, "images": list(item.images), "reference": item.reference})
    tasks = {name: s[PROBE].task for name, s in slices.items()}
    known = {name: {i.id: i for i in s[PROBE].items} for name, s in slices.items()}
    records = failures_to_records([_with_answer(r, tasks, known) for r in rows]) if rows else []
    for r in records:
        r["id"] = r["id"].replace("fail-right-", "balance-", 1)
        r["meta"]["source"] = "balance"
    return records


def _with_answer(row: Mapping[str, Any], tasks: Mapping[str, Any],
                 items: Mapping[str, Mapping[str, EvalItem]]) -> dict[str, Any]:
    """``row`` with ``answer`` set when its task writes its own training answers (``training_answer``:
    what a held-out suite's image shows, then the verdict) and its item is known."""
    task = tasks.get(str(row.get("task")))
    item = items.get(str(row.get("task")), {}).get(str(row.get("origin", "")).partition("/")[2])
    if task is None or item is None or not hasattr(task, "training_answer"):
        return dict(row)
    return {**row, "answer": task.training_answer(item)}


def _contrast_row(row: Mapping[str, Any], tasks: Mapping[str, Any],
                  items: Mapping[str, Mapping[str, EvalItem]]) -> dict[str, Any] | None:
    """A failure's contrast item as a row to train on (the same input asked the other way, from the
    task's ``contrast(item)``), or ``None`` when the task offers none."""
    name = str(row.get("task"))
    task, item = tasks.get(name), items.get(name, {}).get(str(row.get("origin", "")).partition("/")[2])
    if task is None or item is None or not hasattr(task, "contrast"):
        return None
    other = task.contrast(item)
    if other is None:
        return None
    out = {"id": f"contrast-{row['id']}", "task": name, "origin": f"{name}/{other.id}", "prompt": other.prompt,
           "images": list(other.images), "reference": other.reference}
    return _with_answer(out, {name: task}, {name: {other.id: other}})


def _metric_dict(result: EvalResult | None) -> dict[str, Any] | None:
    return None if result is None else result.metrics


# --------------------------------------------------------------------------- the round


def improvement_round(
    core: str | Any,
    *,
    tasks: Sequence[str | Any],
    out_dir: str | Path,
    sessions: str | Path | Any | None = None,
    feedback: str | Path | Any | None = None,
    limit: int | Mapping[str, int] = 50,
    holdout: int | Mapping[str, int] | None = None,
    steps: int = 30,
    replay: int = 16,
    replay_records: Sequence[Mapping[str, Any]] | None = None,
    train_overrides: Mapping[str, Any] | None = None,
    max_new_tokens: int = 16,
    batch_size: int = 8,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    promote: bool = False,
    served: str | Path | None = None,
    bands: Mapping[str, tuple[float, float]] | None = None,
    balance_on: Sequence[str] = ("yes", "no"),
    select_every: int | None = None,
    validation: float = 0.25,
    contrast: bool = False,
    session_weight: int = 1,
    log: Callable[[str], None] | None = None,
) -> LoopReport:
    """Run one round of the loop (module doc) and write its report; returns it.

    Args:
        core: a core spec for `genaisys.load_core` (``"nano"``, a saved core's folder — e.g. the
            previous round's ``train/final``) or a loaded `ChatCore` over a `MultimodalCore` (it is
            trained in place; the after-evaluation loads the saved ``train/final``).
        tasks: task names (`genaisys.eval.tasks.get_task`) or task objects.
        out_dir: the loop's folder: the adversarial set, the prediction cache and one
            ``round-NNN`` folder per round live here.
        sessions, feedback: a LangGraph checkpointer (or its SQLite file) and a `FeedbackStore`
            (or its file); both or neither.
        limit: probe items per task (their failures are gathered and trained on): one number, or
            ``{task: n}`` naming every task (what a task's ``load(limit=)`` counts: a follow-up
            thread, an image's question; a cut never splits a group).
        holdout: held-out items per task (never trained on), a number or ``{task: n}``; default
            ``limit``; 0 for none.
        steps: optimiser steps of the sft stage.
        replay: replay records per task (`default_replay`); ignored when ``replay_records`` is given.
        replay_records: your own replay records instead.
        train_overrides: dotted `TrainConfig` overrides (``{"loop.lr": 1e-4, "lora.r": 16,
            "stage_options.feature_dir": "..."}``) over the defaults (batch 8, lr 2e-4, LoRA r 8).
        max_new_tokens: generation budget per answer when ``core`` is a spec.
        batch_size: items per batched model call.
        seed: data order, bootstrap and training seed.
        n_resamples: bootstrap resamples.
        promote: replace the served core with this round's candidate if the report's checks all
            hold (`genaisys.improve.promote`); without it the checks are still reported.
        served: the served core's folder (default ``<out_dir>/served``): what ``genaisys serve
            --core`` and the next round load.
        bands: held-out metrics that must stay in a band (default
            `genaisys.improve.promote.DEFAULT_BANDS`: yes-ratio 0.35–0.65).
        balance_on: the answer labels to balance in the training data (`genaisys.improve.balance`):
            per task, under-represented labels are topped up with probe items the core answered
            right, else the majority is downsampled; ``()`` balances nothing.
        select_every: early stopping (`genaisys.improve.select`): train in segments of this many
            steps, score each segment on a validation cut that is never trained on, and keep the
            best segment whose yes-ratios stay in their ``bands`` (or no further out than before);
            ``None`` trains ``steps`` in one go.
        validation: with ``select_every``, the share of each trainable task's probe slice kept back
            as its validation cut (whole groups, the slice's last items); a guard task's probe slice
            is scored whole. Graph-driven suites take no part in the choice (too slow to re-ask).
        contrast: train each failure beside its contrast item, when its task offers one
            (``contrast(item)``: the same input asked the other way). Off by default: on the
            shipped nano's ``heldout-shapes`` failures it did worse than without (docs/feedback.md).
        session_weight: each rated session answer (accepted, or corrected by a person) is trained on
            this many times: a dozen corrections among a hundred failures and replay records are
            otherwise barely learned (docs/feedback.md).
        log: progress lines (default: none).

    Raises:
        ConfigError: bad arguments, nothing to train on (no failure has a reference and there is
            no replay), or a core that cannot be trained.
    """
    from genaisys.eval.adversarial import gather_adversarial
    from genaisys.eval.report import compare
    from genaisys.eval.tasks import get_task
    from genaisys.train.config import load_config
    from genaisys.train.data import write_records
    from genaisys.improve.balance import balance_labels
    from genaisys.improve.failures import append_adversarial, failures_to_records
    from genaisys.improve.promote import decide_promotion
    from genaisys.improve.select import choose_segment
    from genaisys.train.run import run_stage

    say = log or (lambda _msg: None)
    if not tasks:
        raise ConfigError("give at least one task (e.g. tasks=['easy-vqa', 'pope-adversarial'])")
    if steps < 1:
        raise ConfigError(f"steps must be ≥ 1, got {steps}")
    if isinstance(session_weight, bool) or not isinstance(session_weight, int) or session_weight < 1:
        raise ConfigError(f"session_weight is a whole number ≥ 1 (times each session answer is trained on), "
                          f"got {session_weight!r}")
    if select_every is not None and (select_every < 1 or not 0.0 < validation < 1.0):
        raise ConfigError(f"select_every must be ≥ 1 and validation in (0, 1), got {select_every} and {validation}")
    if (sessions is None) != (feedback is None):
        raise ConfigError("sessions and feedback go together: pass the checkpointer (or its SQLite file) and the "
                          "FeedbackStore (or its file), or neither")
    t0 = time.perf_counter()
    task_objs = [get_task(t) if isinstance(t, str) else t for t in tasks]
    names = [t.name for t in task_objs]
    if len(set(names)) != len(names) or SESSIONS_TASK in names:
        raise ConfigError(f"task names must be unique and not {SESSIONS_TASK!r}; got {names}")
    limits = _per_task("limit", limit, names, minimum=1)
    holdouts = _per_task("holdout", limits if holdout is None else holdout, names, minimum=0)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rdir = _round_dir(root)
    rdir.mkdir(parents=True, exist_ok=True)
    adv_path = root / "adversarial.jsonl"
    cache = root / "predictions.jsonl"
    if isinstance(core, str):
        chat, before_id = _load(core, max_new_tokens)
        core_name = core
    else:
        chat = core
        auto, _ = model_identity(chat)
        before_id = f"{auto}@w{_param_fingerprint(chat)}"
        core_name = before_id
        max_new_tokens = int(getattr(chat, "max_new_tokens", max_new_tokens))
    say(f"{rdir.name}: evaluating {before_id} on {', '.join(names)}")

    def evaluate(task: Any, model: Any, mid: str, part: str, tag: str) -> EvalResult | None:
        if not task.items:
            return None
        where = rdir / tag / part / task.name
        inner = getattr(task, "task", None)  # a slice's task (the sessions task is no slice)
        if getattr(inner, "drives_graphs", False):  # a held-out suite that runs whole graphs per item
            result = inner.run(model, items=task.items, seed=seed, model_id=mid, folder=where / "work")
        else:
            result = run_eval(task, model, seed=seed, batch_size=batch_size, cache=cache, model_id=mid,
                              n_resamples=n_resamples)
        result.save(where / "result.json")
        return result

    # (a) evaluate: the probe slice and the held-out slice of every task
    guards = [t.name for t in task_objs if not getattr(t, "failures_trainable", True)]
    tasks_by_name = {t.name: t for t in task_objs}
    slices: dict[str, dict[str, _Slice]] = {}
    all_items: dict[str, dict[str, EvalItem]] = {}
    checked: dict[str, str] = {}  # task → the slice early stopping scores segments on (never trained on)
    for task in task_objs:
        items = task.load(limit=limits[task.name] + holdouts[task.name], seed=seed)
        cut = _group_end(items, limits[task.name])
        probe = items[:cut]
        slices[task.name] = {PROBE: _Slice(task, probe, PROBE), HELDOUT: _Slice(task, items[cut:], HELDOUT)}
        if select_every and not getattr(task, "drives_graphs", False):  # graph suites are too slow to re-ask
            if task.name in guards:
                checked[task.name] = PROBE  # a guard's probe slice is never trained on
            else:
                keep = _group_end(probe, min(round(len(probe) * (1 - validation)), len(probe) - 1))
                if 0 < keep < len(probe):  # a cut needs items on both sides
                    slices[task.name] = {PROBE: _Slice(task, probe[:keep], PROBE),
                                         VALIDATION: _Slice(task, probe[keep:], VALIDATION),
                                         HELDOUT: slices[task.name][HELDOUT]}
                    checked[task.name] = VALIDATION
        all_items[task.name] = {i.id: i for i in items}
    if select_every and not checked:
        raise ConfigError("select_every needs a task that is not graph-driven to score segments on")
    before: dict[str, dict[str, EvalResult | None]] = {
        n: {p: evaluate(s, chat, before_id, p, "before") for p, s in parts.items()} for n, parts in slices.items()}

    # (b) gather: probe failures + session failures and corrected answers → the adversarial set
    probe_results = [r for name, parts in before.items() if (r := parts[PROBE]) is not None and name not in guards]
    counts = gather_adversarial(adv_path, results=probe_results)
    added = counts["added"]
    session_sft: list[dict[str, Any]] = []
    session_counts = {"sft": 0, "dpo": 0, "failures": 0}
    if sessions is not None:
        from genaisys.train.engine.sessions import sessions_to_records

        saver, store, close = _open_sessions(sessions, feedback)
        try:
            session_sft, dpo, failures = sessions_to_records(saver, store, image_dir=root / "session_images")
        finally:
            close()
        session_counts = {"sft": len(session_sft), "dpo": len(dpo), "failures": len(failures)}
        added += append_adversarial(adv_path, [*failures, *(_pair_row(p) for p in dpo)])["added"]
    rows = _read_rows(adv_path)
    say(f"adversarial set: {added} added, {len(rows)} in all ({adv_path})")

    eval_rows = [r for r in rows if r.get("source") == "eval"]
    notes: list[str] = []
    adv_tasks: dict[str, BaseTask] = {}
    if guards:
        notes.append(f"{', '.join(guards)}: evaluated as guards only; their failures are never trained on (their "
                     "references are not answers to learn, or their material is kept for evaluation)")
    for task in task_objs:
        if task.name in guards:
            continue
        wanted = [r for r in eval_rows if r.get("task") == task.name]
        known = all_items[task.name]
        extra_ids = [str(r.get("origin", "")).partition("/")[2] for r in wanted]
        if any(i not in known for i in extra_ids):  # rows from a round that saw more items
            known = {**{i.id: i for i in task.load(limit=None, seed=seed)}, **known}
        items, stale = [], 0
        for row, iid in zip(wanted, extra_ids):
            item = known.get(iid)
            if item is None or item.prompt != row.get("prompt"):
                stale += 1
                continue
            items.append(item)
        items = list({i.id: i for i in items}.values())
        if stale:
            notes.append(f"{stale} adversarial rows of {task.name} were asked under other data or seeds and are not "
                         "re-asked (they are still trained on)")
        adv_tasks[task.name] = _Slice(task, items, ADVERSARIAL)
    scorable = [r for r in rows if r.get("source") == "session" and r.get("reference")]
    if scorable:
        adv_tasks[SESSIONS_TASK] = _SessionTask(list({r["id"]: r for r in scorable}.values()))
    for name, task in adv_tasks.items():  # this round's probe failures are cached; older rows are asked again
        before.setdefault(name, {})[ADVERSARIAL] = evaluate(task, chat, before_id, ADVERSARIAL, "before")

    # (c) data engine: failures → SFT records, + session records, label-balanced, + replay
    trainable_rows = [_with_answer(r, tasks_by_name, all_items) for r in eval_rows if r.get("task") not in guards]
    failure_records = failures_to_records(trainable_rows) if trainable_rows else []
    contrast_rows = [c for r in trainable_rows if (c := _contrast_row(r, tasks_by_name, all_items)) is not None] \
        if contrast else []
    contrast_records = failures_to_records(contrast_rows) if contrast_rows else []
    for r in contrast_records:
        r["id"] = r["id"].replace("fail-", "", 1)
        r["meta"]["source"] = "contrast"
    balanced, label_counts = balance_labels([*failure_records, *contrast_records, *session_sft],
                                            _right_answers(before, slices, skip=guards),
                                            labels=balance_on, seed=seed)
    session_ids = {r["id"] for r in session_sft}  # repeated after balancing, so both labels repeat alike
    balanced += [{**r, "id": f"{r['id']}#{k}"} for k in range(2, session_weight + 1)
                 for r in balanced if r["id"] in session_ids]
    if replay_records is not None:
        replay_set = [dict(r) for r in replay_records]
    else:
        replay_set = default_replay(names, replay, seed)
    train_rows = [*balanced, *replay_set]
    if not train_rows:
        raise ConfigError("nothing to train on: no failure has a reference answer, no session answer was accepted "
                          "or corrected, and there is no replay data; evaluate more items or give replay_records")
    data_file = write_records(rdir / "data" / "train.jsonl", train_rows)

    # (d) retrain: one sft stage on the current core
    settings: dict[str, Any] = {
        "stage": "sft", "core": core_name, "data": [str(data_file)],
        "loop.output_dir": str(rdir / "train"), "loop.max_steps": steps, "loop.batch_size": 8, "loop.lr": 2e-4,
        "loop.seed": seed, "loop.progress": False, "loop.log_every": 5, "loop.save_every": max(steps, 1),
        "lora.r": 8, "lora.alpha": 16}
    config = load_config(None, {**settings, **dict(train_overrides or {})})
    say(f"training: {len(train_rows)} records ({len(failure_records)} failures, {len(contrast_records)} contrast, "
        f"{len(session_sft)} session, "
        f"{label_counts['added']} added and {label_counts['dropped']} dropped to balance labels, "
        f"{len(replay_set)} replay), {config.loop.max_steps} steps")
    selection: dict[str, Any] = {}
    if not select_every:
        trained = run_stage(config, chat=chat, records=train_rows)
        final = Path(config.loop.output_dir) / "final"
        del chat  # trained in place; the after-evaluation loads the saved core, as a user would
    else:  # early stopping (genaisys.improve.select): segments, each scored on the validation cuts
        def scored(results: Mapping[str, EvalResult | None]) -> dict[str, dict[str, float]]:
            return {n: {k: v["value"] for k, v in r.metrics.items()} for n, r in results.items() if r is not None}

        spec, current = core_name, chat
        del chat
        runs: list[Any] = []
        finals: list[Path] = []
        reached: list[int] = []  # steps trained after each segment
        seen: list[dict[str, dict[str, float]]] = []
        while not reached or reached[-1] < config.loop.max_steps:
            k = len(runs) + 1
            n_steps = min(select_every, config.loop.max_steps - (reached[-1] if reached else 0))
            # each segment is a fresh run: a seed of its own, or every segment would draw the same first batches
            seg = load_config(None, {**settings, **dict(train_overrides or {}), "core": spec,
                                     "loop.output_dir": str(rdir / "train" / f"segment-{k:02d}"),
                                     "loop.max_steps": n_steps, "loop.save_every": n_steps,
                                     "loop.seed": config.loop.seed + k - 1})
            runs.append(run_stage(seg, chat=current, records=train_rows))
            reached.append((reached[-1] if reached else 0) + runs[-1].steps)
            finals.append(Path(seg.loop.output_dir) / "final")
            spec = str(finals[-1])
            del current
            current, seg_id = _load(spec, max_new_tokens)
            seen.append(scored({name: evaluate(slices[name][part], current, seg_id, part, f"segment-{k:02d}")
                                for name, part in checked.items()}))
            say(f"segment {k}: {reached[-1]} steps, validation {seen[-1]}")
        del current
        start = scored({name: before[name][part] for name, part in checked.items()})
        choice = choose_segment(seen, start, bands=bands)
        kept = choice["index"]
        final = finals[kept]
        selection = {**choice, "every": select_every, "validation": validation, "checked": checked, "before": start,
                     "segments": [{"steps": at, "final_loss": r.final_loss, "validation": m, "core": str(f)}
                                  for at, r, m, f in zip(reached, runs, seen, finals)]}
        trained = dataclasses.replace(runs[kept], steps=reached[kept], wall_s=sum(r.wall_s for r in runs),
                                      losses=[x for r in runs[:kept + 1] for x in r.losses])
        say(f"kept {choice['reason']}")

    # (e) re-evaluate: the same slices, and the adversarial set itself
    after_chat, after_id = _load(str(final), max_new_tokens)
    say(f"evaluating {after_id}")
    after: dict[str, dict[str, EvalResult | None]] = {
        n: {p: evaluate(s, after_chat, after_id, p, "after") for p, s in parts.items()} for n, parts in slices.items()}
    for name, task in adv_tasks.items():
        after.setdefault(name, {})[ADVERSARIAL] = evaluate(task, after_chat, after_id, ADVERSARIAL, "after")

    # the report
    per_task: dict[str, dict[str, Any]] = {}
    for name in [*names, *([SESSIONS_TASK] if SESSIONS_TASK in adv_tasks else [])]:
        per_task[name] = {}
        for part in (PROBE, VALIDATION, HELDOUT, ADVERSARIAL):
            b, a = before.get(name, {}).get(part), after.get(name, {}).get(part)
            if a is None and b is None:
                continue
            metric_fn = (adv_tasks.get(name) or slices[name][PROBE]).metrics
            cmp = compare(b, a, metric_fn=metric_fn, n_resamples=n_resamples, seed=seed)["metrics"] \
                if a is not None and b is not None else None
            per_task[name][part] = {"n": len((a or b).records), "before": _metric_dict(b), "after": _metric_dict(a),
                                    "compare": cmp}
    pooled: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for name in adv_tasks:
        for side, res in (("before", before[name].get(ADVERSARIAL)), ("after", after[name].get(ADVERSARIAL))):
            for rec in res.records if res is not None else []:
                key = f"{name}/{rec.get('group', rec['id'])}"
                pooled[side].append({"id": f"{name}/{rec['id']}", "group": key, "correct": bool(rec.get("correct"))})
    adversarial: dict[str, Any] = {"n": len(pooled["after"])}
    if pooled["after"]:
        for side in ("before", "after"):
            adversarial[side] = {k: v.as_dict() for k, v in bootstrap_metrics(
                _pooled_accuracy, pooled[side], n_resamples=n_resamples, seed=seed).items()}
        adversarial["compare"] = paired_bootstrap(_pooled_accuracy, pooled["before"], pooled["after"],
                                                  n_resamples=n_resamples, seed=seed)
    by_source: dict[str, int] = {}
    for r in rows:
        by_source[str(r.get("source"))] = by_source.get(str(r.get("source")), 0) + 1
    notes[:0] = [
        "Leakage: every adversarial item that came from an evaluation failure (and every corrected session answer) "
        "was trained on this round, so the adversarial-set accuracy measures how well the loop fixed what it was "
        "shown, not generalisation.",
        "The held-out slice (" + ", ".join(f"{n}: items {limits[n]}..{limits[n] + holdouts[n] - 1}" for n in names)
        + " of each task's seeded order) was never gathered into training: its before → after change is the honest "
        "measure of improvement.",
        "The probe slice's items answered right before were not trained on, but they were selected as right: their "
        "after-accuracy shows forgetting only.",
    ]
    if selection:
        notes.append("Early stopping chose the kept segment by its validation cuts (never trained on, apart from the "
                     "held-out slice): their after-figures are optimistic, the held-out slice's are not.")
    if replay_records is None and replay and not replay_set:
        notes.append(f"no replay data for {names}: default_replay knows easy-vqa, pope-*, tool-routing")
    without_ref = sum(1 for r in rows if not r.get("reference"))
    report = LoopReport(
        round_dir=rdir, model_before=before_id, model_after=after_id, core_after=final, tasks=per_task,
        adversarial=adversarial,
        adversarial_set={"path": str(adv_path), "added": added, "total": len(rows), "by_source": by_source,
                         "without_reference": without_ref, "sessions": session_counts},
        training={"records": {"failures": len(failure_records), "contrast": len(contrast_records),
                              "sessions": len(session_sft), "session_weight": session_weight,
                              "balance_added": label_counts["added"], "balance_dropped": label_counts["dropped"],
                              "replay": len(replay_set), "total": len(train_rows)},
                  "labels": label_counts,
                  "steps": trained.steps, "first_loss": round(trained.losses[0], 4) if trained.losses else None,
                  "final_loss": round(trained.final_loss, 4) if trained.final_loss is not None else None,
                  "wall_s": round(trained.wall_s, 1), "output_dir": str(config.loop.output_dir),
                  "selection": selection,
                  "config": json.loads(config.model_dump_json())},
        notes=notes)
    report.promotion = decide_promotion(report, served=Path(served) if served is not None else root / "served",
                                        promote=promote, bands=bands)
    say(f"promotion: {report.promotion['decision']}")
    report.wall_s = round(time.perf_counter() - t0, 1)
    report.save()
    say(f"report: {rdir / _REPORT_MD}")
    return report
