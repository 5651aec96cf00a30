"""The unit a recorded conversation is planned in: a user `Turn` with the oracle's policy for it,
and a `ThreadPlan` (a graph configuration and its turns).

Example:
    >>> from genaisys.train.engine.programs.oracle import plan
    >>> Turn("talk", "Hello!", plan("Hi there.")).kind
    'talk'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from genaisys.train.engine.programs.oracle import Policy

__all__ = ["ThreadPlan", "Turn"]


@dataclass
class Turn:
    """One user turn: its kind, its content (text or content blocks), the oracle's policy, an
    optional set-up step run before it, the tool it needs and facts later turns may refer to."""

    kind: str
    content: Any
    policy: Policy
    before: Callable[[], None] | None = None
    needs: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    ask: Any = None  # the intents.Ask behind a tool request (its policy depends on the tool set)


@dataclass
class ThreadPlan:
    """A thread: the tools bound, whether a memory is attached, and its turns."""

    tools: list[str]
    memory: bool
    turns: list[Turn]
