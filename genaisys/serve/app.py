"""The OpenAI-compatible HTTP server: any OpenAI client talks to a genaisys core unchanged.

`create_app` builds a FastAPI app around any LangChain chat model (a `ChatCore`, a
`RemoteCore`, a third-party model) and serves:

* ``POST /v1/chat/completions`` — OpenAI request/response shapes: text and ``image_url`` parts
  (``data:`` URLs decoded here; ``http(s)`` URLs fetched only through the hardened
  `genaisys.tools.http_fetch.HttpFetcher`, which refuses private addresses; ``file:`` URLs and
  paths are refused so a client cannot read the server's disk), ``tools`` / ``tool_choice`` and
  ``tool_calls`` in the answer (``tool_choice`` ``"required"`` or a named function forces the
  call), ``response_format`` (``json_object`` / ``json_schema``: decoding is constrained to it,
  so ``client.chat.completions.parse`` works), ``stream: true`` as server-sent events
  (``data: {chunk}`` lines, then ``data: [DONE]``), ``usage``. ``logprobs`` and ``n > 1`` are
  refused with OpenAI's 400 error. Concurrent callers reach the core at once, and a `ChatCore`
  decodes them, streams and non-streams alike, as rows of one running batch (continuous batching).
* ``GET /v1/models`` (and ``/v1/models/{id}``) — the chat model and the embedding model.
* ``POST /v1/embeddings`` — from the memory's embedder (or the packaged MiniLM), ``float`` or
  ``base64`` encoding (the openai SDK asks for base64 by default); ``dimensions`` may only name
  the model's own size (the embedder is not trained to be cut shorter).
* ``GET /v1/graphs`` and ``POST /v1/graphs/{name}/runs`` — run a named LangGraph graph for one
  turn on a thread id (``{"input": ..., "thread_id": ...}``, or ``{"resume": ...}`` to answer
  an interrupt); the answer carries the output, the messages (OpenAI shape), retrieved
  ``context`` (citations) and ``artifacts`` (generated media, served by ``GET /v1/blobs/{id}``).
  Each message carries its ``id``; ``message_id`` names the answer, and ``perception`` says how
  each medium of the user's message was read.
* ``POST /v1/feedback`` — rate an answer of a graph thread by ``thread_id`` and ``message_id``:
  ``good``, ``bad`` (with ``edited``, the right answer) or ``edit``; stored in a `FeedbackStore`
  beside the thread's checkpoints (404 for an unknown thread or message, 400 for a bad rating, 413
  for oversize text). ``genaisys feedback export`` makes SFT records and DPO pairs from it.
* ``POST /v1/memory/ingest`` and ``POST /v1/memory/search`` — store documents in the memory and
  search it (`genaisys.serve.memory_routes`); 404 ``memory_not_configured`` without a memory.
* ``GET /`` — the web page of the assistant (one HTML file, no build step, no CDN): it lists the
  served graphs, opens on ``assistant``, shows each answer's steps and media, and rates answers.
* ``GET /openapi.json`` — the OpenAPI schema of all of the above, with the statuses the server
  really answers (400 for a bad request, never FastAPI's 422) and OpenAI's error shape.

Security: a Bearer API key is required on every ``/v1`` route unless the app is created with
``allow_no_auth_on_loopback=True`` *and* the caller connects from a loopback address. Bodies
over ``max_body_bytes`` get 413 before they are read in full. Every error has OpenAI's shape
``{"error": {"message", "type", "param", "code"}}`` (405 keeps its ``Allow`` header); an unexpected failure is logged with its
traceback and answered 500 with a request id, never the traceback itself. A streaming client
that disconnects stops the generation (the model's stream is closed).

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> app = create_app(FakeListChatModel(responses=["hi"]), api_key="sk-test")
    >>> sorted(r.path for r in app.routes if r.path.startswith("/v1"))[:3]
    ['/v1/blobs/{blob_id}', '/v1/chat/completions', '/v1/embeddings']
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import html
import io
import ipaddress
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from genaisys.core.openai_format import (
    finish_reason,
    parse_arguments,
    tool_calls_to_openai,
    usage_to_openai,
)
from genaisys.errors import ConfigError, GenaisysError, ToolError
from genaisys.serve.errors import ApiError
from genaisys.serve.memory_routes import add_memory_routes
from genaisys.serve.errors import client_error as _client_error
from genaisys.serve.errors import internal_error as _internal_error
from genaisys.types import Blobs, Memory

__all__ = [
    "ApiError",
    "ChatCompletionRequest",
    "DEFAULT_MAX_BODY_BYTES",
    "EMBEDDING_MODEL_ID",
    "FEEDBACK_MAX_CHARS",
    "FeedbackRequest",
    "create_app",
    "from_langchain_message",
    "to_langchain_messages",
]

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024  # a few photos as data URLs fit; a runaway upload does not
EMBEDDING_MODEL_ID = "genaisys-embed"
_MAX_IMAGE_BYTES = 10 * 1024 * 1024
_PAGE = Path(__file__).with_name("chat.html")


# ---------------------------------------------------------------------------------- request models

class _Body(BaseModel):
    # OpenAI clients send fields genaisys does not use (user, logprobs=False, ...): accepted and
    # ignored, like OpenAI-compatible servers do, rather than failing every client upgrade.
    model_config = ConfigDict(extra="allow")


class ImageURL(_Body):
    url: str
    detail: str | None = None


class TextPart(_Body):
    type: Literal["text"]
    text: str


class ImagePart(_Body):
    type: Literal["image_url"]
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class FunctionCall(_Body):
    name: str
    arguments: str


class ToolCallIn(_Body):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessageIn(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = None


class FunctionDef(_Body):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDef(_Body):
    type: Literal["function"]
    function: FunctionDef


class StreamOptions(_Body):
    include_usage: bool = False


class JsonSchemaFormat(_Body):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Body):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class ChatCompletionRequest(_Body):
    """The body of ``POST /v1/chat/completions`` (OpenAI's fields that genaisys honours)."""

    model: str
    messages: list[ChatMessageIn] = Field(min_length=1)
    tools: list[ToolDef] | None = None
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1, le=1)  # one choice per request: run n requests for n answers
    response_format: ResponseFormat | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)


class EmbeddingRequest(_Body):
    model: str
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)

    @field_validator("dimensions", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        # JSON true/false and strings are not sizes (pydantic's lax mode would read them as numbers).
        if isinstance(value, (bool, str)):
            raise ValueError(f"dimensions must be an integer, not {type(value).__name__}")
        return value


class GraphRunRequest(_Body):
    thread_id: str | None = Field(default=None, min_length=1, max_length=200)
    input: str | list[ContentPart] | None = None
    resume: Any = None
    config: dict[str, Any] | None = None
    stream: bool = Field(default=False, description="answer with server-sent events as the graph runs: `node` "
                                                    "(a node finished), `token` (answer text), `tool_start` / "
                                                    "`tool_end`, then `done` carrying the run as the "
                                                    "non-streamed answer gives it, and `[DONE]`")


FEEDBACK_MAX_CHARS = 20_000  # an edited answer; longer text is refused with 413 rather than cut
_NOTE_MAX_CHARS = 2_000


class FeedbackRequest(_Body):
    """The body of ``POST /v1/feedback``: a rating of one assistant answer on a graph thread."""

    thread_id: str = Field(min_length=1, max_length=200, description="the thread of the graph run")
    message_id: str = Field(min_length=1, max_length=200,
                            description="the answer's id: a graph run's `message_id`, or a message's `id`")
    rating: Literal["good", "bad", "edit"] = Field(
        description="good (the answer is right), bad (wrong; `edited` may give the right one), or edit "
                    "(`edited` replaces the answer)")
    edited: str | None = Field(default=None, description=f"the corrected answer (at most {FEEDBACK_MAX_CHARS} "
                                                         "characters)")
    note: str | None = Field(default=None, description=f"a remark (at most {_NOTE_MAX_CHARS} characters)")
    graph: str | None = Field(default=None, description="the graph that ran the thread (default: whichever "
                                                        "served graph has it)")


# ---------------------------------------------------------------------------------------- images

def _data_url_block(url: str) -> dict[str, Any]:
    header, sep, payload = url.partition(",")
    if not sep or not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ApiError(400, "an image data URL must look like data:image/png;base64,<data>",
                       param="messages.content.image_url.url", code="invalid_image_url")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "the base64 data of an image data URL is corrupt", param="messages.content.image_url.url",
                       code="invalid_image") from None
    return _image_block(raw, header[5:].split(";")[0], "a data: URL")


def _image_block(raw: bytes, mime: str, where: str) -> dict[str, Any]:
    from PIL import Image, UnidentifiedImageError

    if len(raw) > _MAX_IMAGE_BYTES:
        raise ApiError(400, f"the image from {where} is larger than {_MAX_IMAGE_BYTES // 2**20} MiB",
                       code="invalid_image")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.verify()  # refuse what the core could not decode, here, with a 400
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ApiError(400, f"the image from {where} cannot be decoded ({exc}); send PNG, JPEG, GIF or WebP",
                       code="invalid_image") from None
    return {"type": "image", "base64": base64.b64encode(raw).decode("ascii"), "mime_type": mime}


def _fetch_image(fetcher: Any, url: str) -> tuple[bytes, str]:
    """Fetch an image over http(s) with `HttpFetcher.fetch_bytes`: every hop checked and pinned."""
    return fetcher.fetch_bytes(url, accept="image/*", max_bytes=_MAX_IMAGE_BYTES)  # ToolError: refused


# ------------------------------------------------------------------------- OpenAI ↔ LangChain

async def _content_blocks(content: str | list[TextPart | ImagePart] | None,
                          fetch: Callable[[str], Any]) -> str | list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return content or ""
    blocks: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
            continue
        url = part.image_url.url
        if url.startswith("data:"):
            blocks.append(_data_url_block(url))
        elif url.lower().startswith(("http://", "https://")):
            try:
                raw, mime = await asyncio.to_thread(fetch, url)
            except ToolError as exc:
                raise ApiError(400, f"image URL not fetched: {exc}", param="messages.content.image_url.url",
                               code="image_url_refused") from None
            blocks.append(_image_block(raw, mime, url[:80]))
        else:
            raise ApiError(400, "image_url must be a data: URL or an http(s) URL (file paths are not served)",
                           param="messages.content.image_url.url", code="invalid_image_url")
    if all(b["type"] == "text" for b in blocks):
        return "".join(b["text"] for b in blocks)
    return blocks


def _text_only(content: str | list[dict[str, Any]], role: str) -> str:
    if isinstance(content, str):
        return content
    if any(b["type"] != "text" for b in content):
        raise ApiError(400, f"{role} messages take text only; put images in user messages", param="messages")
    return "".join(b["text"] for b in content)


async def to_langchain_messages(messages: list[ChatMessageIn],
                                fetch: Callable[[str], Any]) -> list[BaseMessage]:
    """Convert OpenAI chat messages to LangChain messages (images become standard image blocks)."""
    out: list[BaseMessage] = []
    for i, m in enumerate(messages):
        content = await _content_blocks(m.content, fetch)
        if m.role in ("system", "developer"):
            out.append(SystemMessage(content=_text_only(content, m.role)))
        elif m.role == "user":
            out.append(HumanMessage(content=content))
        elif m.role == "assistant":
            calls = []
            for tc in m.tool_calls or []:
                try:
                    args = parse_arguments(tc.function.arguments or "{}")
                except json.JSONDecodeError:
                    raise ApiError(400, f"messages[{i}].tool_calls: arguments of {tc.function.name!r} are not "
                                        "valid JSON", param=f"messages[{i}].tool_calls") from None
                except ValueError:
                    raise ApiError(400, f"messages[{i}].tool_calls: arguments must be a JSON object",
                                   param=f"messages[{i}].tool_calls") from None
                calls.append({"name": tc.function.name, "args": args, "id": tc.id, "type": "tool_call"})
            out.append(AIMessage(content=_text_only(content, m.role), tool_calls=calls))
        else:  # tool
            if not m.tool_call_id:
                raise ApiError(400, f"messages[{i}] has role 'tool' but no tool_call_id",
                               param=f"messages[{i}].tool_call_id")
            out.append(ToolMessage(content=_text_only(content, m.role), tool_call_id=m.tool_call_id))
    return out


def from_langchain_message(message: BaseMessage) -> dict[str, Any]:
    """One LangChain message as an OpenAI chat message (for graph run results), with its ``id``:
    the key a rating of the answer (``POST /v1/feedback``) names it by."""
    ident = {"id": message.id} if message.id else {}
    if isinstance(message, AIMessage):
        out: dict[str, Any] = {"role": "assistant", "content": message.text, **ident}
        if message.tool_calls:
            out["tool_calls"] = tool_calls_to_openai(message.tool_calls)
        return out
    if isinstance(message, ToolMessage):
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text, **ident}
    role = "system" if isinstance(message, SystemMessage) else "user"
    return {"role": role, "content": message.text, **ident}


# --------------------------------------------------------------------------------- ASGI guard

class _Guard:
    """Auth and body-size limit in front of the app, before any body byte is parsed."""

    def __init__(self, app: Any, *, api_key: str | None, allow_no_auth_on_loopback: bool, max_body_bytes: int):
        self.app, self.api_key, self.no_auth, self.max = app, api_key, allow_no_auth_on_loopback, max_body_bytes

    def _authorised(self, scope: dict[str, Any]) -> ApiError | None:
        if self.api_key is None:
            client = (scope.get("client") or ("", 0))[0]
            try:
                if self.no_auth and ipaddress.ip_address(client).is_loopback:
                    return None
            except ValueError:
                pass
            return ApiError(401, "this server accepts unauthenticated requests from loopback addresses only",
                            type="authentication_error", code="invalid_api_key")
        headers = dict(scope.get("headers") or [])
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = auth.partition(" ")
        if not auth:
            return ApiError(401, "missing API key: send the header 'Authorization: Bearer <key>'",
                            type="authentication_error", code="missing_api_key")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), self.api_key.encode()):
            return ApiError(401, "incorrect API key", type="authentication_error", code="invalid_api_key")
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/v1") and scope["method"] != "OPTIONS":
            refusal = self._authorised(scope)
            if refusal is not None:
                await refusal.response()(scope, receive, send)
                return
        too_large = ApiError(413, f"request body over {self.max} bytes; send smaller images or fewer messages",
                             code="request_too_large")
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max:
            await too_large.response()(scope, receive, send)
            return
        # Read the body here, up to the limit, then replay it: a chunked upload without a
        # Content-Length is cut off at max_body_bytes and never reaches the JSON parser.
        body, more = [], True
        size = 0
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            body.append(message.get("body", b""))
            size += len(body[-1])
            more = message.get("more_body", False)
            if size > self.max:
                await too_large.response()(scope, receive, send)
                return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()  # later calls wait for http.disconnect, as the server's would

        await self.app(scope, replay, send)


# ------------------------------------------------------------------------------------- the app

def _generation_kwargs(core: Any, req: ChatCompletionRequest) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if req.stop is not None:
        kwargs["stop"] = [req.stop] if isinstance(req.stop, str) else req.stop
    # ChatCore-style local cores and a RemoteCore take these per call, capped by the server's own
    # limit; other LangChain models keep their own settings (an unknown keyword would be forwarded
    # to their provider and fail there).
    from genaisys.core.remote import RemoteCore

    limit = req.max_completion_tokens or req.max_tokens
    if hasattr(core, "max_new_tokens"):
        if limit is not None:
            kwargs["max_new_tokens"] = min(limit, int(core.max_new_tokens))
        names: tuple[str, ...] = ("temperature", "top_p", "seed")
    elif isinstance(core, RemoteCore):
        if limit is not None:
            kwargs["max_tokens"] = limit if core.max_tokens is None else min(limit, int(core.max_tokens))
        names = ("temperature", "top_p")
    else:
        return kwargs
    for name in names:
        if getattr(req, name) is not None and hasattr(core, name):
            kwargs[name] = getattr(req, name)
    return kwargs


def _response_format(core: Any, req: ChatCompletionRequest) -> dict[str, Any]:
    """``response_format`` as a model keyword, or a 400 where it cannot be honoured."""
    fmt = req.response_format
    if fmt is None or fmt.type == "text":
        return {}
    if fmt.type == "json_schema" and (fmt.json_schema is None or fmt.json_schema.schema_ is None):
        raise ApiError(400, "response_format of type json_schema needs json_schema.name and json_schema.schema",
                       param="response_format.json_schema")
    if not _takes_response_format(core):
        raise ApiError(400, f"the model behind this server ({type(core).__name__}) cannot constrain its answer to "
                            "a response_format; send the request without it", param="response_format",
                       code="unsupported_parameter")
    return {"response_format": fmt.model_dump(by_alias=True, exclude_none=True)}


def _takes_response_format(core: Any) -> bool:
    from genaisys.core.chat import ChatCore
    from genaisys.core.remote import RemoteCore

    return isinstance(core, (ChatCore, RemoteCore)) or bool(getattr(core, "accepts_response_format", False))


def _refuse_unsupported(req: ChatCompletionRequest) -> None:
    """OpenAI fields this server cannot honour get OpenAI's 400, not a silent ``null``."""
    if req.logprobs or req.top_logprobs:
        raise ApiError(400, "logprobs are not available from this server; send the request without logprobs "
                            "and top_logprobs", param="logprobs" if req.logprobs else "top_logprobs",
                       code="unsupported_parameter")


def _bound_model(core: Any, req: ChatCompletionRequest) -> Any:
    if not req.tools:
        return core
    choice = req.tool_choice
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not isinstance(name, str) or name not in {t.function.name for t in req.tools}:
            raise ApiError(400, "tool_choice names no tool given in 'tools'", param="tool_choice")
        choice = name
    tools = [t.model_dump(exclude_none=True) for t in req.tools]
    try:
        return core.bind_tools(tools, tool_choice=choice) if choice is not None else core.bind_tools(tools)
    except NotImplementedError:
        raise ApiError(400, f"the model behind this server ({type(core).__name__}) does not support tools",
                       param="tools") from None
    except GenaisysError as exc:  # a tool_choice or schema the core refuses
        raise ApiError(400, str(exc), param="tools", code=type(exc).__name__) from None


def _ensure_worker_threads(count: int) -> None:
    """Give the running loop a default executor with ``count`` threads (once per loop).

    Local cores decode in worker threads (``asyncio.to_thread``); the default pool has only
    ``cpu_count + 4`` threads, which would cap how many concurrent requests can reach the
    core's running batch at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    if getattr(loop, "_genaisys_workers", None) is None:
        loop.set_default_executor(ThreadPoolExecutor(max_workers=count, thread_name_prefix="genaisys-serve"))
        loop._genaisys_workers = count  # type: ignore[attr-defined]


def create_app(core: Any, *, api_key: str | None = None, allow_no_auth_on_loopback: bool = False,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, model_id: str = "genaisys-nano",
               memory: Memory | None = None, graphs: dict[str, Any] | None = None, embedder: Any = None,
               fetcher: Any = None, worker_threads: int = 64, blobs: Blobs | None = None,
               feedback: Any = None) -> FastAPI:
    """Build the OpenAI-compatible app around a LangChain chat model.

    Args:
        core: any LangChain ``BaseChatModel`` (`ChatCore`, `RemoteCore`, a third-party model).
        api_key: the Bearer key every ``/v1`` request must send.
        allow_no_auth_on_loopback: with no ``api_key``, accept requests from loopback clients
            only. Without a key and without this, `create_app` refuses to build.
        max_body_bytes: larger request bodies are answered 413.
        model_id: the chat model's id in ``/v1/models``; requests naming another model get 404.
        memory: a `ChromaMemory` (or any `genaisys.types.Memory`): ``/v1/memory/ingest`` and
            ``/v1/memory/search`` use it, and its ``embedding`` serves ``/v1/embeddings``.
        graphs: compiled graphs by name for ``/v1/graphs/{name}/runs`` (give them a
            checkpointer so turns on one thread share state).
        embedder: a text embedding function (``list[str] -> vectors``) used before ``memory``;
            default the packaged MiniLM (`SentenceTransformerEmbedding`), loaded on first use.
        fetcher: the `HttpFetcher` for ``http(s)`` image URLs (default: one with default limits).
        blobs: a `BlobStore`; ``GET /v1/blobs/{id}`` serves its media (generated images,
            audio) so graph-run artifacts can be shown.
        worker_threads: threads for blocking work (local decoding, graph runs), so that many
            concurrent requests can wait in the core's batching window together.
        feedback: the `FeedbackStore` that ``POST /v1/feedback`` writes to; default one beside
            each graph's checkpointer (`genaisys.train.engine.feedback.feedback_path_for`: the
            SQLite file's ``.feedback.sqlite`` sibling, in memory for an in-memory one, and
            ``$GENAISYS_HOME/graphs/feedback.sqlite`` for PostgreSQL), opened on first use.

    Raises:
        ConfigError: no ``api_key`` and loopback-only no-auth not asked for; a bad limit.

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> app = create_app(FakeListChatModel(responses=["hi"]), api_key="sk-test", model_id="fake")
        >>> app.title
        'genaisys'
    """
    if api_key is None and not allow_no_auth_on_loopback:
        raise ConfigError("create_app needs api_key=<secret> (clients send 'Authorization: Bearer <secret>'); "
                          "to run without a key on this machine only, pass allow_no_auth_on_loopback=True")
    if api_key is not None and not api_key.strip():
        raise ConfigError("api_key is empty; pass a real secret or None with allow_no_auth_on_loopback=True")
    if worker_threads < 1:
        raise ConfigError(f"worker_threads={worker_threads}; use at least 1")
    if max_body_bytes < 1024:
        raise ConfigError(f"max_body_bytes={max_body_bytes} is too small for any chat request; use >= 1024")
    graphs = dict(graphs or {})
    created = int(time.time())
    state: dict[str, Any] = {"embedder": embedder, "fetcher": fetcher}
    stores: dict[int, Any] = {}

    def fetch(url: str) -> tuple[bytes, str]:
        if state["fetcher"] is None:
            from genaisys.tools.http_fetch import HttpFetcher

            state["fetcher"] = HttpFetcher()
        return _fetch_image(state["fetcher"], url)

    def get_embedder() -> Any:
        if state["embedder"] is None:
            if memory is not None:
                state["embedder"] = memory.embedding
            else:
                from genaisys.memory import SentenceTransformerEmbedding

                state["embedder"] = SentenceTransformerEmbedding()
        return state["embedder"]

    app = FastAPI(title="genaisys", version=_version(), docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  description="OpenAI-compatible chat completions, embeddings and graph runs on a genaisys core.")
    _document_errors(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            return ApiError(400, "the request body is not valid JSON", code="invalid_json").response()
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        shown = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
                          for e in errors[:5])
        return ApiError(400, f"invalid request: {shown}", param=".".join(loc) or None,
                        code="invalid_request").response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "unknown route: " + request.url.path if exc.status_code == 404 else str(exc.detail)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        # Starlette's headers (405's Allow, say) are part of the answer.
        return ApiError(exc.status_code, message, code=code).response(headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Anything not caught on purpose: logged with its traceback, answered in OpenAI's shape.
        return _internal_error(f"handling {request.method} {request.url.path}").response()

    def check_model(name: str) -> None:
        if name != model_id:
            raise ApiError(404, f"the model {name!r} does not exist here; use {model_id!r} (see GET /v1/models)",
                           param="model", code="model_not_found")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        if not _PAGE.is_file():
            raise ApiError(500, f"the chat page {_PAGE.name} is missing from this installation of genaisys "
                                "(package data not installed); reinstall genaisys", type="server_error")
        # The page opens on the assistant graph (else the first served one) before it may list them.
        default = "assistant" if "assistant" in graphs else min(graphs, default="")
        return HTMLResponse(_PAGE.read_text(encoding="utf-8").replace("{{MODEL_ID}}", html.escape(model_id))
                            .replace("{{DEFAULT_GRAPH}}", html.escape(default)))

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": model_id, "object": "model", "created": created, "owned_by": "genaisys"},
            {"id": EMBEDDING_MODEL_ID, "object": "model", "created": created, "owned_by": "genaisys"}]}

    @app.get("/v1/models/{name}")
    async def get_model(name: str) -> dict[str, Any]:
        if name not in (model_id, EMBEDDING_MODEL_ID):
            check_model(name)
        return {"id": name, "object": "model", "created": created, "owned_by": "genaisys"}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(req: ChatCompletionRequest) -> JSONResponse | StreamingResponse:
        check_model(req.model)
        _refuse_unsupported(req)
        _ensure_worker_threads(worker_threads)
        messages = await to_langchain_messages(req.messages, fetch)
        model = _bound_model(core, req)
        kwargs = {**_generation_kwargs(core, req), **_response_format(core, req)}
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if req.stream:
            return await _stream_response(model, messages, kwargs, completion_id, req, model_id)
        try:
            answer = await model.ainvoke(messages, **kwargs)
        except (GenaisysError, NotImplementedError) as exc:
            raise _client_error(exc) from None
        except Exception:  # noqa: BLE001 - logged with its traceback, answered without it
            raise _internal_error("generating a chat completion") from None
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = tool_calls_to_openai(answer.tool_calls)
            message["content"] = message["content"] or None
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model_id,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(answer),
                         "logprobs": None}],
            "usage": usage_to_openai(answer.usage_metadata)})

    @app.post("/v1/embeddings")
    async def embeddings(req: EmbeddingRequest) -> dict[str, Any]:
        if req.model != EMBEDDING_MODEL_ID:
            raise ApiError(404, f"the embedding model {req.model!r} does not exist here; use "
                                f"{EMBEDDING_MODEL_ID!r}", param="model", code="model_not_found")
        texts = [req.input] if isinstance(req.input, str) else req.input
        if any(not t for t in texts):
            raise ApiError(400, "input must not contain empty strings", param="input")
        try:
            vectors = await asyncio.to_thread(lambda: get_embedder()(list(texts)))
            if req.dimensions is not None and vectors is not None and len(vectors) and \
                    len(vectors[0]) != req.dimensions:
                raise ApiError(400, f"{EMBEDDING_MODEL_ID} makes {len(vectors[0])}-dimensional embeddings and cannot "
                                    f"be shortened to {req.dimensions}; leave dimensions out or set it to "
                                    f"{len(vectors[0])}", param="dimensions", code="unsupported_parameter")
        except ApiError:
            raise
        except GenaisysError as exc:
            raise _client_error(exc) from None
        except Exception:  # noqa: BLE001
            raise _internal_error("embedding the input") from None
        import numpy as np

        data = []
        for i, vec in enumerate(vectors):
            arr = np.asarray(vec, dtype=np.float32)  # (dim,)
            value: Any = (base64.b64encode(arr.tobytes()).decode("ascii") if req.encoding_format == "base64"
                          else arr.tolist())
            data.append({"object": "embedding", "index": i, "embedding": value})
        n_tokens = sum(len(t.split()) for t in texts)  # a word count: the embedder's tokenizer is not exposed
        return {"object": "list", "data": data, "model": EMBEDDING_MODEL_ID,
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens}}

    @app.get("/v1/graphs")
    async def list_graphs() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "graph"} for name in sorted(graphs)]}

    @app.post("/v1/graphs/{name}/runs", response_model=None)
    async def run_graph(name: str, req: GraphRunRequest) -> dict[str, Any] | StreamingResponse:
        if name not in graphs:
            raise ApiError(404, f"no graph named {name!r}; known: {sorted(graphs) or 'none'}", param="name",
                           code="graph_not_found")
        from langgraph.types import Command

        from genaisys.graphs import run_turn

        if req.resume is not None:
            content: Any = Command(resume=req.resume)
        elif req.input is not None:
            content = await _content_blocks(req.input, fetch)
        else:
            raise ApiError(400, "send 'input' (text or content parts) or 'resume' (an interrupt's answer)",
                           param="input")
        thread_id = req.thread_id or uuid.uuid4().hex
        _ensure_worker_threads(worker_threads)
        if req.stream:
            return await _stream_graph_run(lambda on_event: run_turn(graphs[name], content, thread_id=thread_id,
                                                                     config=req.config, stream=on_event),
                                           lambda values: run_payload(name, thread_id, values), name)
        try:
            values = await asyncio.to_thread(run_turn, graphs[name], content, thread_id=thread_id,
                                             config=req.config)
        except (GenaisysError, NotImplementedError) as exc:
            raise _client_error(exc) from None
        except Exception:  # noqa: BLE001
            raise _internal_error(f"running graph {name!r}") from None
        return run_payload(name, thread_id, values)

    def run_payload(name: str, thread_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """A finished graph run as ``POST /v1/graphs/{name}/runs`` answers it."""
        msgs = [m for m in values.get("messages", []) if isinstance(m, BaseMessage)]
        last_ai = next((m for m in reversed(msgs) if isinstance(m, AIMessage)), None)
        interrupts = [{"id": getattr(i, "id", None), "value": _jsonable(getattr(i, "value", i))}
                      for i in values.get("__interrupt__", [])]
        artifacts = [dict(_jsonable(dict(a)), url=f"/v1/blobs/{a['blob_id']}" if blobs is not None else None)
                     for a in values.get("artifacts", []) if isinstance(a, dict) and a.get("blob_id")]
        return {"object": "graph.run", "graph": name, "thread_id": thread_id,
                "output": last_ai.text if last_ai is not None else "",
                "message_id": last_ai.id if last_ai is not None else None,
                "messages": [from_langchain_message(m) for m in msgs], "interrupts": interrupts,
                "context": [_jsonable(dict(h)) for h in values.get("context", []) if isinstance(h, dict)],
                "perception": [_jsonable(dict(p)) for p in values.get("perception", []) or []
                               if isinstance(p, Mapping)],
                "artifacts": artifacts}

    def thread_answer(req: FeedbackRequest) -> Any:
        """The checkpointer holding the request's thread, after checking the message is an answer in it."""
        if req.graph is not None and req.graph not in graphs:
            raise ApiError(404, f"no graph named {req.graph!r}; known: {sorted(graphs) or 'none'}", param="graph",
                           code="graph_not_found")
        names = [req.graph] if req.graph is not None else sorted(graphs)
        kept = [n for n in names if getattr(graphs[n], "checkpointer", None) not in (None, False)]
        if not kept:
            raise ApiError(404, f"no served graph keeps threads ({', '.join(names) or 'none served'} run without a "
                                "checkpointer), so there is no thread to rate; serve a graph with a checkpointer",
                           param="thread_id", code="thread_not_found")
        for n in kept:
            snapshot = graphs[n].get_state({"configurable": {"thread_id": req.thread_id}})
            messages = (snapshot.values or {}).get("messages") if snapshot.created_at else None
            if not messages:
                continue
            found = next((m for m in messages if getattr(m, "id", None) == req.message_id), None)
            if found is None:
                raise ApiError(404, f"thread {req.thread_id!r} has no message {req.message_id!r}; rate an answer by "
                                    "the message_id its graph run returned", param="message_id",
                               code="message_not_found")
            if not isinstance(found, AIMessage):
                raise ApiError(400, f"message {req.message_id!r} of thread {req.thread_id!r} is a "
                                    f"{found.type} message; only assistant answers can be rated",
                               param="message_id", code="not_an_answer")
            return graphs[n].checkpointer
        raise ApiError(404, f"no thread {req.thread_id!r} in {', '.join(repr(n) for n in kept)}; rate an answer "
                            "on the thread_id a graph run returned", param="thread_id", code="thread_not_found")

    def feedback_store(checkpointer: Any) -> Any:
        if feedback is not None:
            return feedback
        key = id(checkpointer)
        if key not in stores:
            from genaisys.train.engine.feedback import FeedbackStore

            stores[key] = FeedbackStore.beside(checkpointer)
        return stores[key]

    @app.post("/v1/feedback")
    async def post_feedback(req: FeedbackRequest) -> dict[str, Any]:
        """Rate one assistant answer of a graph thread: ``good``, ``bad`` (optionally with the right
        answer in ``edited``) or ``edit``. Stored in the `FeedbackStore` beside the thread's
        checkpoints; a later rating of the same answer replaces the earlier one.
        ``genaisys feedback export`` turns the ratings into SFT records and DPO pairs."""
        for field_name, limit in (("edited", FEEDBACK_MAX_CHARS), ("note", _NOTE_MAX_CHARS)):
            text = getattr(req, field_name)
            if text is not None and len(text) > limit:
                raise ApiError(413, f"{field_name} is {len(text)} characters; feedback takes at most {limit}",
                               param=field_name, code="feedback_too_large")
        edited = req.edited if (req.edited or "").strip() else None
        if req.rating == "good" and edited is not None:
            raise ApiError(400, "a 'good' rating takes no edited text; send rating 'edit' (or 'bad') with the "
                                "corrected answer", param="edited", code="invalid_feedback")
        if req.rating == "edit" and edited is None:
            raise ApiError(400, "an 'edit' rating needs the corrected answer in 'edited'", param="edited",
                           code="invalid_feedback")
        checkpointer = await asyncio.to_thread(thread_answer, req)
        verdict = {"good": "accept", "bad": "reject", "edit": "edit"}[req.rating]
        try:
            stored = await asyncio.to_thread(feedback_store(checkpointer).record, req.thread_id, req.message_id,
                                             verdict, edited, req.note)
        except GenaisysError as exc:
            raise _client_error(exc) from None
        return {"object": "feedback", "thread_id": stored.thread_id, "message_id": stored.message_id,
                "rating": req.rating, "verdict": stored.verdict, "edited": stored.edited, "note": stored.note,
                "created_at": stored.created_at}

    @app.get("/v1/blobs/{blob_id}")
    async def get_blob(blob_id: str) -> Response:
        if blobs is None or not blobs.has(blob_id):
            raise ApiError(404, f"no blob {blob_id!r} on this server", param="blob_id", code="blob_not_found")
        try:
            data = await asyncio.to_thread(blobs.get, blob_id)  # hash-checked
        except GenaisysError as exc:
            raise _client_error(exc) from None
        return Response(data, media_type=blobs.mime_type(blob_id) or "application/octet-stream",
                        headers={"X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; sandbox"})

    add_memory_routes(app, memory)
    app.add_middleware(_Guard, api_key=api_key, allow_no_auth_on_loopback=allow_no_auth_on_loopback,
                       max_body_bytes=max_body_bytes)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genaisys")
    except PackageNotFoundError:
        return "0"


_ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}
_ERRORS = {"400": "bad request (OpenAI's error shape)", "401": "missing or wrong API key",
           "404": "unknown model, graph, blob, thread, message or route; no memory on this server",
           "413": "request body (or feedback text) too large",
           "500": "internal error (the server log has the details)"}


def _document_errors(app: FastAPI) -> None:
    """Make ``/openapi.json`` say what the server answers: 400 (not FastAPI's 422) and the other
    errors, all in OpenAI's shape, on every ``/v1`` operation."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = _ERROR_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                if path.startswith("/v1"):
                    for status, what in _ERRORS.items():
                        responses.setdefault(status, {"description": what, "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
                if path.startswith("/v1") and "security" not in operation:
                    operation["security"] = [{"bearer": []}]
        schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=repr))  # what JSON cannot hold is shown by its repr


# ---------------------------------------------------------------------------------- streaming

def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


async def _stream_response(model: Any, messages: list[BaseMessage], kwargs: dict[str, Any], completion_id: str,
                           req: ChatCompletionRequest, model_id: str) -> StreamingResponse:
    created = int(time.time())
    stream = model.astream(messages, **kwargs)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model_id,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra})

    # Pull the first chunk before answering 200, so an early failure (a bad image in the core,
    # a refused tool schema) still gets its proper status code.
    try:
        first: AIMessageChunk | None = await anext(stream)
    except StopAsyncIteration:
        first = None
    except (GenaisysError, NotImplementedError) as exc:
        await stream.aclose()
        raise _client_error(exc) from None
    except Exception:  # noqa: BLE001
        await stream.aclose()
        raise _internal_error("starting a streamed chat completion") from None

    async def events() -> AsyncIterator[bytes]:
        total: AIMessageChunk | None = None
        # aclosing: when the client disconnects, Starlette cancels this generator and the model's
        # stream is closed at once, which stops its decoding (ChatCore's worker checks a flag).
        async with contextlib.aclosing(stream):
            try:
                yield chunk({"role": "assistant", "content": ""})
                piece = first
                while piece is not None:
                    total = piece if total is None else total + piece
                    text = piece.text
                    if text:
                        yield chunk({"content": text})
                    try:
                        piece = await anext(stream)
                    except StopAsyncIteration:
                        piece = None
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - the status line is sent; report in-band, log it
                error = _client_error(exc) if isinstance(exc, GenaisysError) else _internal_error("streaming")
                yield _sse(error.body())
                yield _sse("[DONE]")
                return
        final = AIMessage(content="", tool_calls=total.tool_calls if total is not None else [],
                          usage_metadata=total.usage_metadata if total is not None else None,
                          response_metadata=total.response_metadata if total is not None else {})
        if final.tool_calls:
            yield chunk({"tool_calls": [dict(c, index=i) for i, c in enumerate(tool_calls_to_openai(final.tool_calls))]})
        yield chunk({}, finish_reason(final))
        if req.stream_options is not None and req.stream_options.include_usage:
            yield _sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                        "model": model_id, "choices": [], "usage": usage_to_openai(final.usage_metadata)})
        yield _sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


#: custom-stream events of the prebuilt graphs that a streamed graph run passes on (tokens, tool calls)
_GRAPH_EVENTS = ("token", "tool_start", "tool_end", "tool_loop", "repair")


async def _stream_graph_run(run: Callable[[Callable[[str, Any], None]], dict[str, Any]],
                            payload: Callable[[dict[str, Any]], dict[str, Any]], name: str) -> StreamingResponse:
    """Run a graph turn in a worker thread and stream its events as server-sent events.

    ``run(on_event)`` runs the turn (`genaisys.graphs.run_turn` with ``stream=on_event``);
    ``payload(values)`` is the finished run as the non-streamed answer gives it. A turn that fails
    before its first event is answered with its proper status code; a later failure is reported
    in-band (``{"type": "error", ...}``). A client that goes away does not stop the turn: it runs
    to its end, so the thread's checkpoints stay whole.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def on_event(mode: str, data: Any) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (mode, data))

    task = asyncio.ensure_future(asyncio.to_thread(run, on_event))

    async def next_event() -> tuple[str, Any] | None:
        """The next event, or None once the turn has ended and every event was taken. The worker
        queues its events with call_soon_threadsafe before it returns, so by the time the task is
        done the loop has run every put: an empty queue then is the end."""
        while True:
            if not queue.empty():
                return queue.get_nowait()
            if task.done():
                return None
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
            getter.cancel()

    def failure(exc: BaseException) -> ApiError:
        if isinstance(exc, (GenaisysError, NotImplementedError)):
            return _client_error(exc)
        return _internal_error(f"running graph {name!r}", exc)

    first = await next_event()
    if first is None and task.exception() is not None:
        raise failure(task.exception()) from None

    def encode(mode: str, data: Any) -> list[bytes]:
        if mode == "custom" and isinstance(data, dict) and data.get("type") in _GRAPH_EVENTS:
            return [_sse(_jsonable(data))]
        if mode == "updates" and isinstance(data, dict):
            return [_sse({"type": "node", "node": node}) for node in data if node != "__interrupt__"]
        return []

    async def events() -> AsyncIterator[bytes]:
        event = first
        while event is not None:
            for piece in encode(*event):
                yield piece
            event = await next_event()
        exc = task.exception()
        if exc is not None:
            yield _sse({"type": "error", **failure(exc).body()})
        else:
            yield _sse({"type": "done", "run": payload(task.result())})
        yield _sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
