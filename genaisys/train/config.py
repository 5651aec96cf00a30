"""`TrainConfig`: one YAML file says what to train, on what, and how (``genaisys train … --config``).

A config names the stage, the core to start from, the data, the loop settings (`LoopConfig`),
optional LoRA adapters and stage-specific options::

    stage: sft
    core: nano                      # a genaisys.core.loading spec, or a folder
    data: [runs/data/sft.jsonl]     # paths relative to the working directory
    eval_data: [runs/data/sft-eval.jsonl]
    loop:
      output_dir: runs/sft
      max_steps: 300
      batch_size: 8
      lr: 2.0e-4
    lora: {r: 8, alpha: 16, dropout: 0.05, target_modules: [q_proj, v_proj]}
    stage_options: {train: [connector, lora]}
    resume: true                    # or false, or a checkpoint folder

`load_config` reads the file, applies dotted overrides (``{"loop.lr": 1e-4}``) and validates.
Errors are `ConfigError` naming the key, its line in the file, or the override it came from.
Example configs for the four stages ship in ``genaisys/train/configs/`` (`example_config`).

Example:
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "t.yaml"
    >>> _ = f.write_text("stage: align\\ndata: [d.jsonl]\\nloop: {max_steps: 10}\\n")
    >>> cfg = load_config(f, {"loop.lr": 1e-3})
    >>> cfg.loop.lr, str(cfg.loop.output_dir)
    (0.001, 'runs/align')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from genaisys.errors import ConfigError
from genaisys.train.loop import LoopConfig

__all__ = ["STAGES", "LoraSettings", "TrainConfig", "example_config", "load_config", "parse_overrides"]

STAGES = ("align", "sft", "dpo", "decoder")
CONFIGS_DIR = Path(__file__).parent / "configs"


class LoraSettings(BaseModel):
    """LoRA adapters on the core's language model (`MultimodalCore.add_lora`).

    Example:
        >>> LoraSettings(r=16).alpha
        16
    """

    model_config = ConfigDict(extra="forbid")

    r: int = Field(8, ge=1, description="Rank.")
    alpha: int = Field(16, ge=1, description="Scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] | str | None = Field(
        None, description="Module names, or one regex; default: the attention projections.")


class TrainConfig(BaseModel):
    """Everything one ``genaisys train <stage>`` run needs.

    ``loop.output_dir`` defaults to ``runs/<stage>``.

    Example:
        >>> cfg = TrainConfig(stage="dpo", data=["pairs.jsonl"], stage_options={"beta": 0.1})
        >>> cfg.core, str(cfg.loop.output_dir)
        ('nano', 'runs/dpo')
    """

    model_config = ConfigDict(extra="forbid")

    stage: Literal["align", "sft", "dpo", "decoder"]
    core: str = Field("nano", min_length=1,
                      description="A genaisys.core.loading spec ('nano', 'asset:smollm2') or a saved core's folder.")
    data: list[Path] = Field(min_length=1, description="Training data files (JSON/JSONL records, see train.data).")
    eval_data: list[Path] | None = None
    loop: LoopConfig
    lora: LoraSettings | None = None
    stage_options: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the stage.")
    resume: bool | Path = Field(True, description="True: continue from the newest checkpoint in loop.output_dir "
                                "(if any); a path: from that checkpoint; False: start fresh.")

    @model_validator(mode="before")
    @classmethod
    def _default_output_dir(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            loop = data.get("loop")
            if loop is None or isinstance(loop, Mapping):
                loop = dict(loop or {})
                if "output_dir" not in loop and isinstance(data.get("stage"), str):
                    loop["output_dir"] = f"runs/{data['stage']}"
                data = {**data, "loop": loop}
        return data

    def to_yaml(self) -> str:
        """The config as YAML (what `load_config` reads back), e.g. to store beside a run's outputs."""
        import yaml

        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


def example_config(stage: str) -> Path:
    """The shipped example YAML for ``stage`` (``align``, ``sft``, ``dpo`` or ``decoder``).

    Example:
        >>> example_config("sft").name
        'sft.yaml'
    """
    if stage not in STAGES:
        from genaisys.errors import UnknownNameError

        raise UnknownNameError("training stage", stage, STAGES)
    return CONFIGS_DIR / f"{stage}.yaml"


# --------------------------------------------------------------------------- overrides


def _parse_value(text: str) -> Any:
    """``--set`` values: JSON first (so ``1e-4`` is a number), then YAML (``[a, b]``, ``null``), else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return text if isinstance(value, str) else value


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``["loop.lr=1e-4", "data=[a.jsonl]"]`` → ``{"loop.lr": 0.0001, "data": ["a.jsonl"]}``.

    Example:
        >>> parse_overrides(["loop.lr=1e-4", "stage_options.train=[connector]", "core=runs/x"])
        {'loop.lr': 0.0001, 'stage_options.train': ['connector'], 'core': 'runs/x'}
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set takes key=value (e.g. loop.lr=1e-4), got {pair!r}")
        out[key] = _parse_value(value.strip())
    return out


_NESTED = ("loop", "lora", "stage_options")


def _known_keys(model: type[BaseModel]) -> list[str]:
    return sorted(model.model_fields)


def _apply_override(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for ``key = "a.b.c"``, checking names against the schema."""
    parts = key.split(".")
    if any(not p for p in parts):
        raise ConfigError(f"override key {key!r} has an empty part; write it like loop.lr")
    schema: type[BaseModel] | None = TrainConfig
    node = raw
    for depth, part in enumerate(parts):
        if schema is not None and part not in schema.model_fields:
            where = ".".join(parts[:depth]) or "the top level"
            raise ConfigError(f"override {key!r}: no key {part!r} in {where}; known: {', '.join(_known_keys(schema))}")
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = node.get(part)
        if schema is TrainConfig and part not in _NESTED:
            raise ConfigError(f"override {key!r}: {part} is a single value, not a mapping, so it has no sub-keys; "
                              f"write {part}=VALUE")
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"override {key!r}: {'.'.join(parts[:depth + 1])} is {type(child).__name__}, "
                              "not a mapping, so it has no sub-keys")
        node = child
        schema = {"loop": LoopConfig, "lora": LoraSettings}.get(part) if schema is TrainConfig else None


# --------------------------------------------------------------------------- reading YAML with line numbers


def _line_map(node: Any, prefix: tuple[Any, ...], lines: dict[tuple[Any, ...], int], path: Path) -> None:
    """Map every key path of a composed YAML node to its 1-based line; refuse duplicate keys."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"{path}:{line}: key {'.'.join(map(str, prefix + (key,)))!r} appears twice "
                                  f"(first on line {seen[key]}); keep one")
            seen[key] = line
            lines[prefix + (key,)] = line
            _line_map(value_node, prefix + (key,), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[prefix + (i,)] = item.start_mark.line + 1
            _line_map(item, prefix + (i,), lines, path)


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[Any, ...], int]]:
    import yaml

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; the examples are in {CONFIGS_DIR}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML ({problem})") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a training config is a mapping (stage:, data:, loop: …), got {type(raw).__name__}")
    lines: dict[tuple[Any, ...], int] = {}
    _line_map(node, (), lines, path)
    return raw, lines


def _format_errors(exc: ValidationError, path: Path | None, lines: Mapping[tuple[Any, ...], int],
                   overridden: Mapping[str, Any]) -> str:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "(config)"
        # the longest prefix of the location that the file or an override defines
        source = ""
        for n in range(len(loc), 0, -1):
            key = ".".join(str(p) for p in loc[:n])
            if key in overridden:
                source = f" (from override {key}={overridden[key]!r})"
                break
            if loc[:n] in lines and path is not None:
                source = f" ({path}:{lines[loc[:n]]})"
                break
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            parent = loc[:-1]
            schema = {(): TrainConfig, ("loop",): LoopConfig, ("lora",): LoraSettings}.get(parent)
            known = f"; known: {', '.join(_known_keys(schema))}" if schema else ""
            msg = f"unknown key{known}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        out.append(f"{dotted}: {msg}{source}")
    return "; ".join(out)


def load_config(path: str | Path | None, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a YAML training config, apply dotted overrides, validate.

    Args:
        path: the YAML file, or None to build the config from ``overrides`` alone.
        overrides: ``{"loop.lr": 1e-4, "data": ["a.jsonl"]}``; a key names a field at any depth
            (``stage_options.beta``). Values are used as given (`parse_overrides` turns ``--set``
            strings into values).

    Raises:
        ConfigError: unreadable or invalid YAML, a duplicate key, an unknown key or a bad value —
            naming the key and its line (or the override it came from).

    Example:
        >>> cfg = load_config(None, {"stage": "sft", "data": ["s.jsonl"], "lora.r": 4})
        >>> cfg.lora.r, cfg.lora.alpha
        (4, 16)
    """
    file = Path(path) if path is not None else None
    raw, lines = _read_yaml(file) if file is not None else ({}, {})
    overrides = dict(overrides or {})
    for key, value in overrides.items():
        _apply_override(raw, key, value)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as exc:
        where = f"{file}" if file is not None else "training config"
        raise ConfigError(f"{where} is invalid: {_format_errors(exc, file, lines, overrides)}") from exc
