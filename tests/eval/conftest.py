"""Shared fixtures for the eval tests: a scripted chat model and a tiny easy-VQA folder."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult


def last_human(messages: list[BaseMessage]) -> tuple[str, list[str]]:
    """The last human message's text and its base64 images."""
    msg = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
    if isinstance(msg.content, str):
        return msg.content, []
    text = "".join(b["text"] for b in msg.content if b.get("type") == "text")
    return text, [b["base64"] for b in msg.content if b.get("type") == "image"]


class ScriptedChat(BaseChatModel):
    """Answers with ``answer(text, images)``; raises after ``fail_after`` calls (an interruption)."""

    answer: Callable[[str, list[str]], Any]
    fail_after: int | None = None
    calls: int = 0
    batch_calls: int = 0
    name_: str = "scripted"
    _lock: Any = None

    def model_post_init(self, __context: Any) -> None:
        self._lock = threading.Lock()

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.name_}

    def batch(self, inputs: list[Any], config: Any = None, **kwargs: Any) -> list[Any]:
        self.batch_calls += 1
        return super().batch(inputs, config, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        with self._lock:
            if self.fail_after is not None and self.calls >= self.fail_after:
                raise RuntimeError("interrupted on purpose")
            self.calls += 1
        out = self.answer(*last_human(messages))
        msg = out if isinstance(out, AIMessage) else AIMessage(content=str(out))
        return ChatResult(generations=[ChatGeneration(message=msg)])

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self.bind(tools=[t.name for t in tools])


@pytest.fixture
def scripted() -> type[ScriptedChat]:
    return ScriptedChat


# A tiny easy-VQA folder: 6 images, one coloured shape each, questions like the real set's.
_IMAGES = [("red", "circle"), ("blue", "triangle"), ("red", "rectangle"), ("green", "circle"),
           ("yellow", "triangle"), ("red", "circle")]
_RGB = {"red": (255, 0, 0), "blue": (0, 0, 255), "green": (0, 128, 0), "yellow": (255, 255, 0)}


@pytest.fixture(scope="session")
def tiny_vqa(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("easy-vqa")
    (root / "test" / "images").mkdir(parents=True)
    questions = []
    for i, (color, shape) in enumerate(_IMAGES):
        img = Image.new("RGB", (64, 64), "white")
        draw = ImageDraw.Draw(img)
        box = (12 + i, 12, 50, 50)  # shifted per image so no two files are identical
        {"circle": draw.ellipse, "rectangle": draw.rectangle,
         "triangle": lambda b, fill: draw.polygon([(b[0], b[3]), (b[2], b[3]), (31, b[1])], fill=fill)}[shape](
            box, fill=_RGB[color])
        img.save(root / "test" / "images" / f"{i}.png")
        questions += [[f"what is the {color} shape?", shape, i], [f"what is the color of the {shape}?", color, i],
                      [f"does the image contain a {shape}?", "yes", i], ["is there a blue shape?",
                                                                         "yes" if color == "blue" else "no", i]]
    (root / "test" / "questions.json").write_text(json.dumps(questions))
    return root


@pytest.fixture(scope="session")
def tiny_truth() -> dict[int, tuple[str, str]]:
    return dict(enumerate(_IMAGES))
