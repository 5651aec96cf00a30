"""``heldout-text``: text-only questions, to check that training on images and tools kept the LM's knowledge.

64 short questions written for this suite (facts, simple reasoning, definitions), none of them
the nano recipe's own text check. Each has accepted answer phrases (`answer_holds`). They go to the
core directly, batched, and to a *base* model — by default the plain SmolLM2-135M-Instruct the
nano core is built on (``load_core("asset:smollm2")``) — so the record says, per question,
whether the core kept, lost or gained what the base knew.

Metrics: ``accuracy`` (the core), ``base_accuracy``, ``delta`` (core − base, paired, with its
interval: no regression means it is not below 0), and the counts ``kept``, ``lost``,
``gained``. ``run_eval(get_task("heldout-text"), core)`` works too: the base answers are asked
while scoring (and cached in the run's prediction cache), as the judge task asks its judge.

Example:
    >>> len(QUESTIONS)
    64
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from genaisys.eval.heldout._common import answer_holds
from genaisys.eval.metrics import accuracy
from genaisys.eval.task import BaseTask, EvalItem, Prediction

__all__ = ["QUESTIONS", "HeldoutTextTask"]

# (id, question, accepted phrases)
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("t01", "Who painted the ceiling of the Sistine Chapel?", "michelangelo"),
    ("t02", "What is the capital city of Canada?", "ottawa"),
    ("t03", "What is the capital of Australia?", "canberra"),
    ("t04", "Which country is home to the city of Cairo?", "egypt"),
    ("t05", "How many sides does a hexagon have?", "6|six"),
    ("t06", "How many minutes are there in an hour?", "60|sixty"),
    ("t07", "How many hours are in a full day?", "24|twenty four"),
    ("t08", "What is 9 plus 6?", "15|fifteen"),
    ("t09", "What is 12 divided by 3?", "4|four"),
    ("t10", "What is ten minus seven?", "3|three"),
    ("t11", "What is the square root of 81?", "9|nine"),
    ("t12", "Which is larger, 0.5 or 0.25?", "0.5|one half|a half"),
    ("t13", "If today is Monday, what day is tomorrow?", "tuesday"),
    ("t14", "Which month comes right after April?", "may"),
    ("t15", "How many months are there in a year?", "12|twelve"),
    ("t16", "What is the chemical symbol for gold?", "au"),
    ("t17", "What is the chemical symbol for sodium?", "na"),
    ("t18", "Which gas do humans need to breathe to stay alive?", "oxygen"),
    ("t19", "What is the hardest natural material?", "diamond|diamonds"),
    ("t20", "Which planet is closest to the Sun?", "mercury"),
    ("t21", "What is the name of the star at the centre of our solar system?", "sun|sol"),
    ("t22", "What natural satellite orbits the Earth?", "moon"),
    ("t23", "Which organ pumps blood around the human body?", "heart"),
    ("t24", "How many legs does an insect have?", "6|six"),
    ("t25", "What do caterpillars turn into?", "butterfly|butterflies|moth|moths"),
    ("t26", "Which animal is the largest mammal on Earth?", "blue whale|whale"),
    ("t27", "What is a baby dog called?", "puppy|pup"),
    ("t28", "What is a baby cat called?", "kitten"),
    ("t29", "Which bird is a symbol of peace?", "dove|doves|pigeon"),
    ("t30", "What is the main ingredient of guacamole?", "avocado|avocados"),
    ("t31", "Which fruit is dried to make raisins?", "grape|grapes"),
    ("t32", "What colour do you get by mixing blue and yellow?", "green"),
    ("t33", "What colour do you get by mixing red and white?", "pink"),
    ("t34", "What is the opposite of 'up'?", "down"),
    ("t35", "What is the opposite of 'early'?", "late"),
    ("t36", "What is the past tense of 'go'?", "went"),
    ("t37", "What is the plural of 'child'?", "children"),
    ("t38", "What word means a person who writes books?", "author|writer|novelist"),
    ("t39", "What is the name for a word that means the same as another word?", "synonym"),
    ("t40", "What is the name for a word with the opposite meaning of another word?", "antonym"),
    ("t41", "What do we call frozen water?", "ice"),
    ("t42", "What do you call a shape with three sides?", "triangle"),
    ("t43", "What is the name of a polygon with eight sides?", "octagon"),
    ("t44", "Who developed the theory of relativity?", "einstein"),
    ("t45", "Who wrote the play 'Hamlet'?", "shakespeare"),
    ("t46", "Who is known for the laws of motion and gravity?", "newton"),
    ("t47", "In which country are the pyramids of Giza?", "egypt"),
    ("t48", "Which is the longest river in South America?", "amazon"),
    ("t49", "What is the tallest mountain on Earth?", "everest"),
    ("t50", "Which ocean lies between Europe and North America?", "atlantic"),
    ("t51", "What language is mainly spoken in Mexico?", "spanish"),
    ("t52", "What currency is used in Japan?", "yen"),
    ("t53", "How many players does a football (soccer) team have on the field?", "11|eleven"),
    ("t54", "What instrument has black and white keys?", "piano|keyboard"),
    ("t55", "What does a thermometer measure?", "temperature|heat"),
    ("t56", "What device do you use to take photographs?", "camera"),
    ("t57", "What is the name of the programming language named after a comedy group and a snake?", "python"),
    ("t58", "What does 'www' stand for in a web address?", "world wide web"),
    ("t59", "What season comes after winter?", "spring"),
    ("t60", "What do plants need from the Sun to make food?", "light|sunlight|energy"),
    ("t61", "What is H2O better known as?", "water"),
    ("t62", "How many wheels does a bicycle have?", "2|two"),
    ("t63", "What is 5 times 5?", "25|twenty five"),
    ("t64", "Which is heavier, a kilogram of iron or a gram of iron?", "kilogram|kg"),
)


class HeldoutTextTask(BaseTask):
    """Text-only knowledge of the core against a base model (see the module docstring).

    Args:
        base: the base model: a `genaisys.load_core` spec (default ``"asset:smollm2"``) or a chat model.
        max_new_tokens: generation budget of the base's answers.
    """

    name = "heldout-text"

    def __init__(self, base: Any = "asset:smollm2", max_new_tokens: int = 48) -> None:
        self.base, self.max_new_tokens = base, max_new_tokens
        self._base_chat: Any = None

    def options(self) -> dict[str, Any]:
        return {"base": self.base if isinstance(self.base, str) else type(self.base).__name__,
                "max_new_tokens": self.max_new_tokens}

    def load(self, *, limit: int | None = None, seed: int = 0) -> list[EvalItem]:
        items = [EvalItem(id=qid, prompt=q, reference=pattern) for qid, q, pattern in QUESTIONS]
        random.Random(seed).shuffle(items)
        return items[:limit] if limit is not None else items

    def base_chat(self) -> Any:
        if self._base_chat is None:
            if isinstance(self.base, str):
                from genaisys.core import load_core

                self._base_chat = load_core(self.base, max_new_tokens=self.max_new_tokens, temperature=0.0)
            else:
                self._base_chat = self.base
        return self._base_chat

    def base_answers(self, items: Sequence[EvalItem], *, cache: Any = None, batch_size: int = 8) -> list[str]:
        """The base model's answers (from ``cache`` when it has them)."""
        from genaisys.eval.runner import _text

        key = f"base:{self.options()['base']}:{self.max_new_tokens}"
        answers: dict[str, str] = {}
        if cache is not None:
            for item in items:
                hit = cache.get(self.name, item.id, key)
                if hit is not None and hit.get("prompt") == item.prompt:
                    answers[item.id] = str(hit.get("text", ""))
        todo = [i for i in items if i.id not in answers]
        for start in range(0, len(todo), batch_size):
            batch = todo[start:start + batch_size]
            replies = self.base_chat().batch([self.build_messages(i) for i in batch])
            for item, reply in zip(batch, replies):
                answers[item.id] = _text(reply)
            if cache is not None:
                cache.put_many([(self.name, i.id, key, {"text": answers[i.id], "prompt": i.prompt}) for i in batch])
        return [answers[i.id] for i in items]

    def score_all(self, items: Sequence[EvalItem], predictions: Sequence[Prediction], *,
                  cache: Any = None, model_id: str = "") -> list[dict[str, Any]]:
        base = self.base_answers(items, cache=cache)
        records = []
        for item, pred, base_text in zip(items, predictions, base):
            rec = self.score(item, pred)
            rec["base_prediction"] = base_text
            rec["base_correct"] = answer_holds(base_text, item.reference)
            rec["change"] = {(True, True): "kept", (True, False): "lost", (False, True): "gained",
                             (False, False): "neither"}[(rec["base_correct"], rec["correct"])]
            rec.setdefault("group", item.id)
            records.append(rec)
        return records

    def score(self, item: EvalItem, prediction: Prediction) -> dict[str, Any]:
        return {"id": item.id, "correct": answer_holds(prediction.text, item.reference), "ref": item.reference}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        core = accuracy([r["correct"] for r in records])
        base = accuracy([r["base_correct"] for r in records])
        return {"accuracy": core, "base_accuracy": base, "delta": core - base,
                "kept": float(sum(r["change"] == "kept" for r in records)),
                "lost": float(sum(r["change"] == "lost" for r in records)),
                "gained": float(sum(r["change"] == "gained" for r in records))}
