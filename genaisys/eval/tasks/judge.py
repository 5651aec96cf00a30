"""``judge``: open-ended answers scored 1–5 by a chat model acting as judge.

Judges are not neutral: scores move with the judge model and with its prompt (docs/architecture.md,
"References", LLM-as-a-judge). So
every record stores the judge's id, the sha256 of the judge prompt *template* and of the exact
rendered prompt, and the judge's raw reply, beside the score. Two runs are only comparable when
those match; `genaisys.eval.report.compare` refuses to call a difference real when they do not.

Data: easy-VQA images with "Describe the image in one short sentence." (reference: "A <colour>
<shape>.") or your own JSONL ``{"id", "prompt", "reference", "images": [...]}``. The judge is any
LangChain chat model (a `ChatCore` too); its verdicts are cached beside the predictions.

Metrics: ``mean_score`` (1–5, over readable verdicts; 0.0 when the judge gave none — read it with
``unparsed``), ``pass_rate`` (score ≥ ``pass_score``), ``unparsed`` (judge replies
with no readable score; they count as failing).

Example:
    >>> task = JudgeTask(judge=my_chat_model, judge_id="nano")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genaisys.errors import ConfigError
from genaisys.eval.task import BaseTask, EvalItem, Prediction
from genaisys.datasets.easy_vqa import image_attributes, image_path

__all__ = ["JUDGE_PROMPT", "JudgeTask", "parse_score"]

JUDGE_PROMPT = """You are grading an answer against a reference answer.
Question: {question}
Reference answer: {reference}
Answer to grade: {answer}

Rate how well the answer agrees with the reference, from 1 (wrong or irrelevant) to 5 (fully correct).
Reply with "Score: N" on the first line, then one sentence of reasoning."""
_SCORE = re.compile(r"\bscore\s*[:=]?\s*\**\s*([1-5])\b", re.IGNORECASE)
_LONE = re.compile(r"^\s*\**([1-5])\**(?:\s*/\s*5)?\b")


def parse_score(text: str) -> int | None:
    """The 1–5 score in a judge's reply ("Score: 4", "**Score:** 5", "4/5 …"), or ``None``.

    Example:
        >>> [parse_score(t) for t in ["Score: 4\\nGood.", "3/5 partly", "I cannot tell"]]
        [4, 3, None]
    """
    m = _SCORE.search(text) or _LONE.search(text)
    return int(m.group(1)) if m else None


class JudgeTask(BaseTask):
    """Open-ended answers judged by a chat model.

    Args:
        judge: the judging chat model (required to score; loading items works without it).
        judge_id: how the judge is named in records (default: `model_identity` — type, name, settings hash).
        prompt: the judge prompt template with ``{question}``, ``{reference}``, ``{answer}``.
        pass_score: the score from which an answer passes.
        data: optional JSONL of items (see the module doc).
        split, root: easy-VQA data for the default items.
    """

    name = "judge"

    def __init__(self, judge: Any = None, judge_id: str | None = None, prompt: str = JUDGE_PROMPT,
                 pass_score: int = 4, data: str | Path | None = None, split: str = "test",
                 root: str | Path | None = None) -> None:
        for field in ("{question}", "{reference}", "{answer}"):
            if field not in prompt:
                raise ConfigError(f"the judge prompt must contain {field}")
        self.judge, self.prompt, self.pass_score = judge, prompt, pass_score
        if judge_id is None and judge is not None:
            from genaisys.eval.runner import model_identity

            judge_id = model_identity(judge)[0]  # "<llm type>:<model name>:<settings hash>"
        self.judge_id = judge_id
        self.prompt_sha256 = hashlib.sha256(prompt.encode()).hexdigest()
        self.data, self.split, self.root = data, split, root

    def options(self) -> dict[str, Any]:
        return {"judge_id": self.judge_id, "judge_prompt_sha256": self.prompt_sha256, "pass_score": self.pass_score,
                "data": str(self.data) if self.data else None}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        if self.data is not None:
            rows = [json.loads(line) for line in Path(self.data).read_text().splitlines() if line.strip()]
            items = [EvalItem(id=str(r["id"]), prompt=r["prompt"], reference=r["reference"],
                              images=tuple(r.get("images", ()))) for r in rows]
        else:
            attrs = sorted(image_attributes(self.split, self.root).items())
            random.Random(seed).shuffle(attrs)
            items = [EvalItem(id=f"{self.split}-{img}", prompt="Describe the image in one short sentence.",
                              images=(str(image_path(img, self.split, self.root)),), reference=f"A {c} {s}.")
                     for img, (c, s) in attrs]
        return items[:limit] if limit is not None else items

    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        """Ask the judge about every answer (one batch), reusing cached verdicts of the same judge+prompt."""
        if self.judge is None:
            raise ConfigError("the judge task needs a judge model: get_task('judge', judge=<chat model>)")
        from langchain_core.messages import HumanMessage

        rendered = [self.prompt.format(question=i.prompt, reference=i.reference, answer=p.text)
                    for i, p in zip(items, predictions)]
        key_model = f"judge={self.judge_id}|prompt={self.prompt_sha256[:16]}|sut={model_id}"
        verdicts: dict[int, str] = {}
        todo = []
        for n, (item, text) in enumerate(zip(items, rendered)):
            hit = cache.get(self.name + ":judge", item.id, key_model) if cache is not None else None
            if hit is not None and hit.get("input_sha256") == hashlib.sha256(text.encode()).hexdigest():
                verdicts[n] = hit["text"]
            else:
                todo.append(n)
        if todo:
            replies = self.judge.batch([[HumanMessage(content=rendered[n])] for n in todo])
            for n, reply in zip(todo, replies):
                verdicts[n] = reply.content if isinstance(reply.content, str) else str(reply.content)
                if cache is not None:
                    cache.put(self.name + ":judge", items[n].id, key_model,
                              {"text": verdicts[n], "input_sha256": hashlib.sha256(rendered[n].encode()).hexdigest()})
        records = []
        for n, (item, pred) in enumerate(zip(items, predictions)):
            score = parse_score(verdicts[n])
            records.append({"id": item.id, "group": item.id, "answer": pred.text, "score": score,
                            "correct": score is not None and score >= self.pass_score,
                            "judge_id": self.judge_id, "judge_prompt_sha256": self.prompt_sha256,
                            "judge_input_sha256": hashlib.sha256(rendered[n].encode()).hexdigest(),
                            "judge_output": verdicts[n]})
        return records

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        scores = [r["score"] for r in records if r["score"] is not None]
        n = len(records)
        return {"mean_score": sum(scores) / len(scores) if scores else 0.0,
                "pass_rate": sum(1 for r in records if r["correct"]) / n if n else 0.0,
                "unparsed": (n - len(scores)) / n if n else 0.0}
