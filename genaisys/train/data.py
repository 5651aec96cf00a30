"""The conversation format genaisys trains on: LLaVA-style records ↔ LangChain messages.

A record is one JSON object (a file holds a JSON array of them, or one per line — JSONL)::

    {"id": "evqa-12", "images": ["imgs/12.png"],          # or LLaVA's single "image": "imgs/12.png"
     "tools": ["builtin:calculator"],                      # registry names or OpenAI tool dicts; optional
     "conversations": [
       {"from": "system", "value": "You are helpful."},    # optional, first only
       {"from": "human", "value": "<image>\\nWhat color is the shape?"},
       {"from": "gpt", "value": "Blue."},
       {"from": "human", "value": "And 2 + 2?"},
       {"from": "gpt", "value": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"},
                                                    "id": "c1"}]},
       {"from": "tool", "name": "calculator", "tool_call_id": "c1", "value": "4"},
       {"from": "gpt", "value": "2 + 2 = 4."}]}

Roles: ``human``/``user``, ``gpt``/``assistant``, ``system``, ``tool`` (OpenAI-style ``role``/
``content`` keys are read too). ``<image>`` in a human turn marks where an image goes; with no
mark, all images go before the text of the first human turn (LLaVA). One newline right after a
mark belongs to the mark. Image paths are resolved relative to the data file.

*Preference* records (DPO) add ``"chosen"`` and ``"rejected"`` — each a gpt turn, a string or
``{"value", "tool_calls"}`` — after conversations that end on a human or tool turn. *Decoder*
records add ``"target_caption"``: the text the decoder's own text encoder embeds for the signal
tokens in the gpt turn. ``"train_on": "turn"`` says the gpt turns after the last human turn are the
targets (the calls and the answer of one user turn, recorded under one system prompt);
``"train_on": "last"`` says only the last gpt turn is a target (earlier
ones are context that was never approved, as in records made from sessions); the default is every
gpt turn. ``docs/data-format.md`` has the full reference.

`to_messages` gives exactly what `genaisys.core.ChatCore.render_prompt` takes: images become
``{"type": "image", "url": "/abs/path.png"}`` blocks (or, with ``inline_images=True``, the
base64 block `genaisys.core.media.image_block` builds — what the evaluation sends), tool calls an
``AIMessage(content="", tool_calls=[...])``, tool results a ``ToolMessage``.

Example:
    >>> rec = {"id": "r1", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello!"}]}
    >>> messages, tools = to_messages(rec)
    >>> [type(m).__name__ for m in messages], tools
    (['HumanMessage', 'AIMessage'], None)
    >>> from_messages(messages, id="r1") == rec
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from genaisys.errors import ConfigError
from genaisys.types import BlobReader

__all__ = [
    "IMAGE_MARK",
    "AnswerTurn",
    "PreferenceRecord",
    "Record",
    "ToolCallSpec",
    "Turn",
    "from_messages",
    "load_hf_dataset",
    "load_records",
    "to_messages",
    "to_preference",
    "validate_record",
    "write_records",
]

IMAGE_MARK = "<image>"
_ROLES = {"human": "human", "user": "human", "gpt": "gpt", "assistant": "gpt", "ai": "gpt",
          "system": "system", "tool": "tool"}
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".gif": "image/gif"}


# ---------------------------------------------------------------------------------------------- models
class ToolCallSpec(BaseModel):
    """One tool call of a gpt turn: ``{"name", "arguments", "id"}`` (``args`` is read as ``arguments``;
    a JSON string of arguments, OpenAI style, is parsed)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = dict(data)
            if "args" in data and "arguments" not in data:
                data["arguments"] = data.pop("args")
            data.pop("type", None)  # LangChain's "tool_call" marker
            if "function" in data and "name" not in data:  # OpenAI {"type": "function", "function": {...}}
                fn = data.pop("function")
                data["name"], data["arguments"] = fn.get("name"), fn.get("arguments", {})
            if isinstance(data.get("arguments"), str):
                try:
                    data["arguments"] = json.loads(data["arguments"] or "{}")
                except json.JSONDecodeError as exc:
                    raise ValueError(f"tool call arguments are not valid JSON ({exc.msg})") from exc
            if data.get("arguments") is None:
                data["arguments"] = {}
        return data


class Turn(BaseModel):
    """One turn of ``conversations``. ``from``: human/user, gpt/assistant, system or tool."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    role: Literal["human", "gpt", "system", "tool"] = Field(alias="from")
    value: str = ""
    tool_calls: list[ToolCallSpec] | None = None
    name: str | None = None
    tool_call_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(f"a turn must be an object with 'from' and 'value', got {type(data).__name__}")
        data = {k: v for k, v in data.items() if v is not None}  # HF datasets fill absent keys with None
        if "from" not in data and "role" in data:
            data["from"] = data.pop("role")
        if "value" not in data and "content" in data:
            data["value"] = data.pop("content")
        role = data.get("from")
        if isinstance(role, str) and role.lower() in _ROLES:
            data["from"] = _ROLES[role.lower()]
        elif role is not None:
            raise ValueError(f"unknown turn role {role!r}; use one of {sorted(_ROLES)}")
        return data

    @model_validator(mode="after")
    def _fields_fit_role(self) -> Turn:
        if self.tool_calls and self.role != "gpt":
            raise ValueError(f"only gpt turns carry tool_calls (this one is from {self.role!r})")
        if self.role != "tool" and (self.tool_call_id or self.name):
            raise ValueError("'name' and 'tool_call_id' belong to tool turns only")
        if self.role == "gpt" and not self.value and not self.tool_calls:
            raise ValueError("a gpt turn needs a non-empty value or tool_calls")
        return self


class AnswerTurn(BaseModel):
    """A preference side (``chosen``/``rejected``): a string, or ``{"value", "tool_calls"}``."""

    model_config = ConfigDict(extra="forbid")

    value: str = ""
    tool_calls: list[ToolCallSpec] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_str(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"value": data}
        if isinstance(data, Mapping):
            data = {k: v for k, v in data.items() if v is not None and k not in ("from", "role")}
            if "value" not in data and "content" in data:
                data["value"] = data.pop("content")
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> AnswerTurn:
        if not self.value and not self.tool_calls:
            raise ValueError("an answer needs a non-empty value or tool_calls")
        return self


class Record(BaseModel):
    """An SFT (or decoder-alignment) record. See the module docstring for the format."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    images: list[str] = Field(default_factory=list)
    tools: list[str | dict[str, Any]] | None = None
    conversations: list[Turn] = Field(min_length=1)
    target_caption: str | None = None
    train_on: Literal["all", "last", "turn"] | None = None
    meta: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _llava_image(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            data = {k: v for k, v in data.items() if v is not None}
            if "image" in data:
                if data.get("images"):
                    raise ValueError("give either 'image' (one path) or 'images' (a list), not both")
                img = data.pop("image")
                data["images"] = [img] if isinstance(img, str) else img
            if isinstance(data.get("id"), int):
                data["id"] = str(data["id"])
        return data

    @field_validator("tools")
    @classmethod
    def _tools(cls, tools: list[str | dict[str, Any]] | None) -> list[str | dict[str, Any]] | None:
        for t in tools or []:
            if isinstance(t, dict):
                fn = t.get("function", t)
                if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
                    raise ValueError("an OpenAI tool dict needs {'type': 'function', 'function': {'name', "
                                     "'description', 'parameters'}}")
            elif ":" not in t:
                raise ValueError(f"tool {t!r} is not a registry name; use 'kind:name' such as "
                                 "'builtin:calculator', or an OpenAI tool dict")
        return tools

    @model_validator(mode="after")
    def _structure(self, info: ValidationInfo) -> Record:
        need = bool((info.context or {}).get("require_answer", True))
        _check_structure(self.conversations, self.images, preference=isinstance(self, PreferenceRecord),
                         require_answer=need)
        if self.target_caption is not None and not any(t.role == "gpt" for t in self.conversations):
            raise ValueError("a decoder record (target_caption) needs a gpt turn holding the signal tokens")
        return self


class PreferenceRecord(Record):
    """A DPO record: ``conversations`` end on a human or tool turn; ``chosen`` beats ``rejected``."""

    chosen: AnswerTurn
    rejected: AnswerTurn

    @model_validator(mode="after")
    def _differ(self) -> PreferenceRecord:
        if self.chosen.model_dump() == self.rejected.model_dump():
            raise ValueError("chosen and rejected are the same answer; a preference pair needs two different ones")
        return self


def _check_structure(turns: Sequence[Turn], images: Sequence[str], *, preference: bool,
                     require_answer: bool = True) -> None:
    marks = sum(t.value.count(IMAGE_MARK) for t in turns if t.role == "human")
    stray = [t.role for t in turns if t.role != "human" and IMAGE_MARK in t.value]
    if stray:
        raise ValueError(f"{IMAGE_MARK} may only appear in human turns (found in a {stray[0]} turn)")
    if marks and marks != len(images):
        raise ValueError(f"{marks} {IMAGE_MARK} mark(s) in the human turns but {len(images)} image(s); "
                         f"give one mark per image, or no marks (images then go before the first human text)")
    if images and not any(t.role == "human" for t in turns):
        raise ValueError("the record has images but no human turn to show them in")
    pending: dict[str, str] = {}  # call id → tool name, open since the last gpt tool-call turn
    unnamed: list[str] = []
    for i, turn in enumerate(turns):
        if turn.role == "system" and i != 0:
            raise ValueError(f"turn {i}: a system turn may only come first")
        if turn.role == "gpt":
            pending, unnamed = {}, []
            for k, call in enumerate(turn.tool_calls or []):
                call_id = call.id or f"call_{i}_{k}"
                pending[call_id] = call.name
                unnamed.append(call_id)
        elif turn.role == "tool":
            if not pending:
                raise ValueError(f"turn {i}: a tool turn must follow a gpt turn with tool_calls")
            call_id = turn.tool_call_id or (unnamed[0] if unnamed else None)
            if call_id not in pending:
                raise ValueError(f"turn {i}: tool_call_id {turn.tool_call_id!r} matches no call of the gpt turn "
                                 f"before it (ids: {sorted(pending)})")
            if turn.name and turn.name != pending[call_id]:
                raise ValueError(f"turn {i}: tool result named {turn.name!r} answers a call to {pending[call_id]!r}")
            if call_id in unnamed:
                unnamed.remove(call_id)
    if preference:
        if turns[-1].role not in ("human", "tool"):
            raise ValueError("a preference record's conversations must end on a human or tool turn "
                             "(chosen and rejected are the next gpt turn)")
    elif require_answer and not any(t.role == "gpt" for t in turns):
        raise ValueError("the conversations have no gpt turn to learn from (a preference record needs "
                         "'chosen' and 'rejected')")


# ---------------------------------------------------------------------------------------------- validation
def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def validate_record(data: Mapping[str, Any], *, where: str = "", require_answer: bool = True) -> Record:
    """Validate one record (a `PreferenceRecord` when it has ``chosen``/``rejected``).

    Args:
        data: the record.
        where: where it came from (``file:line``), for the error message.
        require_answer: a plain record must hold a gpt turn (something to learn); ``False``
            accepts a bare prompt, such as a preference record's conversations alone.

    Raises:
        ConfigError: the record is malformed; the message names its id and ``where`` (file:line).

    Example:
        >>> validate_record({"id": "x", "conversations": [{"from": "gpt", "value": "hi"}]}).id
        'x'
    """
    if isinstance(data, Record):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'record'}: a record must be a JSON object, got {type(data).__name__}")
    model = PreferenceRecord if ("chosen" in data or "rejected" in data) else Record
    try:
        return model.model_validate(dict(data), context={"require_answer": require_answer})
    except ValidationError as exc:
        rid = data.get("id", "?")
        at = f"{where}: " if where else ""
        raise ConfigError(f"{at}record {rid!r} is invalid: {_describe(exc)}") from exc


def _dump(record: Record) -> dict[str, Any]:
    out = record.model_dump(by_alias=True, exclude_none=True)
    if not out.get("images"):
        out.pop("images", None)
    for turn in out["conversations"]:
        if not turn.get("tool_calls"):
            turn.pop("tool_calls", None)
    for side in ("chosen", "rejected"):
        if side in out and not out[side].get("tool_calls"):
            out[side].pop("tool_calls", None)
    return out


# ---------------------------------------------------------------------------------------------- files
def _json_array_items(text: str, file: Path) -> list[tuple[int, Any]]:
    """(line, item) for each element of a top-level JSON array, so errors can name file:line."""
    dec = json.JSONDecoder()
    pos = text.index("[") + 1
    items: list[tuple[int, Any]] = []
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise ConfigError(f"{file}: the JSON array is not closed with ']'")
        if text[pos] == "]":
            return items
        line = text.count("\n", 0, pos) + 1
        try:
            obj, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}:{text.count(chr(10), 0, exc.pos) + 1}: invalid JSON ({exc.msg})") from exc
        items.append((line, obj))


def _resolve_images(rec: dict[str, Any], base: Path) -> dict[str, Any]:
    if rec.get("images"):
        rec["images"] = [_abs_image(p, base) for p in rec["images"]]
    return rec


def _abs_image(p: str, base: Path) -> str:
    if p.startswith("file://"):
        return unquote(urlparse(p).path)
    if "://" in p or p.startswith("data:"):
        return p
    path = Path(p).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def load_records(path_or_paths: str | Path | Iterable[str | Path], *,
                 check_images: bool = False) -> list[dict[str, Any]]:
    """Read and validate records from JSON-array or JSONL files.

    Image paths come back absolute (resolved against each data file's folder); ``image`` becomes
    ``images``; roles are normalised (``user`` → ``human``, ``assistant`` → ``gpt``).

    Args:
        path_or_paths: one file or several (read in order).
        check_images: also check that every image file exists.

    Raises:
        ConfigError: a file is missing or not JSON, a record is invalid (message: file:line and id),
            an id repeats, or (with ``check_images``) an image is missing.

    Example:
        >>> import json, tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
        >>> _ = f.write_text(json.dumps({"id": "a", "image": "1.png", "conversations": [
        ...     {"from": "user", "value": "<image>\\nColour?"}, {"from": "assistant", "value": "red"}]}))
        >>> rec = load_records(f)[0]
        >>> rec["images"] == [str(f.parent / "1.png")], rec["conversations"][0]["from"]
        (True, 'human')
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    if not paths:
        raise ConfigError("load_records needs at least one file")
    out: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for p in paths:
        file = Path(p)
        if not file.is_file():
            raise ConfigError(f"data file {file} does not exist")
        text = file.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            rows = _json_array_items(text, file)
        else:
            rows = []
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{file}:{n}: invalid JSON ({exc.msg}); a .jsonl file holds one "
                                      "record object per line, a .json file one array of records") from exc
        base = file.parent.resolve()
        for line, row in rows:
            where = f"{file}:{line}"
            rec = _resolve_images(_dump(validate_record(row, where=where)), base)
            if rec["id"] in seen:
                raise ConfigError(f"{where}: record id {rec['id']!r} repeats (first at {seen[rec['id']]}); ids must be unique")
            seen[rec["id"]] = where
            if check_images:
                for img in rec.get("images", []):
                    if not Path(img).is_file():
                        raise ConfigError(f"{where}: record {rec['id']!r}: image {img} does not exist")
            out.append(rec)
    return out


def write_records(path: str | Path, records: Iterable[Mapping[str, Any] | Record]) -> Path:
    """Validate ``records`` and write them as JSONL, atomically (a temp file renamed into place).

    Returns:
        The path written.

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "out.jsonl"
        >>> _ = write_records(f, [{"id": "a", "conversations": [{"from": "gpt", "value": "hi"}]}])
        >>> load_records(f)[0]["conversations"][0]["value"]
        'hi'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    seen: set[str] = set()
    for i, r in enumerate(records):
        rec = _dump(validate_record(r, where=f"record #{i}"))
        if rec["id"] in seen:
            raise ConfigError(f"record #{i}: id {rec['id']!r} repeats; ids must be unique")
        seen.add(rec["id"])
        lines.append(json.dumps(rec, ensure_ascii=False))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + ("\n" if lines else ""))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_hf_dataset(name_or_path: str | Path, split: str | None = "train", *,
                    image_dir: str | Path | None = None, **load_kwargs: Any) -> list[dict[str, Any]]:
    """Records from a Hugging Face ``datasets`` dataset (a ``save_to_disk`` folder, or a name).

    Rows hold the record fields as columns (``id``, ``conversations``, ``image``/``images`` …).
    Image columns may hold paths (relative ones resolve against a local dataset's folder) or
    decoded images / ``{"bytes"}`` dicts, which are written once to ``image_dir`` (default
    ``~/.cache/genaisys/hf-images``) under their content hash. Arrow fills keys a row lacks with
    ``null``; those are dropped, so store tool-call ``arguments`` as JSON strings when a null
    argument must survive.

    Raises:
        MissingDependencyError: ``datasets`` is not installed.
        ConfigError: the split does not exist, or a row is not a valid record.

    Example:
        >>> recs = load_hf_dataset("data/my_saved_dataset", split="train")  # doctest: +SKIP
    """
    from genaisys._optional import require

    datasets = require("datasets", "datasets>=5.2")
    local = Path(name_or_path)
    if local.is_dir() and ((local / "dataset_info.json").is_file() or (local / "dataset_dict.json").is_file()):
        ds = datasets.load_from_disk(str(local))
        base = local.resolve()
    else:
        ds = datasets.load_dataset(str(name_or_path), **load_kwargs)
        base = Path.cwd()
    if isinstance(ds, Mapping):  # DatasetDict
        if split is None or split not in ds:
            raise ConfigError(f"split {split!r} is not in {name_or_path}; it has {sorted(ds)}")
        ds = ds[split]
    img_dir = Path(image_dir) if image_dir is not None else Path.home() / ".cache" / "genaisys" / "hf-images"
    out = []
    for n, row in enumerate(ds):
        row = {k: v for k, v in row.items() if v is not None}
        for key in ("image", "images"):
            if key in row:
                vals = row[key] if isinstance(row[key], list) else [row[key]]
                row[key] = [_hf_image(v, img_dir, base) for v in vals]
        for turn in row.get("conversations") or []:
            for call in turn.get("tool_calls") or []:
                if isinstance(call.get("arguments"), dict):
                    call["arguments"] = {k: v for k, v in call["arguments"].items() if v is not None}
        out.append(_dump(validate_record(row, where=f"{name_or_path}[{split}] row {n}")))
    return out


def _hf_image(value: Any, img_dir: Path, base: Path) -> str:
    if isinstance(value, str):
        return _abs_image(value, base)
    if isinstance(value, Mapping):
        if value.get("bytes"):
            data = bytes(value["bytes"])
        elif value.get("path"):
            return _abs_image(str(value["path"]), base)
        else:
            raise ConfigError("an image column entry needs 'bytes' or 'path'")
    elif hasattr(value, "save"):  # a decoded PIL image
        import io

        buf = io.BytesIO()
        value.save(buf, format="PNG")
        data = buf.getvalue()
    else:
        raise ConfigError(f"cannot read an image from a {type(value).__name__} column value")
    digest = hashlib.sha256(data).hexdigest()[:32]
    img_dir.mkdir(parents=True, exist_ok=True)
    target = img_dir / f"{digest}.png"
    if not target.is_file():
        target.write_bytes(data)
    return str(target)


# ---------------------------------------------------------------------------------------------- messages
def _image_block(path: str, inline: bool) -> dict[str, Any]:
    if path.startswith("data:"):
        return {"type": "image", "url": path}
    if inline:
        from genaisys.core.media import image_block  # the exact block the evaluation sends

        return image_block(path)
    block: dict[str, Any] = {"type": "image", "url": path}
    mime = _MIME.get(Path(path).suffix.lower())
    if mime:
        block["mime_type"] = mime
    return block


def _human_content(text: str, images: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Split a human turn at ``<image>`` marks (one newline after a mark belongs to it)."""
    if IMAGE_MARK not in text:
        if not images:
            return text
        return [*images, {"type": "text", "text": text}] if text else list(images)
    pieces = text.split(IMAGE_MARK)
    blocks: list[dict[str, Any]] = []
    for k, piece in enumerate(pieces):
        if k > 0:
            blocks.append(images[k - 1])
            piece = piece.removeprefix("\n")
        if piece:
            blocks.append({"type": "text", "text": piece})
    return blocks


@lru_cache(maxsize=64)
def _registry_tool(name: str, root: str) -> Any:
    from genaisys.tools import get_tool

    extra: dict[str, Any] = {"roots": [root]} if name == "builtin:file_reader" else {}
    return get_tool(name, safety={"idempotent_cache": None}, **extra)


def _resolve_tools(tools: Sequence[str | dict[str, Any]] | None, base_dir: Path | None,
                   tool_resources: Mapping[str, Mapping[str, Any]] | None) -> list[Any] | None:
    if not tools:
        return None
    out = []
    for t in tools:
        if isinstance(t, str):
            if tool_resources and t in tool_resources:
                from genaisys.tools import get_tool

                out.append(get_tool(t, safety={"idempotent_cache": None}, **dict(tool_resources[t])))
            else:
                # the file reader needs a root folder; nothing runs while rendering, any folder will do
                out.append(_registry_tool(t, str((base_dir or Path.cwd()).resolve())))
        else:
            out.append(dict(t))
    return out


def _ai_message(value: str, tool_calls: Sequence[ToolCallSpec] | None, turn_index: int) -> Any:
    from langchain_core.messages import AIMessage

    calls = [{"name": c.name, "args": dict(c.arguments), "id": c.id or f"call_{turn_index}_{k}", "type": "tool_call"}
             for k, c in enumerate(tool_calls or [])]
    return AIMessage(content=value, tool_calls=calls)


def _to_messages(rec: Record, base_dir: Path | None, inline_images: bool) -> list[Any]:
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    base = (base_dir or Path.cwd()).resolve()
    blocks = [_image_block(_abs_image(p, base), inline_images) for p in rec.images]
    marked = any(IMAGE_MARK in t.value for t in rec.conversations if t.role == "human")
    messages: list[Any] = []
    pending: list[str] = []
    first_human = True
    for i, turn in enumerate(rec.conversations):
        if turn.role == "system":
            messages.append(SystemMessage(content=turn.value))
        elif turn.role == "human":
            n = turn.value.count(IMAGE_MARK)
            if marked:
                mine, blocks = blocks[:n], blocks[n:]
            else:
                mine, blocks = (blocks, []) if first_human else ([], blocks)
            first_human = False
            messages.append(HumanMessage(content=_human_content(turn.value, mine)))
        elif turn.role == "gpt":
            msg = _ai_message(turn.value, turn.tool_calls, i)
            pending = [tc["id"] for tc in msg.tool_calls]
            messages.append(msg)
        else:
            call_id = turn.tool_call_id or pending[0]
            if call_id in pending:
                pending.remove(call_id)
            name = turn.name or next((tc["name"] for m in reversed(messages) if getattr(m, "tool_calls", None)
                                      for tc in m.tool_calls if tc["id"] == call_id), None)
            messages.append(ToolMessage(content=turn.value, tool_call_id=call_id, name=name))
    return messages


def to_messages(record: Mapping[str, Any] | Record, base_dir: str | Path | None = None, *,
                inline_images: bool = False,
                tool_resources: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[list[Any], list[Any] | None]:
    """One record → ``(messages, tools)`` for `ChatCore.render_prompt(messages, tools=tools)`.

    For a preference record the messages are the shared prompt; `to_preference` adds both answers.
    A record without a gpt turn (a bare prompt) is accepted here.

    Args:
        record: a record dict (validated here) or a `Record`.
        base_dir: folder that relative image paths (and the file reader's root) resolve against;
            default the current directory (`load_records` already made paths absolute).
        inline_images: base64 image blocks, exactly as the evaluation sends them, instead of
            ``{"type": "image", "url": "/abs/path"}`` blocks (same pixels, same rendered text).
        tool_resources: ``{"builtin:memory_search": {"memory": m}}`` for tools whose factory needs
            resources (the file reader gets ``roots=[base_dir]`` unless given here).

    Returns:
        LangChain messages, and the tools (safe LangChain tools for registry names, OpenAI tool
        dicts as given) or ``None`` when the record names none.

    Example:
        >>> msgs, tools = to_messages({"id": "t", "tools": ["builtin:calculator"], "conversations": [
        ...     {"from": "human", "value": "2+2?"},
        ...     {"from": "gpt", "value": "", "tool_calls": [{"name": "calculator", "arguments": {"expression": "2+2"}}]},
        ...     {"from": "tool", "value": "4"}, {"from": "gpt", "value": "4."}]})
        >>> msgs[1].tool_calls[0]["args"], msgs[2].tool_call_id, msgs[2].name, tools[0].name
        ({'expression': '2+2'}, 'call_1_0', 'calculator', 'calculator')
    """
    rec = validate_record(record, require_answer=False)
    base = Path(base_dir) if base_dir is not None else None
    return _to_messages(rec, base, inline_images), _resolve_tools(rec.tools, base, tool_resources)


def to_preference(record: Mapping[str, Any] | Record, base_dir: str | Path | None = None, *,
                  inline_images: bool = False,
                  tool_resources: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[list[Any], Any, Any, list[Any] | None]:
    """A preference record → ``(prompt_messages, chosen_ai_message, rejected_ai_message, tools)``.

    Raises:
        ConfigError: the record is not a valid preference record.

    Example:
        >>> p, c, r, _ = to_preference({"id": "p", "conversations": [{"from": "human", "value": "Is it red?"}],
        ...                             "chosen": "Yes", "rejected": "No"})
        >>> c.content, r.content
        ('Yes', 'No')
    """
    rec = validate_record(record)
    if not isinstance(rec, PreferenceRecord):
        raise ConfigError(f"record {rec.id!r} is not a preference record: add 'chosen' and 'rejected'")
    base = Path(base_dir) if base_dir is not None else None
    n = len(rec.conversations)
    return (_to_messages(rec, base, inline_images), _ai_message(rec.chosen.value, rec.chosen.tool_calls, n),
            _ai_message(rec.rejected.value, rec.rejected.tool_calls, n), _resolve_tools(rec.tools, base, tool_resources))


# ---------------------------------------------------------------------------------------------- inverse
def _block_image_path(block: Mapping[str, Any], image_dir: Path | None, blobs: BlobReader | None) -> str:
    kind = block.get("type")
    url = None
    if kind == "image_url":
        ref = block.get("image_url")
        url = ref.get("url") if isinstance(ref, Mapping) else ref
    elif isinstance(block.get("url"), str):
        url = block["url"]
    elif isinstance(block.get("path"), str):
        url = block["path"]
    elif block.get("source_type") == "url" and isinstance(block.get("data"), str):
        url = block["data"]
    if isinstance(url, str) and not url.startswith("data:"):
        if url.startswith("file://"):
            return unquote(urlparse(url).path)
        if url.startswith("/"):
            return url
        raise ConfigError(f"cannot store image {url[:80]!r} in a record; use a local path, file:// URL or base64")
    if isinstance(block.get("file_id"), str):
        if blobs is None:
            raise ConfigError(f"an image names blob {block['file_id']!r}; pass blobs= (a store with .path(id))")
        return str(blobs.path(block["file_id"]))
    if isinstance(url, str):  # data: URL
        payload = url.partition(",")[2]
    elif isinstance(block.get("base64"), str):
        payload = block["base64"]
    elif block.get("source_type") == "base64" and isinstance(block.get("data"), str):
        payload = block["data"]
    else:
        raise ConfigError("an image block needs base64, url, path or file_id to be stored in a record")
    if image_dir is None:
        raise ConfigError("the messages carry inline (base64) images; pass image_dir= to write them as files")
    data = base64.b64decode(payload)
    image_dir.mkdir(parents=True, exist_ok=True)
    mime = str(block.get("mime_type") or "image/png")
    suffix = {v: k for k, v in _MIME.items()}.get(mime, ".png")
    target = image_dir / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
    if not target.is_file():
        target.write_bytes(data)
    return str(target)


def _text_of(msg: Any) -> str:
    """A message's text as ChatCore renders it: langchain-core's ``.text`` plus a note for each medium
    an answer carries (``[image attached]``), which ``.text`` leaves out."""
    from langchain_core.messages import AIMessage

    from genaisys.core.media import attachment_note

    content = msg.content
    if isinstance(content, str):
        return content
    parts = []
    for b in content:
        if isinstance(b, str):
            parts.append(b)
        elif isinstance(b, Mapping) and b.get("type") == "text":
            parts.append(str(b.get("text", "")))
        elif isinstance(msg, AIMessage) and attachment_note(dict(b)) is not None:
            parts.append(attachment_note(dict(b)) or "")  # rendered as ChatCore renders an answer's media
    return "".join(parts)


def from_messages(messages: Sequence[Any], tools: Sequence[Any] | None = None, *, id: str,
                  image_dir: str | Path | None = None, blobs: BlobReader | None = None, require_answer: bool = True,
                  **extra: Any) -> dict[str, Any]:
    """LangChain messages → one record (the inverse of `to_messages`), validated.

    Args:
        messages: System/Human/AI/Tool messages.
        tools: registry names and OpenAI tool dicts are kept; LangChain tools are stored as OpenAI dicts.
        id: the record id.
        image_dir: where inline (base64) images are written (by content hash).
        blobs: a blob store (``.path(id)``) for ``file_id`` image blocks.
        require_answer: ``False`` accepts messages without an AI turn (a bare prompt).
        **extra: further record fields (``chosen``, ``rejected``, ``target_caption``, ``meta``).

    Raises:
        ConfigError: a message or block cannot be stored, or the result is not a valid record.

    Example:
        >>> from langchain_core.messages import HumanMessage, AIMessage
        >>> rec = from_messages([HumanMessage([{"type": "image", "url": "/d/1.png"}, {"type": "text", "text": "Q?"}]),
        ...                      AIMessage("A.")], id="x")
        >>> rec["images"], rec["conversations"][0]["value"]
        (['/d/1.png'], '<image>\\nQ?')
    """
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

    img_dir = Path(image_dir) if image_dir is not None else None
    images: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if isinstance(msg, SystemMessage):
            turns.append({"from": "system", "value": _text_of(msg)})
        elif isinstance(msg, HumanMessage):
            if isinstance(msg.content, str):
                turns.append({"from": "human", "value": msg.content})
                continue
            parts: list[str] = []
            for block in msg.content:
                if isinstance(block, str):
                    parts.append(block)
                elif isinstance(block, Mapping) and block.get("type") == "text":
                    parts.append(str(block.get("text", "")))
                elif isinstance(block, Mapping) and block.get("type") in ("image", "image_url"):
                    images.append(_block_image_path(block, img_dir, blobs))
                    parts.append(IMAGE_MARK + "\n")
                else:
                    kind = block.get("type") if isinstance(block, Mapping) else type(block).__name__
                    raise ConfigError(f"message {i}: content block {kind!r} cannot be stored in a record "
                                      "(text and image blocks only; textualize other media first)")
            turns.append({"from": "human", "value": "".join(parts)})
        elif isinstance(msg, AIMessage):
            turn: dict[str, Any] = {"from": "gpt", "value": _text_of(msg)}
            if msg.tool_calls:
                turn["tool_calls"] = [{"name": tc["name"], "arguments": dict(tc.get("args") or {}), "id": tc.get("id")}
                                      for tc in msg.tool_calls]
                for tc in turn["tool_calls"]:
                    if tc["id"] is None:
                        tc.pop("id")
            turns.append(turn)
        elif isinstance(msg, ToolMessage):
            turn = {"from": "tool", "value": _text_of(msg), "tool_call_id": msg.tool_call_id}
            if msg.name:
                turn["name"] = msg.name
            turns.append(turn)
        else:
            raise ConfigError(f"message {i}: {type(msg).__name__} has no place in a record "
                              "(system, human, AI and tool messages only)")
    rec: dict[str, Any] = {"id": id}
    if images:
        rec["images"] = images
    if tools:
        rec["tools"] = [_tool_entry(t) for t in tools]
    rec["conversations"] = turns
    rec.update(extra)
    return _dump(validate_record(rec, where="from_messages", require_answer=require_answer))


def _tool_entry(tool: Any) -> str | dict[str, Any]:
    if isinstance(tool, str):
        return tool
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        return dict(tool)
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(tool)
