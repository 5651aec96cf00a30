"""A scripted chat model and a real uvicorn server on 127.0.0.1 for the serve tests."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import PrivateAttr

from genaisys.serve.server import KEEP_ALIVE_S
from tests.loopback_servers import free_port

API_KEY = "sk-test-genaisys"
MODEL_ID = "scripted"


class ScriptedChat(BaseChatModel):
    """Answers by rule, word by word; counts every token it generates (to prove streams stop).

    * a tool result last → ``The tool said: <result>``
    * tools bound and "weather" asked → a ``get_weather(city="Paris")`` call
    * images → ``I see a WxH image.`` (decoded from the base64 block)
    * "long story" → ``long_tokens`` tokens, ``delay_s`` apart
    * "explode" → RuntimeError with a secret in its message (the server must not leak it)
    * otherwise → ``You said: <text>``
    """

    delay_s: float = 0.0
    long_tokens: int = 400
    max_new_tokens: int = 1000

    _generated: list[int] = PrivateAttr(default_factory=lambda: [0])
    _closed: list[bool] = PrivateAttr(default_factory=lambda: [False])

    @property
    def generated(self) -> int:
        return self._generated[0]

    @property
    def stream_closed(self) -> bool:
        return self._closed[0]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], tool_choice=tool_choice, **kwargs)

    def _plan(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return _words(f"The tool said: {last.content}"), []
        text, sizes = "", []
        if isinstance(last, HumanMessage):
            blocks = last.content if isinstance(last.content, list) else [{"type": "text", "text": last.content}]
            for b in blocks:
                if b.get("type") == "text":
                    text += b["text"]
                elif b.get("type") == "image":
                    from PIL import Image

                    img = Image.open(io.BytesIO(base64.b64decode(b["base64"])))
                    sizes.append(f"I see a {img.width}x{img.height} image.")
        if "explode" in text:
            raise RuntimeError("secret-internal-detail: the scripted model exploded")
        tools = kwargs.get("tools") or []
        if tools and kwargs.get("tool_choice") != "none" and "weather" in text.lower():
            return [], [{"name": tools[0]["function"]["name"], "args": {"city": "Paris"}, "id": "call_1",
                         "type": "tool_call"}]
        if "long story" in text:
            return ["tok "] * self.long_tokens, []
        return _words(" ".join(sizes + [f"You said: {text}"])), []

    def _limit(self, words: list[str], kwargs: dict[str, Any]) -> list[str]:
        return words[: int(kwargs.get("max_new_tokens", self.max_new_tokens))]

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        words, calls = self._plan(messages, kwargs)
        words = self._limit(words, kwargs)
        self._generated[0] += len(words)
        message = AIMessage(content="".join(words), tool_calls=calls,
                            usage_metadata={"input_tokens": len(messages), "output_tokens": len(words),
                                            "total_tokens": len(messages) + len(words)})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        words, calls = self._plan(messages, kwargs)
        for w in self._limit(words, kwargs):
            self._generated[0] += 1
            if self.delay_s:
                time.sleep(self.delay_s)
            yield ChatGenerationChunk(message=AIMessageChunk(content=w))
        yield ChatGenerationChunk(message=_final_chunk(messages, words, calls))

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        words, calls = self._plan(messages, kwargs)
        self._closed[0] = False
        try:
            for w in self._limit(words, kwargs):
                self._generated[0] += 1
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                yield ChatGenerationChunk(message=AIMessageChunk(content=w))
            yield ChatGenerationChunk(message=_final_chunk(messages, words, calls))
        finally:
            self._closed[0] = True


def _words(text: str) -> list[str]:
    parts = text.split(" ")
    return [p + " " for p in parts[:-1]] + [parts[-1]]


def _final_chunk(messages: list[BaseMessage], words: list[str], calls: list[dict[str, Any]]) -> AIMessageChunk:
    return AIMessageChunk(
        content="", tool_call_chunks=[{"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                                      for i, c in enumerate(calls)],
        usage_metadata={"input_tokens": len(messages), "output_tokens": len(words),
                        "total_tokens": len(messages) + len(words)})


class LiveServer:
    """uvicorn serving an app on 127.0.0.1 in a background thread; started and stopped by the test."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
                                limit_concurrency=None, timeout_graceful_shutdown=1, timeout_keep_alive=KEEP_ALIVE_S)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def scripted() -> ScriptedChat:
    return ScriptedChat()


def build_studio_graph(blobs: Any) -> Any:
    """A one-node graph that answers with a citation and a generated image (stored as a blob)."""
    from langgraph.graph import END, START, StateGraph
    from PIL import Image

    from genaisys.graphs import AssistantState

    def draw(state: dict[str, Any]) -> dict[str, Any]:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (230, 0, 0)).save(buf, "PNG")
        blob_id = blobs.put(buf.getvalue(), "image/png")
        return {"messages": [AIMessage("Here is a red square [1].")],
                "context": [{"id": "d1", "text": "Red is a colour.", "score": 0.9, "source": "colours.md",
                             "citation": "[1] colours.md", "metadata": {}}],
                "artifacts": [{"blob_id": blob_id, "kind": "image", "mime_type": "image/png", "producer": "draw"}]}

    graph = StateGraph(AssistantState)
    graph.add_node("draw", draw)
    graph.add_edge(START, "draw")
    graph.add_edge("draw", END)
    return graph.compile()


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from genaisys.memory.blobs import BlobStore

    return BlobStore(tmp_path_factory.mktemp("blobs"))


@pytest.fixture(scope="module")
def live(scripted: ScriptedChat, blobs: Any) -> Iterator[LiveServer]:
    from langchain_core.language_models import FakeListChatModel
    from langgraph.checkpoint.memory import InMemorySaver

    from genaisys.graphs import build_assistant_graph
    from genaisys.memory import HashingEmbedding
    from genaisys.serve import create_app

    graph = build_assistant_graph(ScriptedChat(), checkpointer=InMemorySaver())
    echo = build_assistant_graph(FakeListChatModel(responses=["graph says hi"]), checkpointer=False)
    app = create_app(scripted, api_key=API_KEY, model_id=MODEL_ID, max_body_bytes=200_000,
                     embedder=HashingEmbedding(dim=16), blobs=blobs,
                     graphs={"assistant": graph, "echo": echo, "studio": build_studio_graph(blobs)})
    with LiveServer(app) as server:
        yield server


class ServeProcess:
    """``genaisys serve`` as a real process on 127.0.0.1, serving a tiny random core saved to a folder.

    With ``folder=None`` no ``--core`` is given (``extra`` names the core, ``--remote-core`` say) and
    ``log`` says where the server's output goes. The process starts at once; ``with`` waits until it
    answers and stops it (by its PID) at the end.
    """

    def __init__(self, folder: Any = None, *, api_key: str, extra: tuple[str, ...] = (),
                 checkpointer: str = ":memory:", max_new_tokens: int = 128, log: Any = None) -> None:
        import os
        import shutil
        import subprocess
        import sys
        from pathlib import Path

        exe = shutil.which("genaisys", path=str(Path(sys.executable).parent)) or shutil.which("genaisys")
        if exe is None:
            raise RuntimeError("the genaisys command is not installed in this environment (pip install -e .)")
        self.port, self.api_key = free_port(), api_key
        self.model = Path(folder).name if folder is not None else None
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "GENAISYS_API_KEY": api_key}
        self.log = Path(log) if log is not None else Path(folder).with_suffix(".log")
        self._log_file = self.log.open("wb")
        core = ("--core", str(folder)) if folder is not None else ()
        self.proc = subprocess.Popen(
            [exe, "serve", *core, "--port", str(self.port), "--checkpointer", checkpointer,
             "--max-new-tokens", str(max_new_tokens), "--batch-window-ms", "0", *extra],
            env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def __enter__(self) -> ServeProcess:
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"genaisys serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/v1/models", headers={"Authorization": f"Bearer {self.api_key}"},
                             timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError(f"genaisys serve did not answer within 120 s: {self.log.read_text()[-2000:]}")

    def __exit__(self, *exc: Any) -> None:
        import subprocess

        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self._log_file.close()


@pytest.fixture(scope="session")
def tiny_core_folder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A tiny random vision core saved as a folder ``genaisys serve --core`` loads."""
    from tests.standard_suites import tiny_vision_core

    folder = tmp_path_factory.mktemp("served") / "tiny-served"
    tiny_vision_core().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def served_cli(tiny_core_folder: Any) -> Iterator[ServeProcess]:
    """``genaisys serve`` of the tiny core, shared by the suites that test the served API."""
    with ServeProcess(tiny_core_folder, api_key="sk-served-cli") as server:
        yield server
