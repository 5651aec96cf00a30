"""The task registry: ``name`` → lazy import path of a task class (the allow-list for `get_task`).

Built-in tasks, one file each:

- ``easy-vqa``            closed-ended VQA on easy-VQA shapes, normalised exact match
- ``pope`` (+ ``pope-random`` / ``pope-popular`` / ``pope-adversarial``)  POPE hallucination probes
- ``mc-circular``         multiple choice scored with MMBench's CircularEval
- ``tool-routing``        right tool, valid arguments, no tool when none is needed
- ``rag-qa``              retrieval-grounded QA over pydoc topics: answer accuracy + citation precision
- ``judge``               open-ended answers scored by any chat model as judge
- ``heldout-tools`` / ``-rag`` / ``-followups`` / ``-shapes`` / ``-photos`` / ``-text``  the held-out
  suites (`genaisys.eval.heldout`): data written apart from every training generator, run on the
  real graphs; ``genaisys eval heldout`` runs them all

Add your own with `register_task` (a class, a factory, or a ``"module:attr"`` string); see
`genaisys.eval.task` for the one-file recipe.

Example:
    >>> from genaisys.eval.tasks import get_task, list_tasks
    >>> "easy-vqa" in list_tasks()
    True
    >>> get_task("pope", setting="adversarial").setting
    'adversarial'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genaisys._registry import Registry
from genaisys.errors import ConfigError

__all__ = ["get_task", "list_tasks", "register_task", "unregister_task"]

_BUILTIN: dict[str, tuple[str, dict[str, Any]]] = {
    "easy-vqa": ("genaisys.eval.tasks.easy_vqa:EasyVQATask", {}),
    "pope": ("genaisys.eval.tasks.pope:PopeTask", {}),
    "pope-random": ("genaisys.eval.tasks.pope:PopeTask", {"setting": "random"}),
    "pope-popular": ("genaisys.eval.tasks.pope:PopeTask", {"setting": "popular"}),
    "pope-adversarial": ("genaisys.eval.tasks.pope:PopeTask", {"setting": "adversarial"}),
    "mc-circular": ("genaisys.eval.tasks.mc_circular:CircularMCTask", {}),
    "tool-routing": ("genaisys.eval.tasks.tool_routing:ToolRoutingTask", {}),
    "rag-qa": ("genaisys.eval.tasks.rag_qa:RagQATask", {}),
    "judge": ("genaisys.eval.tasks.judge:JudgeTask", {}),
    "heldout-tools": ("genaisys.eval.heldout.tools:HeldoutToolsTask", {}),
    "heldout-rag": ("genaisys.eval.heldout.rag:HeldoutRagTask", {}),
    "heldout-followups": ("genaisys.eval.heldout.followups:HeldoutFollowupsTask", {}),
    "heldout-shapes": ("genaisys.eval.heldout.shapes:HeldoutShapesTask", {}),
    "heldout-photos": ("genaisys.eval.heldout.photos:HeldoutPhotosTask", {}),
    "heldout-text": ("genaisys.eval.heldout.text:HeldoutTextTask", {}),
}
_REGISTRY = Registry("task", _BUILTIN, settings=True)


def register_task(name: str, factory: str | Callable[..., Any], *, replace: bool = False, **defaults: Any) -> None:
    """Register a task class/factory (or ``"module:attr"``) under ``name``; ``defaults`` preset options.

    Raises:
        ConfigError: the name is taken (without ``replace``) or empty.
    """
    _REGISTRY.register(name, factory, replace=replace, settings=defaults)


def unregister_task(name: str) -> None:
    """Remove a registered task (built-ins included)."""
    _REGISTRY.unregister(name)


def list_tasks() -> list[str]:
    """Names `get_task` accepts, sorted."""
    return _REGISTRY.names()


def get_task(name: str, **options: Any) -> Any:
    """A task instance by name; ``options`` go to its constructor (over the registered defaults).

    Raises:
        UnknownNameError: the name is not registered (the message lists the known ones).
        ConfigError: an option the task does not take.
    """
    factory, defaults = _REGISTRY.resolve(name)
    try:
        return factory(**{**defaults, **options})
    except TypeError as exc:
        raise ConfigError(f"task {name!r} cannot take options {sorted(options)}: {exc}") from exc
