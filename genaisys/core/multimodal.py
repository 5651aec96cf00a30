"""MultimodalCore: vision tower → connector → causal LM, with LLaVA-style splicing.

The core adds one placeholder token (``<image>``) to the tokenizer. A prompt holds one
placeholder per image, anywhere and as many as wanted (interleaved with text); the core expands
each to ``n_image_tokens`` positions, fills those positions of ``inputs_embeds`` with the
projected image features, and sets their labels to -100 so the loss never scores them
(docs/architecture.md, "References", LLaVA). Prompts whose placeholders are already expanded (``n_image_tokens``
in a row per image) are accepted too. Images are matched to placeholders in reading order,
row by row through the batch.

``save_pretrained`` writes only what cannot be rebuilt from the base models it names: the
connector, the embedding rows the core added, and any part that was built from a bare config
or unfrozen. ``from_pretrained`` rebuilds the base models from their ids/paths and loads those
parts on top.

Example:
    >>> import torch
    >>> from genaisys.core.multimodal import MultimodalCore, MultimodalCoreConfig
    >>> core = MultimodalCore(MultimodalCoreConfig(language_model="asset:smollm2"))  # doctest: +SKIP
    >>> ids = core.tokenizer("<image>What is this?", return_tensors="pt")["input_ids"]  # doctest: +SKIP
    >>> out = core(input_ids=ids, pixel_values=torch.zeros(1, 3, 224, 224))  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from genaisys.core.connectors import build_connector
from genaisys.core.cross_attention import (
    CrossAttentionContext,
    GatedCrossAttentionBlock,
    attach_cross_attention,
    decoder_layers,
)
from genaisys.core.encoders import VisionEncoderConfig, build_vision_encoder
from genaisys.core.output_projector import OutputProjector, OutputProjectorConfig
from genaisys.errors import ConfigError, CoreError, ImageTokenMismatchError
from genaisys.types import ContextOrder

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "LabelScores", "MultimodalCore", "MultimodalCoreConfig", "resolve_model_ref",
           "signal_token_names"]

CONFIG_NAME = "genaisys_core.json"
WEIGHTS_NAME = "trained.safetensors"
_FORMAT = "genaisys-multimodal-core"
IGNORE_INDEX = -100
_MIN_SHARED_PREFIX = 8  # shorter shared prefixes are not worth a second decoder call


class MultimodalCoreConfig(BaseModel):
    """What a `MultimodalCore` is made of (mirrors ``LlavaConfig(vision_config, text_config)``).

    Attributes:
        vision: the vision tower (`VisionEncoderConfig`).
        connector: connector registry name (``linear``, ``mlp2x_gelu``, ``resampler32`` …).
        language_model: id or local folder of a causal LM, or ``"asset:smollm2"`` (packaged).
        language_model_config: a config dict (with ``model_type``) to build a random LM instead.
        tokenizer: id or folder of the tokenizer (default: ``language_model``).
        image_token: the placeholder string added to the tokenizer.
        n_image_tokens: image tokens per image after pooling (``None``: the encoder's own count).
        freeze_vision: keep the vision tower frozen (and in eval mode).
        freeze_language_model: keep the language model frozen.
        cross_attention_every: Flamingo mode: instead of splicing image tokens into the sequence,
            a tanh-gated cross-attention block (gates start at 0) after every k-th decoder layer
            lets the text attend to the images; each ``<image>`` stays one token. ``None``: splice.
        cross_attention_heads: attention heads of those blocks.
        signal_tokens: NExT-GPT signal tokens per output modality, e.g. ``{"image": 4}`` adds
            ``[IMG0]…[IMG3]``; their hidden states feed ``output_projectors[modality]``.
        output_projectors: per modality, the projector into a decoder's conditioning space.
        native_domain: what images the encoder path was trained to read: ``None`` (any image) or
            ``"shapes"`` (synthetic flat-coloured shapes: graphs then send photos and documents
            to a textualizer instead, see `genaisys.core.perception`).
        context_sentences: how much recalled context the core was trained to read: graphs keep
            this many of the retrieved chunks' sentences, those closest to the question
            (`genaisys.memory.focus`); ``None``: whole chunks.
        context_min_score: with ``context_sentences``, the relevance floor the core was trained
            with: sentences scoring below it are not shown, so a turn nothing in memory bears on
            gets no context (`genaisys.memory.focus.focus_hits`'s ``min_score``).
        context_order: with ``context_sentences``, how the kept sentences were laid out in training:
            ``"document"`` (grouped by chunk) or ``"best"`` (one entry each, best first).
    """

    model_config = ConfigDict(extra="forbid")

    vision: VisionEncoderConfig = Field(default_factory=VisionEncoderConfig)
    connector: str = "mlp2x_gelu"
    language_model: str | None = None
    language_model_config: dict[str, Any] | None = None
    tokenizer: str | None = None
    image_token: str = "<image>"
    n_image_tokens: int | None = None
    freeze_vision: bool = True
    freeze_language_model: bool = True
    cross_attention_every: int | None = Field(default=None, ge=1)
    cross_attention_heads: int = 4
    signal_tokens: dict[str, int] = Field(default_factory=dict)
    output_projectors: dict[str, OutputProjectorConfig] = Field(default_factory=dict)
    native_domain: Literal["shapes"] | None = None
    context_sentences: int | None = Field(default=None, ge=1)
    context_min_score: float | None = None
    context_order: ContextOrder = "document"

    @model_validator(mode="after")
    def _signals_have_projectors(self) -> MultimodalCoreConfig:
        if set(self.signal_tokens) != set(self.output_projectors):
            raise ValueError(f"signal_tokens {sorted(self.signal_tokens)} and output_projectors "
                             f"{sorted(self.output_projectors)} must name the same modalities")
        if any(k < 1 for k in self.signal_tokens.values()):
            raise ValueError("each modality needs at least one signal token")
        return self


def signal_token_names(modality: str, count: int) -> list[str]:
    """``("image", 2)`` → ``["[IMG0]", "[IMG1]"]`` (NExT-GPT naming: IMG, VID, AUD, else the first letters)."""
    tag = {"image": "IMG", "video": "VID", "audio": "AUD"}.get(modality, modality[:3].upper())
    return [f"[{tag}{i}]" for i in range(count)]


def resolve_model_ref(ref: str) -> str:
    """``"asset:smollm2"`` → the converted packaged folder; any other id or path unchanged."""
    if ref.startswith("asset:"):
        name = ref.split(":", 1)[1]
        if name != "smollm2":
            raise ConfigError(f"unknown packaged language model {ref!r}; known: asset:smollm2")
        from genaisys import assets

        return str(assets.smollm2_safetensors())
    return ref


def _build_language_model(config: MultimodalCoreConfig) -> nn.Module:
    from transformers import AutoConfig, AutoModelForCausalLM

    if config.language_model_config is not None:
        cfg = dict(config.language_model_config)
        model_type = cfg.pop("model_type", None)
        if model_type is None:
            raise ConfigError("language_model_config needs a 'model_type' (e.g. 'llama')")
        return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **cfg))
    if config.language_model is None:
        raise ConfigError("MultimodalCoreConfig needs `language_model` (id, folder or 'asset:smollm2') "
                          "or `language_model_config` (a dict with model_type)")
    return AutoModelForCausalLM.from_pretrained(resolve_model_ref(config.language_model))


def _build_tokenizer(config: MultimodalCoreConfig) -> Any:
    from transformers import AutoTokenizer

    ref = config.tokenizer or config.language_model
    if ref is None:
        raise ConfigError("no tokenizer: set `tokenizer` in the config or pass tokenizer=... to MultimodalCore")
    return AutoTokenizer.from_pretrained(resolve_model_ref(ref))


@dataclass
class LabelScores:
    """What `MultimodalCore.forward(..., score_labels=True)` returns.

    Attributes:
        loss: mean negative log-likelihood over all labelled tokens of the batch (scalar).
        logps: ``(B,)`` summed log-probability of each row's labelled tokens.
        n_tokens: ``(B,)`` labelled tokens per row.
        hidden: ``(B, L', d)`` last-layer hidden states of the spliced sequence.
        signals: with ``signal_modality``, the projected signal tokens ``(B_s, out_tokens, out_dim)``
            of the ``B_s`` rows that hold them (``None`` when none does).
        signal_rows: with ``signal_modality``, ``(B,)`` which rows hold the signal tokens.
    """

    loss: torch.Tensor
    logps: torch.Tensor
    n_tokens: torch.Tensor
    hidden: torch.Tensor | None = None
    signals: torch.Tensor | None = None
    signal_rows: torch.Tensor | None = None


class MultimodalCore(nn.Module):
    """Vision tower → connector → causal LM (LLaVA-style), trainable end to end.

    Args:
        config: what to build.
        vision_tower / language_model / tokenizer: ready-made parts to use instead of building
            them from ``config`` (tests, or reusing loaded models).

    Attributes:
        vision_tower, connector, language_model, tokenizer: the parts (transformers' LLaVA names).
        image_token_id: id of ``config.image_token``.
        n_image_tokens: positions each image fills in the LM sequence.
    """

    def __init__(self, config: MultimodalCoreConfig, *, vision_tower: nn.Module | None = None,
                 language_model: nn.Module | None = None, tokenizer: Any = None) -> None:
        super().__init__()
        self.config = config
        self.vision_tower = vision_tower if vision_tower is not None else build_vision_encoder(config.vision)
        self.language_model = language_model if language_model is not None else _build_language_model(config)
        self.tokenizer = tokenizer if tokenizer is not None else _build_tokenizer(config)
        d_lm = self.language_model.get_input_embeddings().weight.shape[1]
        self.connector = build_connector(config.connector, self.vision_tower.hidden_size, d_lm,
                                         n_tokens=config.n_image_tokens)
        self.n_image_tokens = self.connector.output_tokens(self.vision_tower.n_tokens)
        self.image_token_id, self.n_base_rows = self._add_image_token()
        self.signal_token_ids: dict[str, list[int]] = {
            m: [int(self.tokenizer.convert_tokens_to_ids(t)) for t in signal_token_names(m, k)]
            for m, k in config.signal_tokens.items()}
        self.output_projectors = nn.ModuleDict(
            {m: OutputProjector(d_lm, cfg) for m, cfg in config.output_projectors.items()})
        self.cross_attention: nn.ModuleList | None = None
        self._xattn = CrossAttentionContext()
        if config.cross_attention_every is not None:
            n_blocks = len(decoder_layers(self.language_model)) // config.cross_attention_every
            if n_blocks == 0:
                raise ConfigError(f"cross_attention_every={config.cross_attention_every} exceeds the LM's "
                                  f"{len(decoder_layers(self.language_model))} layers")
            self.cross_attention = nn.ModuleList(
                GatedCrossAttentionBlock(d_lm, n_heads=config.cross_attention_heads) for _ in range(n_blocks))
            self._xattn_hooks = attach_cross_attention(self.language_model, self.cross_attention, self._xattn,
                                                       config.cross_attention_every)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.vision_tower.requires_grad_(not config.freeze_vision)
        if isinstance(getattr(self.vision_tower, "mining", None), nn.Module):
            self.vision_tower.mining.requires_grad_(True)  # dual towers: the fusion layers always train
        self.language_model.requires_grad_(not config.freeze_language_model)
        self.train(False)

    # ------------------------------------------------------------------ setup
    def _add_image_token(self) -> tuple[int, int]:
        """Add the placeholder (and the signal tokens) to the tokenizer and, if needed, rows to the embeddings."""
        names = [self.config.image_token] + [t for m, k in self.config.signal_tokens.items()
                                             for t in signal_token_names(m, k)]
        n_rows = self._add_tokens(names)
        return int(self.tokenizer.convert_tokens_to_ids(self.config.image_token)), n_rows

    def _add_tokens(self, names: list[str]) -> int:
        """Add special tokens missing from the tokenizer; new embedding rows start at the mean of the
        existing ones. Returns the row count before any was added."""
        from tokenizers import AddedToken

        tok = self.tokenizer
        for name in names:
            if tok.convert_tokens_to_ids(name) in (None, tok.unk_token_id):
                tok.add_tokens([AddedToken(name, special=True, normalized=False)])
        top = max(int(tok.convert_tokens_to_ids(n)) for n in names)
        emb = self.language_model.get_input_embeddings()
        n_rows = emb.weight.shape[0]
        if top >= n_rows:
            self.language_model.resize_token_embeddings(top + 1, mean_resizing=False)
            with torch.no_grad():  # deterministic init: the mean of the existing rows
                weight = self.language_model.get_input_embeddings().weight
                weight[n_rows:] = weight[:n_rows].mean(0, keepdim=True)
                out = self.language_model.get_output_embeddings()
                if out is not None and out.weight.data_ptr() != weight.data_ptr():
                    out.weight[n_rows:] = out.weight[:n_rows].mean(0, keepdim=True)
        return n_rows

    def add_signal_tokens(self, modality: str, count: int, projector: OutputProjectorConfig) -> MultimodalCore:
        """Give a (trained) core NExT-GPT signal tokens for ``modality`` and a fresh output projector.

        The tokens (``[IMG0]…`` for images) join the tokenizer with embedding rows at the mean of
        the existing ones; the config records them, so `save_pretrained` / `from_pretrained`
        rebuild the same core. Train the projector (and LoRA, to learn when to emit them) with
        the ``decoder`` stage.

        Raises:
            CoreError: the core already has signal tokens for ``modality``.

        Example:
            >>> core.add_signal_tokens("image", 4, OutputProjectorConfig(out_tokens=1, out_dim=384))  # doctest: +SKIP
        """
        if modality in self.config.signal_tokens:
            raise CoreError(f"the core already has {modality} signal tokens")
        if count < 1:
            raise ConfigError("a modality needs at least one signal token")
        self._add_tokens(signal_token_names(modality, count))
        self.config = self.config.model_copy(update={
            "signal_tokens": {**self.config.signal_tokens, modality: count},
            "output_projectors": {**self.config.output_projectors, modality: projector}})
        self.signal_token_ids[modality] = [int(self.tokenizer.convert_tokens_to_ids(t))
                                           for t in signal_token_names(modality, count)]
        d_lm = self.language_model.get_input_embeddings().weight.shape[1]
        dtype = next(self.connector.parameters()).dtype
        proj = OutputProjector(d_lm, projector)
        with torch.no_grad():  # start near zero: the L2 term begins at |target|², not swamping the trained LM's loss
            proj.out_proj.weight.mul_(0.01)
            proj.out_proj.bias.zero_()
        self.output_projectors[modality] = proj.to(self.device, dtype)
        return self

    def train(self, mode: bool = True) -> MultimodalCore:
        """Like ``nn.Module.train``, but a frozen vision tower stays in eval mode (BatchNorm statistics)."""
        super().train(mode)
        if self.config.freeze_vision:
            self.vision_tower.eval()
        return self

    @property
    def image_token(self) -> str:
        """The image placeholder string (``config.image_token``)."""
        return self.config.image_token

    @property
    def device(self) -> torch.device:
        return self.language_model.get_input_embeddings().weight.device

    # ------------------------------------------------------------------ images
    def preprocess_images(self, images: list[Any]) -> torch.Tensor:
        """PIL images → pixel values for `forward` / `generate`: ``(N, 3, H, W)``."""
        return self.vision_tower.preprocess(images)

    def encode_vision(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Pixel values ``(N, 3, H, W)`` → vision-tower features ``(N, n_vis, d_vis)``.

        With a frozen tower these can be computed once and cached (pre-alignment; docs/training.md),
        then passed as ``vision_features=`` to `forward` / `prepare_inputs`.
        """
        # Frozen towers build no graph (their parameters need no grad); trainable parts (dual-tower
        # fusion, an unfrozen tower) do.
        vision_trains = any(p.requires_grad for p in self.vision_tower.parameters())
        with torch.set_grad_enabled(torch.is_grad_enabled() and vision_trains):
            return self.vision_tower(pixel_values.to(self.device))  # (N, n_vis, d_vis)

    def project_vision(self, vision_features: torch.Tensor) -> torch.Tensor:
        """Vision features ``(N, n_vis, d_vis)`` → LM-space image tokens ``(N, n_image_tokens, d_lm)``."""
        feats = vision_features.to(self.device)
        emb_dtype = self.language_model.get_input_embeddings().weight.dtype
        return self.connector(feats.to(next(self.connector.parameters(), feats).dtype)).to(emb_dtype)

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Pixel values ``(N, 3, H, W)`` → LM-space image tokens ``(N, n_image_tokens, d_lm)``."""
        return self.project_vision(self.encode_vision(pixel_values))

    # ------------------------------------------------------------------ splicing
    def prepare_inputs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                       pixel_values: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                       *, image_features: torch.Tensor | None = None, vision_features: torch.Tensor | None = None,
                       padding_side: str | None = None) -> dict[str, torch.Tensor]:
        """Splice image features into the text embeddings.

        Args:
            input_ids: ``(B, L)`` with one ``<image>`` per image (or ``n_image_tokens`` in a row).
            attention_mask: ``(B, L)``; default all ones.
            pixel_values: ``(N, 3, H, W)``, N = placeholders in the batch, in reading order.
            labels: ``(B, L)`` LM labels; image positions become -100.
            image_features: precomputed ``(N, n_image_tokens, d_lm)`` instead of ``pixel_values``.
            vision_features: cached vision-tower output ``(N, n_vis, d_vis)`` (see `encode_vision`);
                the connector runs on it, so it trains.
            padding_side: where to pad rows that grew unequally; default: left if the input
                mask is left-padded, else right.

        Returns:
            ``inputs_embeds`` ``(B, L', d)``, ``attention_mask`` ``(B, L')``, ``position_ids``
            ``(B, L')`` and, when given, ``labels`` ``(B, L')``.

        Raises:
            ImageTokenMismatchError: placeholders and images disagree in number.
        """
        device = self.device
        input_ids = input_ids.to(device)
        B, L = input_ids.shape
        mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask.to(device)
        is_img = input_ids == self.image_token_id  # (B, L)
        n_ph = int(is_img.sum())
        if image_features is None and vision_features is not None:
            image_features = self.project_vision(vision_features)  # (N, T, d)
        if image_features is None and pixel_values is not None:
            image_features = self.encode_images(pixel_values)  # (N, T, d)
        n_img = 0 if image_features is None else image_features.shape[0]
        T = self.n_image_tokens
        embed = self.language_model.get_input_embeddings()
        self._xattn.set(None, None)
        if self.cross_attention is not None and (n_ph or n_img):
            # The placeholder keeps its own (trainable) embedding row as a marker in the sequence.
            return self._cross_attention_inputs(embed(input_ids), mask, labels, is_img, image_features)
        text = embed(input_ids.masked_fill(is_img, 0))  # (B, L, d)
        if n_ph == 0 and n_img == 0:
            return self._finish(text, mask, labels)
        if image_features is not None and image_features.shape[1] != T:
            raise ImageTokenMismatchError(f"image features have {image_features.shape[1]} tokens per image, "
                                          f"the core expects {T}; compute them with core.encode_images")
        if n_img > 0 and n_ph == n_img * T and T > 1:  # already expanded
            assert image_features is not None
            embeds = text.masked_scatter(is_img.unsqueeze(-1), image_features.reshape(-1, text.shape[-1]))
            if labels is not None:
                labels = labels.to(device).masked_fill(is_img, IGNORE_INDEX)
            return self._finish(embeds, mask, labels)
        if n_ph != n_img:
            raise ImageTokenMismatchError(
                f"the prompt has {n_ph} {self.config.image_token!r} placeholder(s) but {n_img} image(s) were given; "
                f"put exactly one {self.config.image_token!r} in the text per image (or {T} in a row per image), "
                "or pass as many images as there are placeholders")
        assert image_features is not None
        if padding_side is None:
            padding_side = "left" if bool((mask[:, 0] == 0).any()) else "right"
        rows_e, rows_m, rows_l = [], [], []
        k = 0
        for b in range(B):
            pos = torch.nonzero(is_img[b]).flatten().tolist()
            seg_e, seg_m, seg_l, start = [], [], [], 0
            for p in pos:
                seg_e += [text[b, start:p], image_features[k]]  # (p-start, d), (T, d)
                seg_m += [mask[b, start:p], mask[b, p].repeat(T)]
                if labels is not None:
                    seg_l += [labels[b, start:p].to(device), torch.full((T,), IGNORE_INDEX, device=device,
                                                                         dtype=labels.dtype)]
                start, k = p + 1, k + 1
            seg_e.append(text[b, start:])
            seg_m.append(mask[b, start:])
            if labels is not None:
                seg_l.append(labels[b, start:].to(device))
            rows_e.append(torch.cat(seg_e))
            rows_m.append(torch.cat(seg_m))
            if labels is not None:
                rows_l.append(torch.cat(seg_l))
        n_max = max(r.shape[0] for r in rows_e)

        def pad(rows: list[torch.Tensor], value: float) -> torch.Tensor:
            out = []
            for r in rows:
                extra = n_max - r.shape[0]
                filler = torch.full((extra, *r.shape[1:]), value, dtype=r.dtype, device=r.device)
                out.append(torch.cat([filler, r] if padding_side == "left" else [r, filler]))
            return torch.stack(out)

        return self._finish(pad(rows_e, 0.0), pad(rows_m, 0), pad(rows_l, IGNORE_INDEX) if labels is not None else None)

    def _cross_attention_inputs(self, text: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None,
                                is_img: torch.Tensor, image_features: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Flamingo mode: placeholders stay single tokens; each row's images become its context."""
        n_ph, n_img = int(is_img.sum()), 0 if image_features is None else image_features.shape[0]
        if n_ph != n_img:
            raise ImageTokenMismatchError(
                f"the prompt has {n_ph} {self.config.image_token!r} placeholder(s) but {n_img} image(s) were given; "
                f"put exactly one {self.config.image_token!r} in the text per image")
        assert image_features is not None
        B, T, d = text.shape[0], self.n_image_tokens, image_features.shape[-1]
        counts = is_img.sum(1).tolist()  # images per row, in reading order
        context = image_features.new_zeros(B, max(counts) * T, d)  # (B, N_max, d)
        ctx_mask = torch.zeros(B, max(counts) * T, dtype=torch.bool, device=text.device)
        k = 0
        for b, n in enumerate(counts):
            if n:
                context[b, : n * T] = image_features[k:k + n].reshape(n * T, d)
                ctx_mask[b, : n * T] = True
            k += n
        self._xattn.set(context, ctx_mask)
        if labels is not None:
            labels = labels.to(text.device).masked_fill(is_img, IGNORE_INDEX)
        return self._finish(text, mask, labels)

    @staticmethod
    def _finish(embeds: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)  # (B, L'); left padding starts at 0
        out = {"inputs_embeds": embeds, "attention_mask": mask, "position_ids": position_ids}
        if labels is not None:  # padding is never scored, whatever the caller put there
            out["labels"] = labels.to(mask.device).masked_fill(mask == 0, IGNORE_INDEX)
        return out

    # ------------------------------------------------------------------ running
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                pixel_values: torch.Tensor | None = None, labels: torch.Tensor | None = None, *,
                vision_features: torch.Tensor | None = None, score_labels: bool = False,
                signal_modality: str | None = None, frozen_context: int | None = None, **kwargs: Any) -> Any:
        """Run the LM on spliced inputs; returns its output (``.loss`` when ``labels`` are given).

        ``vision_features`` (cached `encode_vision` output) can stand in for ``pixel_values``.
        With ``score_labels=True`` (training) the vocabulary projection runs only at labelled
        positions and a `LabelScores` comes back: the mean token loss, and per row the summed
        log-probability of its labels (what DPO compares). Adding ``signal_modality`` also
        projects that modality's signal tokens into the decoder's conditioning
        (`LabelScores.signals`, decoder-side alignment) — inside ``forward``, so that wrappers
        such as DDP see every trained part run.

        ``frozen_context=N`` (with ``score_labels``) runs the prompt up to N tokens before the
        first label without gradients, as a KV cache the rest attends to: long prompts (recalled
        context, tool lists, history) then cost a forward pass, not a backward one. The trained
        parts still learn how the answer reads that context (through the queries, keys and values
        of the last N prompt tokens and the answer); only how the context itself is encoded gets
        no gradient. ``None``: full backpropagation.
        """
        padding = "right" if signal_modality is not None else None
        prep = self.prepare_inputs(input_ids, attention_mask, pixel_values, labels, vision_features=vision_features,
                                   padding_side=padding)
        if score_labels:
            if labels is None:
                raise ConfigError("score_labels=True needs labels")
            frozen = self._frozen_length(prep["labels"], frozen_context) if frozen_context is not None else 0
            scores = self._score_labels(prep, 0 if frozen else self._shared_prefix_length(input_ids, attention_mask),
                                        frozen=frozen)
            if signal_modality is not None:  # rows without the signal tokens (LM loss only) are left out
                rows = self.signal_rows(input_ids, signal_modality)  # (B,) bool
                scores.signal_rows = rows
                if bool(rows.any()):
                    hidden = self.signal_hidden_states(scores.hidden[rows.to(scores.hidden.device)],
                                                       input_ids[rows], signal_modality)  # (B_s, k, d)
                    scores.signals = self.project_signals(hidden, signal_modality)  # (B_s, out_tokens, out_dim)
            return scores
        return self.language_model(**prep, **kwargs)

    def _shared_prefix_length(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> int:
        """Leading tokens every row shares (unpadded, before any image): the system prompt and, with
        tools, the whole tool section. 0 when sharing would not pay or cannot apply."""
        B, L = input_ids.shape
        if B < 2 or self.cross_attention is not None:
            return 0
        ids = input_ids.to(self.device)
        mask = torch.ones_like(ids) if attention_mask is None else attention_mask.to(ids.device)
        same = (ids == ids[:1]).all(0) & (mask == 1).all(0) & ~(ids == self.image_token_id).any(0)  # (L,)
        n = int(torch.cumprod(same.long(), 0).sum())
        shortest = int(mask.sum(1).min())
        n = min(n, shortest - 1)  # every row keeps at least one token of its own
        return n if n >= _MIN_SHARED_PREFIX else 0

    def _frozen_length(self, labels: torch.Tensor, keep: int) -> int:
        """Leading positions of every row (spliced) to run without gradients: up to ``keep`` tokens
        before the earliest label of the batch. 0 when too short to pay."""
        if self.cross_attention is not None:
            return 0
        labelled = (labels != IGNORE_INDEX).any(0).nonzero()
        if not len(labelled):
            return 0
        n = int(labelled[0]) - max(0, keep)
        return n if n >= 4 * _MIN_SHARED_PREFIX else 0

    def _score_labels(self, prep: dict[str, torch.Tensor], shared: int = 0, *, frozen: int = 0) -> LabelScores:
        lm = self.language_model
        labels = prep.pop("labels")  # (B, L)
        decoder = lm.get_decoder()
        if frozen:
            # The context as a constant cache: computed by the current weights, but no gradient
            # flows into it (rows are right-padded, so positions < frozen are real tokens in all).
            emb, mask, pos = prep["inputs_embeds"], prep["attention_mask"], prep["position_ids"]
            with torch.no_grad():
                head = decoder(inputs_embeds=emb[:, :frozen].detach(), attention_mask=mask[:, :frozen],
                               position_ids=pos[:, :frozen], use_cache=True)
            cache = getattr(head, "cache", None) or head.past_key_values
            cache_kw = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
            tail = decoder(inputs_embeds=emb[:, frozen:], attention_mask=mask, position_ids=pos[:, frozen:],
                           use_cache=True, **{cache_kw: cache})
            hidden = torch.cat([head.last_hidden_state, tail.last_hidden_state], 1)  # (B, L, d)
        elif shared:
            # Run the prefix all rows share once (batch 1) and let every row attend to its cache:
            # the same result and gradients as B copies, at 1/B of the prefix's cost.
            emb, mask, pos = prep["inputs_embeds"], prep["attention_mask"], prep["position_ids"]
            B = emb.shape[0]
            head = decoder(inputs_embeds=emb[:1, :shared], attention_mask=mask[:1, :shared],
                           position_ids=pos[:1, :shared], use_cache=True)
            cache = getattr(head, "cache", None) or head.past_key_values
            cache.batch_repeat_interleave(B)
            # transformers 5.24 renamed past_key_values to cache (the old name warns until 5.40).
            cache_kw = "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"
            tail = decoder(inputs_embeds=emb[:, shared:], attention_mask=mask, position_ids=pos[:, shared:],
                           use_cache=True, **{cache_kw: cache})
            hidden = torch.cat([head.last_hidden_state.expand(B, -1, -1), tail.last_hidden_state], 1)  # (B, L, d)
        else:
            hidden = decoder(**prep).last_hidden_state  # (B, L, d)
        target, sel = labels[:, 1:], labels[:, 1:] != IGNORE_INDEX  # next-token targets, (B, L-1)
        logits = lm.get_output_embeddings()(hidden[:, :-1][sel]).float()  # (n, V): labelled positions only
        token_logp = -nn.functional.cross_entropy(logits, target[sel], reduction="none")  # (n,)
        rows = sel.nonzero()[:, 0]
        logps = torch.zeros(labels.shape[0], device=hidden.device).index_add(0, rows, token_logp)  # (B,)
        loss = -token_logp.mean() if token_logp.numel() else hidden.sum() * 0.0
        return LabelScores(loss=loss, logps=logps, n_tokens=sel.sum(1), hidden=hidden)

    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                 pixel_values: torch.Tensor | None = None, **generate_kwargs: Any) -> torch.Tensor:
        """Generate with the LM's ``generate`` (KV cache) from spliced embeddings.

        Returns only the new tokens, ``(B, n_new)``. Batched prompts should be left-padded.
        """
        generate_kwargs.setdefault("pad_token_id", self.tokenizer.pad_token_id)
        if pixel_values is None and not bool((input_ids == self.image_token_id).any()):
            self._xattn.set(None, None)
            out = self.language_model.generate(input_ids=input_ids.to(self.device), attention_mask=attention_mask,
                                               **generate_kwargs)
            return out[:, input_ids.shape[1]:]
        prep = self.prepare_inputs(input_ids, attention_mask, pixel_values, padding_side="left")
        return self.language_model.generate(inputs_embeds=prep["inputs_embeds"],
                                            attention_mask=prep["attention_mask"], **generate_kwargs)

    # ------------------------------------------------------------------ signal tokens (NExT-GPT)
    def signal_rows(self, input_ids: torch.Tensor, modality: str) -> torch.Tensor:
        """``(B,)``: which rows hold the first of ``modality``'s signal tokens."""
        ids = self.signal_token_ids.get(modality)
        if ids is None:
            raise ConfigError(f"this core has no signal tokens for {modality!r}; "
                              f"known: {sorted(self.signal_token_ids)}")
        return (input_ids == ids[0]).any(1)

    def signal_hidden_states(self, hidden: torch.Tensor, input_ids: torch.Tensor, modality: str) -> torch.Tensor:
        """Gather the hidden states at a modality's signal tokens: ``(B, k, d)`` from ``(B, L', d)``.

        Args:
            hidden: last-layer hidden states of the *spliced* sequence (``prepare_inputs`` output).
            input_ids: the un-spliced ids; each row must hold the k signal tokens once, in order.
        """
        ids = self.signal_token_ids.get(modality)
        if ids is None:
            raise ConfigError(f"this core has no signal tokens for {modality!r}; "
                              f"known: {sorted(self.signal_token_ids)}")
        # Splicing shifts positions by (n_image_tokens - 1) per earlier image; spliced ids track that.
        spliced = self._spliced_ids(input_ids.to(hidden.device), hidden.shape[1])
        rows = []
        for b in range(hidden.shape[0]):
            pos = [int((spliced[b] == t).nonzero()[0]) if bool((spliced[b] == t).any()) else -1 for t in ids]
            if -1 in pos or pos != sorted(pos):
                names = signal_token_names(modality, len(ids))
                raise CoreError(f"row {b} does not hold the {modality} signal tokens {names} "
                                "once each, in order")
            rows.append(hidden[b, pos])
        return torch.stack(rows)  # (B, k, d)

    def _spliced_ids(self, input_ids: torch.Tensor, length: int) -> torch.Tensor:
        """input ids laid out as `prepare_inputs` lays out embeddings (image runs as -1), right-aligned
        like the padding it chose; only used to find token positions."""
        T = 1 if self.cross_attention is not None else self.n_image_tokens
        out = torch.full((input_ids.shape[0], length), -1, dtype=torch.long, device=input_ids.device)
        for b, row in enumerate(input_ids):
            expanded = []
            for t in row.tolist():
                expanded += [-1] * T if t == self.image_token_id else [t]
            expanded = expanded[:length]
            out[b, :len(expanded)] = torch.tensor(expanded, dtype=torch.long)
        return out

    def project_signals(self, signal_hidden: torch.Tensor, modality: str) -> torch.Tensor:
        """Signal hidden states ``(B, k, d_lm)`` → the decoder's conditioning ``(B, out_tokens, out_dim)``."""
        if modality not in self.output_projectors:
            raise ConfigError(f"this core has no output projector for {modality!r}; "
                              f"known: {sorted(self.output_projectors)}")
        proj = self.output_projectors[modality]
        return proj(signal_hidden.to(next(proj.parameters()).dtype))

    def decoder_alignment_loss(self, input_ids: torch.Tensor, target: torch.Tensor, modality: str, *,
                               attention_mask: torch.Tensor | None = None, pixel_values: torch.Tensor | None = None,
                               labels: torch.Tensor | None = None,
                               scale: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        """NExT-GPT decoder-side alignment: LM loss + ``scale`` × L2 to the target conditioning.

        Args:
            input_ids: right-padded rows, each ending its answer with the signal tokens.
            target: ``(B, out_tokens, out_dim)``, e.g. the caption's embedding from the decoder's
                own text encoder (precomputed).
            labels: LM labels (default: none, the L2 term only).

        Returns:
            ``(loss, {"lm": ..., "l2": ...})``.
        """
        prep = self.prepare_inputs(input_ids, attention_mask, pixel_values, labels, padding_side="right")
        out = self.language_model(**prep, output_hidden_states=True)
        hidden = self.signal_hidden_states(out.hidden_states[-1], input_ids, modality)  # (B, k, d)
        pred = self.project_signals(hidden, modality)  # (B, out_tokens, out_dim)
        l2 = torch.nn.functional.mse_loss(pred.float(), target.to(pred.device).float())
        lm = out.loss if labels is not None and out.loss is not None else torch.zeros((), device=pred.device)
        return lm + scale * l2, {"lm": float(lm.detach()), "l2": float(l2.detach())}

    # ------------------------------------------------------------------ save / load
    def _vision_rebuildable(self, v: VisionEncoderConfig | None = None) -> bool:
        v = v or self.config.vision
        if v.name == "dual":
            return v.low is not None and v.high is not None and self._vision_rebuildable(v.low) and \
                self._vision_rebuildable(v.high)
        if v.name == "efficientnet-lite0":
            return v.pretrained or v.weights is not None
        return v.model is not None

    def trained_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors `save_pretrained` writes: those a rebuild from the base ids cannot recreate."""
        state: dict[str, torch.Tensor] = {f"connector.{k}": v for k, v in self.connector.state_dict().items()}
        if self.cross_attention is not None:
            state.update({f"cross_attention.{k}": v for k, v in self.cross_attention.state_dict().items()})
        state.update({f"output_projectors.{k}": v for k, v in self.output_projectors.state_dict().items()})
        if not self._vision_rebuildable() or not self.config.freeze_vision:
            state.update({f"vision_tower.{k}": v for k, v in self.vision_tower.state_dict().items()})
        elif isinstance(getattr(self.vision_tower, "mining", None), nn.Module):
            state.update({f"vision_mining.{k}": v for k, v in self.vision_tower.mining.state_dict().items()})
        lm_full = self.config.language_model is None or not self.config.freeze_language_model
        if lm_full:
            state.update({f"language_model.{k}": v for k, v in self.language_model.state_dict().items()})
        else:
            if getattr(self.language_model, "peft_config", None):
                from peft import get_peft_model_state_dict

                # The added embedding rows are saved below; never let peft save whole embedding matrices.
                lora = get_peft_model_state_dict(self.language_model, save_embedding_layers=False)
                state.update({f"lora.{k}": v for k, v in lora.items()})
            weight = self.language_model.get_input_embeddings().weight
            if weight.shape[0] > self.n_base_rows:
                state["added_rows.input"] = weight[self.n_base_rows:]
                out = self.language_model.get_output_embeddings()
                if out is not None and out.weight.data_ptr() != weight.data_ptr():
                    state["added_rows.output"] = out.weight[self.n_base_rows:]
        # Clone: safetensors refuses tensors that share memory (tied embeddings).
        return {k: v.detach().to("cpu").clone().contiguous() for k, v in state.items()}

    def save_pretrained(self, save_directory: str | Path) -> Path:
        """Write ``genaisys_core.json`` + ``trained.safetensors`` (+ the tokenizer when it has no id).

        Only the parts a rebuild from the named base models cannot recreate are written.

        Example:
            >>> core.save_pretrained("my-core")  # doctest: +SKIP
        """
        from safetensors.torch import save_file

        out = Path(save_directory)
        out.mkdir(parents=True, exist_ok=True)
        state = self.trained_state_dict()
        save_file(state, str(out / WEIGHTS_NAME), metadata={"format": _FORMAT})
        saved_tokenizer = self.config.tokenizer is None and self.config.language_model is None
        if saved_tokenizer:
            self.tokenizer.save_pretrained(str(out / "tokenizer"))
        meta = {"format": _FORMAT, "version": 1, "config": self.config.model_dump(mode="json"),
                "n_base_rows": self.n_base_rows, "image_token_id": self.image_token_id,
                "tokenizer_saved": saved_tokenizer, "peft_config": self._peft_config_json(),
                "saved_parts": sorted({k.split(".")[0] for k in state})}
        (out / CONFIG_NAME).write_text(json.dumps(meta, indent=2))
        return out

    def _peft_config_json(self) -> dict[str, Any] | None:
        cfgs = getattr(self.language_model, "peft_config", None)
        if not cfgs:
            return None
        # to_dict() holds sets and enums; make it plain JSON.
        return json.loads(json.dumps({name: cfg.to_dict() for name, cfg in cfgs.items()},
                                     default=lambda o: sorted(o) if isinstance(o, set) else str(o)))

    def add_lora(self, *, r: int = 8, alpha: int = 16, dropout: float = 0.0,
                 target_modules: list[str] | str | None = None) -> MultimodalCore:
        """Wrap the language model (only it: not the vision tower) with LoRA adapters (peft).

        The adapters train while the base LM stays frozen; `save_pretrained` writes them beside
        the connector, and `from_pretrained` re-attaches them.

        Args:
            r / alpha / dropout: LoRA rank, scaling numerator and dropout.
            target_modules: module names or a regex; default the attention projections.

        Example:
            >>> core.add_lora(r=8, alpha=16)  # doctest: +SKIP
        """
        from genaisys._optional import require

        peft = require("peft", "peft>=0.21", feature="LoRA adapters")
        if getattr(self.language_model, "peft_config", None):
            raise CoreError("the language model already has LoRA adapters")
        config = peft.LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                                 target_modules=target_modules or ["q_proj", "k_proj", "v_proj", "o_proj"])
        self.language_model = _peft_wrap(self.language_model, config)
        return self

    @classmethod
    def from_pretrained(cls, directory: str | Path, **parts: Any) -> MultimodalCore:
        """Rebuild a core saved by `save_pretrained` on top of its base weights.

        Args:
            directory: the folder ``save_pretrained`` wrote.
            **parts: ``vision_tower=``, ``language_model=``, ``tokenizer=`` to reuse loaded bases.

        Raises:
            CoreError: the folder is not a genaisys core, or its weights do not fit the config.
        """
        from safetensors.torch import load_file

        d = Path(directory)
        if not (d / CONFIG_NAME).is_file():
            raise CoreError(f"{d} has no {CONFIG_NAME}: it was not written by MultimodalCore.save_pretrained")
        meta = json.loads((d / CONFIG_NAME).read_text())
        if meta.get("format") != _FORMAT:
            raise CoreError(f"{d / CONFIG_NAME} has format {meta.get('format')!r}, expected {_FORMAT!r}")
        config = MultimodalCoreConfig(**meta["config"])
        if meta.get("tokenizer_saved") and "tokenizer" not in parts:
            from transformers import AutoTokenizer

            parts["tokenizer"] = AutoTokenizer.from_pretrained(str(d / "tokenizer"))
        core = cls(config, **parts)
        if core.image_token_id != meta["image_token_id"] or core.n_base_rows != meta["n_base_rows"]:
            raise CoreError(f"the base tokenizer/LM of {d} changed: image token id {core.image_token_id} "
                            f"(saved {meta['image_token_id']}), base rows {core.n_base_rows} (saved "
                            f"{meta['n_base_rows']}); load it with the base it was trained on")
        state = load_file(str(d / WEIGHTS_NAME))
        if meta.get("peft_config"):
            core._attach_lora(meta["peft_config"], {k[5:]: v for k, v in state.items() if k.startswith("lora.")})
        core._load_trained(state)
        return core

    def _attach_lora(self, peft_config: dict[str, Any], lora_state: dict[str, torch.Tensor]) -> None:
        from genaisys._optional import require

        peft = require("peft", "peft>=0.21", feature="the LoRA adapters saved in this core")
        LoraConfig, set_peft_model_state_dict = peft.LoraConfig, peft.set_peft_model_state_dict

        cfg = dict(next(iter(peft_config.values())))
        # The saved path is where the base LM lay on the machine that trained the adapters (a cache
        # folder there); the base is whatever this core loaded, so that is what the config names.
        cfg["base_model_name_or_path"] = getattr(self.language_model, "name_or_path", None) or None
        allowed = set(LoraConfig.__dataclass_fields__)
        lm = _peft_wrap(self.language_model, LoraConfig(**{k: v for k, v in cfg.items() if k in allowed}))
        set_peft_model_state_dict(lm, lora_state)
        self.language_model = lm

    def _load_trained(self, state: dict[str, torch.Tensor]) -> None:
        groups: dict[str, dict[str, torch.Tensor]] = {}
        for k, v in state.items():
            head, _, rest = k.partition(".")
            groups.setdefault(head, {})[rest] = v
        with torch.no_grad():
            for head, sub in groups.items():
                if head in ("connector", "vision_tower", "language_model", "cross_attention", "output_projectors"):
                    missing, unexpected = getattr(self, head).load_state_dict(sub, strict=False)
                    if unexpected or (head != "language_model" and missing):
                        raise CoreError(f"saved {head} weights do not fit the config (missing {missing[:3]}, "
                                        f"unexpected {unexpected[:3]})")
                elif head == "vision_mining":
                    self.vision_tower.mining.load_state_dict(sub)
                elif head == "added_rows":  # a core given more tokens since (add_signal_tokens) keeps their init
                    weight = self.language_model.get_input_embeddings().weight
                    end = self.n_base_rows + sub["input"].shape[0]
                    weight[self.n_base_rows:end] = sub["input"].to(weight)
                    if "output" in sub:
                        out = self.language_model.get_output_embeddings().weight
                        out[self.n_base_rows:end] = sub["output"].to(weight)
                elif head != "lora":
                    raise CoreError(f"unknown saved part {head!r} in {WEIGHTS_NAME}")


def _peft_wrap(language_model: nn.Module, lora_config: Any) -> nn.Module:
    import warnings

    from peft import get_peft_model

    with warnings.catch_warnings():
        # peft 0.21 reads transformers' deprecated `is_gradient_checkpointing`; nothing to fix on our side.
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        return get_peft_model(language_model, lora_config)
