"""The contract between a training stage and the one training loop (`genaisys.train.loop`).

A *stage* (align, sft, dpo, decoder — `genaisys.train.stages`) knows what trains, how raw
records become batches and what the loss is. The loop knows nothing of cores: it runs any
`Stage` on any ``nn.Module`` with Accelerate (devices, gradient accumulation, mixed precision),
checkpoints, resumes and logs.

Example:
    >>> import torch
    >>> from torch import nn
    >>> class Regress:  # a toy stage: fit y = 2x
    ...     name = "toy"
    ...     def setup(self, model): return [p for p in model.parameters()]
    ...     def collate(self, rows): return {"x": torch.tensor(rows).float().unsqueeze(1)}
    ...     def loss(self, model, batch):
    ...         err = model(batch["x"]) - 2 * batch["x"]
    ...         return (err ** 2).mean(), {}
    >>> isinstance(Regress(), Stage)
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["Stage"]


@runtime_checkable
class Stage(Protocol):
    """What the loop needs from a stage.

    Attributes:
        name: ``"align"``, ``"sft"``, ``"dpo"``, ``"decoder"`` or a user's own.
    """

    name: str

    def setup(self, model: Any) -> list[Any]:
        """Freeze and unfreeze ``model``'s parts for this stage; return the parameters to optimise."""
        ...

    def collate(self, rows: Sequence[Any]) -> Mapping[str, Any]:
        """Raw dataset rows → one batch (tensors, on CPU; the loop moves them to the device)."""
        ...

    def loss(self, model: Any, batch: Mapping[str, Any]) -> tuple[Any, dict[str, float]]:
        """``(scalar loss tensor, extra metrics to log)`` for one batch."""
        ...
