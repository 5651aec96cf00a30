"""RemoteCore: a CPU on another machine, over the OpenAI chat-completions protocol (httpx).

Any server that speaks ``POST {base_url}/chat/completions`` works: vLLM, TGI, SGLang, Ollama,
llama.cpp's server, or another ``genaisys serve``. `RemoteCore` is a LangChain `BaseChatModel`
like `ChatCore`: sync and async, SSE token streaming, ``bind_tools`` (tools go to the server as
OpenAI tools; its ``tool_calls`` come back as ``AIMessage.tool_calls``), images from standard
content blocks (sent as ``image_url`` data URLs; ``file_id`` blocks are read from ``blobs``),
structured output (``with_structured_output``: a forced tool call, or the server's
``response_format`` with ``method="json_schema"``).

Connections are pooled: a `RemoteCore` keeps one long-lived ``httpx.Client`` for sync calls and
one ``httpx.AsyncClient`` per event loop, made on first use and kept alive between calls (HTTP
keep-alive), so a run of calls pays for one TCP (and TLS) handshake, not one per call. ``close()``
/ ``aclose()`` (or ``with`` / ``async with``) let them go; a later call opens new ones.

Failures: 429 and 5xx answers, connection errors and timeouts are retried with exponential
backoff (``backoff · 2^attempt`` seconds, capped, or the server's ``Retry-After``); other
answers and exhausted retries raise `CoreError` saying what the server said. A stream that
stops before its end (no ``[DONE]`` and no ``finish_reason``) raises `CoreError` too — retried
only if nothing had been streamed yet, because shown tokens cannot be taken back.

Example:
    >>> from genaisys.core.remote import RemoteCore
    >>> cpu = RemoteCore(base_url="http://127.0.0.1:8000/v1", model="nano")
    >>> cpu.invoke("Hello").content  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, SkipValidation

from genaisys.core.openai_format import tool_calls_from_openai, tool_calls_to_openai, usage_from_openai
from genaisys.errors import ConfigError, CoreError, MediaError
from genaisys.types import BlobReader

__all__ = ["RemoteCore"]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=16)  # idle ones kept 5 s


class _Retryable(Exception):
    """Internal: this attempt failed in a way worth retrying (the message says how)."""


class RemoteCore(BaseChatModel):
    """An OpenAI-compatible chat-completions server as a LangChain chat model.

    Attributes:
        base_url: the API root, e.g. ``http://host:8000/v1`` (``/chat/completions`` is appended).
        model: the model name the server expects.
        api_key: sent as ``Authorization: Bearer …`` when set.
        timeout: seconds for connect/read/write of one attempt.
        max_retries: extra attempts after the first for 429/5xx, connection errors and timeouts.
        backoff / max_backoff: first retry delay in seconds (doubled each retry) and its cap.
        max_tokens / temperature / top_p: sampling settings (``None``: the server's default).
        stop: default stop sequences (a call's own ``stop`` replaces them).
        blobs: optional blob store (``.path(blob_id) -> Path``) for ``file_id`` image blocks.
        extra_body: extra JSON fields merged into every request.
        transport: an httpx transport to use instead of the network (tests, proxies).

    Connection pooling: sync calls share one ``httpx.Client`` (thread-safe: any number of threads
    may call at once; up to 16 connections, all kept alive between calls); async calls share one
    ``httpx.AsyncClient`` per event loop — a call from another loop (a second ``asyncio.run``)
    gets a new one, since an async client cannot outlive its loop. Clients are made on first use
    with the timeout, headers (``api_key``) and ``transport`` of that moment; a change of those
    fields afterwards makes a new client on the next call. Copies (``model_copy``, and so
    ``bind_tools`` / ``with_structured_output``, which wrap this same object) share the pool;
    pickled or deep-copied ones start with an empty pool.

    ``close()`` closes the sync client; ``aclose()`` (awaited inside the loop) closes the running
    loop's async client and the sync one. Both are idempotent, and a call after them opens a new
    client — closing is for letting sockets go (end of a script, a test, a server's shutdown),
    not a state the model gets stuck in. Calls still running when ``close()`` comes may fail. An
    async client left behind by a loop that ended without ``aclose()`` cannot be closed any more
    (its sockets belong to the dead loop); it is dropped and the garbage collector frees them.

    Example:
        >>> with RemoteCore(base_url="http://127.0.0.1:8000/v1", model="nano") as cpu:  # doctest: +SKIP
        ...     answers = [cpu.invoke(q).content for q in ("Hi", "And again")]  # one connection
        >>> async def main():  # doctest: +SKIP
        ...     async with RemoteCore(base_url="http://127.0.0.1:8000/v1") as cpu:
        ...         return await cpu.ainvoke("Hi")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    base_url: str
    model: str = "default"
    api_key: SecretStr | None = None
    timeout: float = 60.0
    max_retries: int = Field(default=2, ge=0)
    backoff: float = Field(default=0.5, ge=0)
    max_backoff: float = 8.0
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    blobs: SkipValidation[BlobReader | None] = None
    extra_body: dict[str, Any] = Field(default_factory=dict)
    transport: Any = None

    _pool: _Pool = PrivateAttr(default_factory=lambda: _Pool())

    @property
    def _llm_type(self) -> str:
        return "genaisys-remote-core"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "model": self.model}

    def bind_tools(self, tools: Sequence[dict[str, Any] | type | Callable[..., Any] | Any], *,
                   tool_choice: str | dict[str, Any] | None = None,
                   **kwargs: Any) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (pydantic models, functions, BaseTools, JSON schemas); sent as OpenAI tools."""
        formatted = [convert_to_openai_tool(t) for t in tools]
        if tool_choice is not None:
            if tool_choice == "any" or tool_choice is True:
                tool_choice = "required"
            elif isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
                tool_choice = {"type": "function", "function": {"name": tool_choice}}
            kwargs["tool_choice"] = tool_choice
        return self.bind(tools=formatted, **kwargs)

    def with_structured_output(self, schema: dict[str, Any] | type, *, method: str = "function_calling",
                               include_raw: bool = False, strict: bool | None = None,
                               **kwargs: Any) -> Runnable[LanguageModelInput, Any]:
        """Answers as ``schema``: a forced tool call (``function_calling``) or the server's
        ``response_format`` (``json_schema``; ``json_mode`` sends the schema too).

        Example:
            >>> cpu.with_structured_output(Colour, method="json_schema").invoke("A colour?")  # doctest: +SKIP
        """
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if kwargs:
            raise ConfigError(f"with_structured_output got unsupported arguments {sorted(kwargs)}")
        from genaisys.core.structured import json_schema_runnable

        return json_schema_runnable(self, schema, method=method, include_raw=include_raw)

    # ------------------------------------------------------------------ request
    def _url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def _body(self, messages: list[BaseMessage], stop: list[str] | None, stream: bool, **kwargs: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [self._message(m) for m in messages], "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        for key in ("max_tokens", "temperature", "top_p"):
            value = kwargs.get(key, getattr(self, key))
            if value is not None:
                body[key] = value
        if "max_new_tokens" in kwargs:  # ChatCore's name for the same thing
            body["max_tokens"] = kwargs["max_new_tokens"]
        if stop or self.stop:
            body["stop"] = stop or self.stop
        if kwargs.get("response_format") is not None:
            body["response_format"] = kwargs["response_format"]
        if kwargs.get("tools"):
            body["tools"] = kwargs["tools"]
            if kwargs.get("tool_choice") is not None:
                body["tool_choice"] = kwargs["tool_choice"]
        return {**body, **self.extra_body}

    def _message(self, msg: BaseMessage) -> dict[str, Any]:
        if isinstance(msg, SystemMessage):
            return {"role": "system", "content": msg.text}
        if isinstance(msg, HumanMessage):
            return {"role": "user", "content": self._parts(msg.content)}
        if isinstance(msg, AIMessage):
            out: dict[str, Any] = {"role": "assistant", "content": msg.text or None}
            if msg.tool_calls:
                out["tool_calls"] = tool_calls_to_openai(msg.tool_calls)
            return out
        if isinstance(msg, ToolMessage):
            return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.text}
        return {"role": getattr(msg, "role", msg.type), "content": msg.text}

    def _parts(self, content: str | list[Any]) -> str | list[dict[str, Any]]:
        if isinstance(content, str):
            return content
        parts: list[dict[str, Any]] = []
        for block in content:
            if isinstance(block, str):
                parts.append({"type": "text", "text": block})
            elif block.get("type") == "text":
                parts.append({"type": "text", "text": str(block.get("text", ""))})
            elif block.get("type") in ("image", "image_url"):
                parts.append({"type": "image_url", "image_url": {"url": self._image_url(block)}})
            else:
                raise CoreError(f"content block type {block.get('type')!r} cannot be sent to a chat-completions "
                                "server; use text or image blocks")
        return parts

    def _image_url(self, block: dict[str, Any]) -> str:
        if block.get("type") == "image_url":
            ref = block.get("image_url")
            url = ref.get("url") if isinstance(ref, dict) else ref
        elif isinstance(block.get("base64"), str):
            return f"data:{block.get('mime_type') or 'image/png'};base64,{block['base64']}"
        elif isinstance(block.get("file_id"), str):
            if self.blobs is None:
                raise MediaError(f"image block names blob {block['file_id']!r} but this RemoteCore has no blob "
                                 "store; pass blobs=<store with .path(blob_id)>")
            from genaisys.core.media import load_image_block

            image = load_image_block(block, self.blobs)  # validates the file
            from io import BytesIO

            buf = BytesIO()
            image.save(buf, "PNG")
            return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
        else:
            url = block.get("url")
        if not isinstance(url, str) or not url:
            raise MediaError("an image block needs base64 (+mime_type), url, or file_id")
        return url  # data: and http(s) URLs go as they are; the server decides what it fetches

    # ------------------------------------------------------------------ parsing
    def _result(self, data: dict[str, Any]) -> ChatResult:
        try:
            choice = data["choices"][0]
            msg = choice["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise CoreError(f"{self._url()} answered without choices[0].message: {json.dumps(data)[:300]}") from exc
        calls, invalid = tool_calls_from_openai(msg.get("tool_calls"))
        message = AIMessage(content=msg.get("content") or "", tool_calls=calls, invalid_tool_calls=invalid,
                            usage_metadata=usage_from_openai(data.get("usage")),
                            response_metadata={"finish_reason": choice.get("finish_reason"),
                                               "model_name": data.get("model", self.model)})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None and (after := response.headers.get("retry-after")):
            try:
                return min(float(after), self.max_backoff)
            except ValueError:
                pass
        return min(self.backoff * 2**attempt, self.max_backoff)

    def _check(self, response: httpx.Response) -> None:
        if response.status_code in _RETRY_STATUS:
            raise _Retryable(f"{self._url()} answered {response.status_code}: {response.text[:300]}")
        if response.status_code >= 400:
            raise CoreError(f"{self._url()} answered {response.status_code}: {response.text[:300]} "
                            "(a client error: check the model name, the messages and the API key)")

    def _give_up(self, last: str) -> CoreError:
        return CoreError(f"{self._url()} failed after {self.max_retries + 1} attempt(s): {last}. "
                         "Check that the server is up, or raise timeout / max_retries")

    # ------------------------------------------------------------------ sync
    def _client_key(self) -> tuple[Any, ...]:
        return (self.timeout, tuple(sorted(self._headers().items())), id(self.transport))

    def _client(self) -> httpx.Client:
        """The pooled sync client for the current settings, made on first use (under a lock)."""
        pool, key = self._pool, self._client_key()
        client = pool.clients.get(key)
        if client is not None and not client.is_closed:
            return client
        with pool.lock:
            client = pool.clients.get(key)
            if client is None or client.is_closed:
                client = httpx.Client(timeout=self.timeout, headers=self._headers(), transport=self.transport,
                                      limits=_LIMITS)
                pool.clients[key] = client
            return client

    def close(self) -> None:
        """Close the pooled sync client (idempotent; a later call opens a new one). Async clients
        are closed by ``aclose()`` inside their loop; those of loops that have ended are dropped."""
        with self._pool.lock:
            clients = list(self._pool.clients.values())
            self._pool.clients.clear()
            self._pool.drop_dead_loops()
        for client in clients:
            client.close()

    def __enter__(self) -> RemoteCore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        body = self._body(messages, stop, False, **kwargs)
        last = ""
        client = self._client()
        for attempt in range(self.max_retries + 1):
            response = None
            try:
                response = client.post(self._url(), json=body)
                self._check(response)
                return self._result(response.json())
            except (_Retryable, httpx.TimeoutException, httpx.TransportError) as exc:
                last = _describe(exc)
            except json.JSONDecodeError as exc:
                text = response.text[:200] if response else ""
                raise CoreError(f"{self._url()} answered non-JSON: {text}") from exc
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, response))
        raise self._give_up(last)

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        body = self._body(messages, stop, True, **kwargs)
        last = ""
        client = self._client()
        for attempt in range(self.max_retries + 1):
            state = _StreamState()
            response = None
            try:
                with client.stream("POST", self._url(), json=body) as response:
                    if response.status_code >= 400:
                        response.read()  # the error text, for the message
                    self._check(response)
                    for line in response.iter_lines():
                        for chunk in state.feed(line):
                            if run_manager is not None and chunk.message.content:
                                run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
                            yield chunk
                state.finish(self._url())
                return
            except (_Retryable, httpx.TimeoutException, httpx.TransportError) as exc:
                if state.yielded:
                    raise CoreError(f"the stream from {self._url()} was cut after {state.yielded} chunk(s) "
                                    f"({_describe(exc)}); the answer so far is incomplete") from exc
                last = _describe(exc)
            if attempt < self.max_retries:
                time.sleep(self._delay(attempt, response))
        raise self._give_up(last)

    # ------------------------------------------------------------------ async
    def _aclient(self) -> httpx.AsyncClient:
        """The pooled async client of the running event loop, made on first use in that loop."""
        loop = asyncio.get_running_loop()
        pool, key = self._pool, (loop, self._client_key())
        with pool.lock:  # no await inside: held for a dict look-up
            client = pool.aclients.get(key)
            if client is None or client.is_closed:
                pool.drop_dead_loops()
                client = httpx.AsyncClient(timeout=self.timeout, headers=self._headers(), transport=self.transport,
                                           limits=_LIMITS)
                pool.aclients[key] = client
            return client

    async def aclose(self) -> None:
        """Close the running loop's pooled async client and the sync client (idempotent)."""
        loop = asyncio.get_running_loop()
        with self._pool.lock:
            mine = [k for k in self._pool.aclients if k[0] is loop]
            clients = [self._pool.aclients.pop(k) for k in mine]
        for client in clients:
            await client.aclose()
        self.close()

    async def __aenter__(self) -> RemoteCore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                         run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        body = self._body(messages, stop, False, **kwargs)
        last = ""
        client = self._aclient()
        for attempt in range(self.max_retries + 1):
            response = None
            try:
                response = await client.post(self._url(), json=body)
                self._check(response)
                return self._result(response.json())
            except (_Retryable, httpx.TimeoutException, httpx.TransportError) as exc:
                last = _describe(exc)
            except json.JSONDecodeError as exc:
                text = response.text[:200] if response else ""
                raise CoreError(f"{self._url()} answered non-JSON: {text}") from exc
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, response))
        raise self._give_up(last)

    async def _astream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                       run_manager: AsyncCallbackManagerForLLMRun | None = None,
                       **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        body = self._body(messages, stop, True, **kwargs)
        last = ""
        client = self._aclient()
        for attempt in range(self.max_retries + 1):
            state = _StreamState()
            response = None
            try:
                async with client.stream("POST", self._url(), json=body) as response:
                    if response.status_code >= 400:
                        await response.aread()
                    self._check(response)
                    async for line in response.aiter_lines():
                        for chunk in state.feed(line):
                            if run_manager is not None and chunk.message.content:
                                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
                            yield chunk
                state.finish(self._url())
                return
            except (_Retryable, httpx.TimeoutException, httpx.TransportError) as exc:
                if state.yielded:
                    raise CoreError(f"the stream from {self._url()} was cut after {state.yielded} chunk(s) "
                                    f"({_describe(exc)}); the answer so far is incomplete") from exc
                last = _describe(exc)
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, response))
        raise self._give_up(last)


class _Pool:
    """A RemoteCore's httpx clients: sync ones by settings, async ones by (event loop, settings).

    Deep copies and pickles get an empty pool (clients and locks cannot be copied)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[tuple[Any, ...], httpx.Client] = {}
        self.aclients: dict[tuple[Any, ...], httpx.AsyncClient] = {}

    def drop_dead_loops(self) -> None:
        """Forget async clients whose loop has closed (call under the lock)."""
        for key in [k for k in self.aclients if k[0].is_closed()]:
            del self.aclients[key]

    def __deepcopy__(self, memo: dict[int, Any]) -> _Pool:
        return _Pool()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Pool, ())


class _StreamState:
    """Server-sent events → message chunks; knows whether the stream ended properly."""

    def __init__(self) -> None:
        self.done = False
        self.finished = False  # a finish_reason arrived
        self.yielded = 0

    def feed(self, line: str) -> list[ChatGenerationChunk]:
        line = line.strip()
        if not line.startswith("data:"):
            return []  # blank separators, ": comments", "event:" lines
        payload = line[5:].strip()
        if payload == "[DONE]":
            self.done = True
            return []
        try:
            data = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise CoreError(f"the server streamed a data line that is not JSON: {payload[:200]!r}") from exc
        if isinstance(data, dict) and "error" in data:
            raise CoreError(f"the server reported an error mid-stream: {json.dumps(data['error'])[:300]}")
        out = []
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            tool_chunks = [{"name": (tc.get("function") or {}).get("name"),
                            "args": (tc.get("function") or {}).get("arguments"),
                            "id": tc.get("id"), "index": tc.get("index", i), "type": "tool_call_chunk"}
                           for i, tc in enumerate(delta.get("tool_calls") or [])]
            meta = {}
            if choice.get("finish_reason"):
                self.finished = True
                meta = {"finish_reason": choice["finish_reason"], "model_name": data.get("model")}
            if delta.get("content") or tool_chunks or meta:
                out.append(ChatGenerationChunk(message=AIMessageChunk(
                    content=delta.get("content") or "", tool_call_chunks=tool_chunks, response_metadata=meta,
                    chunk_position="last" if meta else None)))
        if data.get("usage"):
            out.append(ChatGenerationChunk(message=AIMessageChunk(content="",
                                                                  usage_metadata=usage_from_openai(data["usage"]))))
        self.yielded += len(out)
        return out

    def finish(self, url: str) -> None:
        if not (self.done or self.finished):
            raise httpx.RemoteProtocolError(f"the stream from {url} ended without [DONE] or a finish_reason")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return str(exc) or type(exc).__name__
