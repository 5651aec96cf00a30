"""The four training stages (docs/architecture.md, "Training and evaluation"), each a `genaisys.train.stage.Stage`.

- ``conversation.py`` `ConversationStage` — ``align`` (connector only) and ``sft`` (connector + LoRA)
- ``dpo.py`` `DPOStage` — preference alignment against a frozen reference
- ``decoder.py`` `DecoderAlignmentStage` — the output projector learns a decoder's conditioning
"""

from __future__ import annotations

from genaisys._lazy import lazy_exports

_LAZY = {
    "ConversationStage": "genaisys.train.stages.conversation",
    "DPOStage": "genaisys.train.stages.dpo",
    "DecoderAlignmentStage": "genaisys.train.stages.decoder",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
