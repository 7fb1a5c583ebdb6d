"""Token and document vectors from a Hugging Face encoder, in one encoder pass per batch.

The hot path per batch is: one fast-tokenizer call on the pre-tokenized words, a handful of numpy
operations that turn the tokenizer's word ids into index arrays, one encoder call, and a few
gather / scatter operations on the hidden states. Nothing loops over tokens in Python except the
unavoidable reading of the word strings from the sentences.

Behaviour worth knowing (Flair 0.15 is the reference; where it is vague we choose and say so):

* Subtoken pooling ``first`` / ``last`` / ``mean`` / ``first_last`` (the latter concatenates first and
  last, so the width doubles). Several ``layers`` are concatenated (width x number of layers) unless
  ``layer_mean`` averages them; ``"all"`` means the embedding output plus every layer.
* Document vector: the CLS token (``cls_pooling="cls"``; for encoders that put CLS last, the last
  special token), or mean / max over the sentence's own subtokens (never context or special tokens).
* Words the tokenizer turns into no subtoken at all (zero-width space, control characters, lone
  combining marks) are replaced by the tokenizer's unknown token before tokenizing, so every token gets
  a vector. Whether a word is "empty" is cached per distinct word string, together with its subtoken
  count; a batch with unseen words costs one extra small tokenizer call for those words.
* Document context (FLERT, ``use_context``): up to N subtokens of the neighbouring sentences of the
  same document on each side (whole words only), found by following ``previous_sentence()`` /
  ``next_sentence()``; never other sentences of the batch, so a sentence's vectors do not depend on its
  batch. ``respect_document_boundaries=True`` additionally stops at a neighbour whose ``document_id``
  differs or that is a ``-DOCSTART-`` line (for data chained across documents); ``False`` follows the
  links wherever they lead. The context shrinks when the sentence plus context would not fit into one
  encoder window; each side is dropped with probability ``context_dropout`` in training mode only.
* Sentences longer than the encoder's window are cut into overlapping windows (step ``window_stride``
  subtokens, default half a window); every subtoken takes its vector from the window in which it is most
  central. All windows of a batch go through the encoder in one call. With
  ``allow_long_sentences=False`` the sentence is truncated instead and the cut-off tokens get zero vectors.
* ``fine_tune=False`` freezes the encoder: no gradients, and it stays in eval mode (dropout off) even when
  the surrounding model trains, so its features are deterministic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import numpy as np
import torch

from polytag.data import Sentence
from polytag.embeddings.base import (
    EmbeddingBatch,
    as_sentence_list,
    store_document_vectors,
    store_token_vectors,
    stored_document_vector,
    stored_token_vectors,
)
from polytag.embeddings.encoder_config import build_encoder, check_encoder_shapes, encoder_config_from_dict
from polytag.embeddings.layers import encoder_hidden_states, needs_all_hidden_states, parse_layers
from polytag.embeddings.packed import use_unpadded_attention
from polytag.embeddings.planner import BatchPlan, SubtokenPlanner, position_limit
from polytag.embeddings.settings import (
    CLS_POOLINGS,
    CONFIG_KEYS,
    DEFAULT_CONTEXT_LENGTH,
    DEFAULT_MODEL_ID,
    SUBTOKEN_POOLINGS,
    EmbeddingConfigError,
    EncoderSettings,
)
from polytag.embeddings.sources import flair_keywords, resolve_model_path
from polytag.embeddings.tokenizer_files import (
    load_tokenizer,
    tokenizer_files_from_config,
    tokenizer_files_of,
    tokenizer_from_files,
)
from polytag.errors import ModelFileError

__all__ = [
    "CLS_POOLINGS",
    "CONFIG_KEYS",
    "DEFAULT_CONTEXT_LENGTH",
    "DEFAULT_MODEL_ID",
    "SUBTOKEN_POOLINGS",
    "EmbeddingConfigError",
    "TransformerDocumentEmbeddings",
    "TransformerEmbeddings",
    "TransformerWordEmbeddings",
    "resolve_model_path",
]


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """Hide transformers' per-load "Loading weights" bar (it would print once per model load)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def checked_embedding_config(config: object) -> tuple[EncoderSettings, Any, dict[str, bytes]]:
    """The settings, Hugging Face config and tokenizer files of a saved embedding config, all checked.

    Builds nothing and runs no code, so ``polytag info`` can refuse a hostile file from its header alone;
    every problem is a :class:`ModelFileError` naming the entry.
    """
    if not isinstance(config, dict):
        raise ModelFileError(f"an embedding config must be an object, got {type(config).__name__}")
    settings = EncoderSettings.from_config(config)
    hf_config = encoder_config_from_dict(config.get("encoder_config"))
    limit = position_limit(hf_config)
    if settings.model_max_length and limit is not None and settings.model_max_length > limit:
        raise ModelFileError(
            f"embedding config entry 'model_max_length': {settings.model_max_length} is larger than "
            f"the encoder's {limit} positions"
        )
    return settings, hf_config, tokenizer_files_from_config(config)


class TransformerEmbeddings(torch.nn.Module):
    """A Hugging Face encoder that yields token vectors and / or a document vector per sentence.

    See the module docstring for pooling, context, windowing and freezing. ``forward_batch`` is what the
    task heads call; ``embed`` is the Flair-style convenience. ``model`` is None or
    :data:`DEFAULT_MODEL_ID` (the shipped MiniLM), a local folder, or a Hugging Face id (through its cache).
    Extra keyword arguments go to ``AutoModel.from_pretrained`` (as do Flair's
    ``transformers_model_kwargs`` / ``transformers_config_kwargs``; ``transformers_tokenizer_kwargs`` go to
    the tokenizer); Flair's ``use_context_separator``, ``force_max_length``, ``needs_manual_ocr``,
    ``force_device``, ``peft_config`` and the like are accepted, and warn when they ask for something
    polytag does not do; ``use_auth_token`` / ``token`` go to transformers as ``token`` (see
    :mod:`polytag.embeddings.sources`). The settings live in :attr:`settings` (an
    :class:`EncoderSettings`); the subtoken planning in :attr:`planner` (a :class:`SubtokenPlanner`).
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        fine_tune: bool = True,
        layers: str = "-1",
        layer_mean: bool = False,
        subtoken_pooling: str = "first",
        is_token_embedding: bool = True,
        is_document_embedding: bool = False,
        cls_pooling: str = "cls",
        use_context: bool | int = False,
        context_dropout: float = 0.5,
        respect_document_boundaries: bool = True,
        allow_long_sentences: bool = True,
        model_max_length: int | None = None,
        window_stride: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        from transformers import AutoModel

        settings = EncoderSettings(
            model=DEFAULT_MODEL_ID if model is None else str(model),
            fine_tune=fine_tune,
            layers=layers,
            layer_mean=layer_mean,
            subtoken_pooling=subtoken_pooling,
            is_token_embedding=is_token_embedding,
            is_document_embedding=is_document_embedding,
            cls_pooling=cls_pooling,
            use_context=use_context,
            context_dropout=context_dropout,
            respect_document_boundaries=respect_document_boundaries,
            allow_long_sentences=allow_long_sentences,
            model_max_length=model_max_length,
            window_stride=window_stride,
            name=name,
        )
        path = resolve_model_path(model)
        tokenizer_kwargs = dict(kwargs.pop("transformers_tokenizer_kwargs", None) or {})
        model_kwargs = dict(kwargs.pop("transformers_config_kwargs", None) or {})
        model_kwargs.update(kwargs.pop("transformers_model_kwargs", None) or {})
        shared = flair_keywords(kwargs)
        tokenizer_kwargs.update(shared)
        model_kwargs.update(kwargs)
        model_kwargs.update(shared)
        for options in (model_kwargs, tokenizer_kwargs):
            options.pop("trust_remote_code", None)  # never run code shipped with a model
        with _quiet_loading():
            encoder = AutoModel.from_pretrained(path, **model_kwargs, trust_remote_code=False)
        self._attach(encoder, load_tokenizer(path, **tokenizer_kwargs), settings)

    # -- construction ------------------------------------------------------------------------------
    def _attach(self, encoder: torch.nn.Module, tokenizer: Any, settings: EncoderSettings) -> None:
        """Wire up encoder, tokenizer and planner; resolves the window settings against the encoder."""
        config: Any = encoder.config
        n_layers = int(getattr(config, "num_hidden_layers", 0) or 0)
        layer_indexes = parse_layers(settings.layers, n_layers)
        use_unpadded_attention(encoder)  # inference attends each sequence alone, packed (see .packed)
        self.model = encoder
        self.tokenizer = tokenizer
        self.planner = SubtokenPlanner(tokenizer, settings, position_limit(config))
        self.settings: EncoderSettings = self.planner.settings
        self.layer_indexes = layer_indexes
        self.all_hidden_states = needs_all_hidden_states(layer_indexes, n_layers)
        hidden = int(config.hidden_size)
        width = hidden * (1 if settings.layer_mean else len(layer_indexes))
        self.document_embedding_length = width
        self.embedding_length = 2 * width if settings.subtoken_pooling == "first_last" else width
        if not self.settings.fine_tune:
            self.model.requires_grad_(False)
            self.model.eval()

    # -- the settings, read-only -------------------------------------------------------------------
    model_name = property(lambda self: self.settings.model, doc="The encoder id or folder it came from.")
    name = property(lambda self: self.settings.name, doc="The module's name (``transformer-<model>``).")
    fine_tune = property(lambda self: self.settings.fine_tune, doc="Whether the encoder is trained.")
    layers = property(lambda self: self.settings.layers, doc="The layers setting, as text.")
    layer_mean = property(lambda self: self.settings.layer_mean, doc="Average the layers (else concatenate).")
    subtoken_pooling = property(
        lambda self: self.settings.subtoken_pooling, doc="first, last, first_last, mean."
    )
    cls_pooling = property(lambda self: self.settings.cls_pooling, doc="cls, mean or max.")
    is_token_embedding = property(lambda self: self.settings.is_token_embedding, doc="Yields token vectors.")
    is_document_embedding = property(
        lambda self: self.settings.is_document_embedding, doc="Yields doc vectors."
    )
    context_length = property(lambda self: self.settings.use_context, doc="Context subtokens per side.")
    context_dropout = property(lambda self: self.settings.context_dropout, doc="Context dropout probability.")
    respect_document_boundaries = property(
        lambda self: self.settings.respect_document_boundaries, doc="Context stops at document boundaries."
    )
    allow_long_sentences = property(
        lambda self: self.settings.allow_long_sentences, doc="Window long sentences (else truncate)."
    )
    model_max_length = property(lambda self: self.settings.model_max_length, doc="Subtokens per encoder row.")
    window_stride = property(lambda self: self.settings.window_stride, doc="Step between a row's windows.")

    # -- settings in and out -----------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything needed to rebuild this module offline, JSON-serialisable (weights excluded)."""
        config: dict[str, Any] = {"class": type(self).__name__, **self.settings.to_config()}
        encoder_config: Any = self.model.config
        config["encoder_config"] = json.loads(encoder_config.to_json_string(use_diff=False))
        config["encoder_config"]["_name_or_path"] = self.model_name  # no local paths in saved files
        config.update(tokenizer_files_of(self.tokenizer))
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], header_shapes: Mapping[str, tuple[int, ...]] | None = None
    ) -> TransformerEmbeddings:
        """Rebuild the module from :meth:`to_config` output: no network, no original model folder.

        The encoder gets random weights; the caller loads the saved state dict next. Every entry is
        checked first (a bad one is a :class:`ModelFileError` naming it); with ``header_shapes`` (tensor
        name -> shape, from the model file's header) the encoder's config must also match the stored
        tensors, checked on the ``meta`` device before any weight is allocated.
        """
        settings, hf_config, files = checked_embedding_config(config)
        if header_shapes is not None:
            check_encoder_shapes(hf_config, header_shapes)
        class_name = config.get("class", "")
        if not isinstance(class_name, str):
            raise ModelFileError(f"embedding config entry 'class': expected a class name, got {class_name!r}")
        target_cls = {c.__name__: c for c in _embedding_classes()}.get(class_name, cls)
        tokenizer = tokenizer_from_files(files)
        module = target_cls.__new__(target_cls)
        torch.nn.Module.__init__(module)
        try:
            module._attach(build_encoder(hf_config), tokenizer, settings)
        except EmbeddingConfigError as error:
            raise ModelFileError(f"embedding config: {error}") from None
        return module

    # -- modes ------------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> TransformerEmbeddings:
        """Like ``Module.train``, but a frozen encoder stays in eval mode (deterministic features)."""
        super().train(mode)
        if not self.fine_tune:
            self.model.eval()
        return self

    @property
    def device(self) -> torch.device:
        for parameter in self.model.parameters():
            return parameter.device
        return torch.device("cpu")

    def subtoken_lengths(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """Number of subtokens of each sentence (without context or special tokens), for batching."""
        return self.planner.subtoken_lengths(sentences)

    # -- forward -----------------------------------------------------------------------------------------
    def plan(self, sentences: Sequence[Sentence]) -> BatchPlan:
        """The planner's batch plan, with context dropout drawn from torch's generator in training mode."""
        settings = self.settings
        drop = None
        if self.training and settings.use_context > 0 and settings.context_dropout > 0:
            drop = (torch.rand(len(sentences), 2) < settings.context_dropout).numpy()
        return self.planner.plan(sentences, drop)

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The selected encoder layers for the given rows (see :func:`encoder_hidden_states`)."""
        device = self.device
        return encoder_hidden_states(
            self.model,
            input_ids.to(device),
            attention_mask.to(device),
            self.layer_indexes,
            self.settings.layer_mean,
            self.all_hidden_states,
        )

    def forward_batch(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        """Token vectors and/or document vectors of ``sentences`` from a single encoder pass."""
        sentences = list(sentences)
        device = self.device
        batch = len(sentences)
        if batch == 0:
            dtype = next(self.model.parameters()).dtype
            return EmbeddingBatch(
                torch.zeros(0, 0, self.embedding_length, device=device, dtype=dtype)
                if self.is_token_embedding
                else None,
                torch.zeros(0, dtype=torch.long),
                torch.zeros(0, 0, dtype=torch.bool, device=device),
                torch.zeros(0, self.document_embedding_length, device=device, dtype=dtype)
                if self.is_document_embedding
                else None,
            )
        plan = self.plan(sentences)
        n_tokens = plan.n_tokens
        grad_context = torch.no_grad() if not self.fine_tune else nullcontext()
        with grad_context:
            hidden = self.hidden_states(
                torch.from_numpy(plan.input_ids), torch.from_numpy(plan.attention_mask)
            )
            hidden = hidden.reshape(-1, hidden.shape[-1])
            indexes = self._indexes_on_device(plan, device)
            token_embeddings = (
                self._pool_tokens(hidden, indexes, batch, n_tokens) if self.is_token_embedding else None
            )
            document_embeddings = (
                self._pool_document(hidden, indexes, batch) if self.is_document_embedding else None
            )
        lengths = torch.from_numpy(plan.n_words)
        mask = torch.arange(n_tokens, device=device)[None, :] < lengths.to(device)[:, None]
        return EmbeddingBatch(token_embeddings, lengths, mask, document_embeddings)

    forward = forward_batch

    def _indexes_on_device(self, plan: BatchPlan, device: torch.device) -> dict[str, torch.Tensor]:
        """All index arrays of the batch moved to the device in one transfer."""
        key, source = plan.key, plan.source
        parts: dict[str, np.ndarray] = {"key": key, "source": source}
        pooling = self.subtoken_pooling
        if self.is_token_embedding and pooling != "mean":
            first, last = plan.first_and_last()
            if pooling in ("first", "first_last"):
                parts["first_key"], parts["first_source"] = key[first], source[first]
            if pooling in ("last", "first_last"):
                parts["last_key"], parts["last_source"] = key[last], source[last]
        if self.is_document_embedding:
            parts["rows"] = plan.rows
            parts["cls_source"] = plan.cls_source
        names = list(parts)
        sizes = [int(parts[n].size) for n in names]
        packed = torch.from_numpy(np.concatenate([parts[n].astype(np.int64, copy=False) for n in names]))
        pieces = packed.to(device).split(sizes)
        return dict(zip(names, pieces))

    def _pool_tokens(
        self, hidden: torch.Tensor, indexes: dict[str, torch.Tensor], batch: int, n_tokens: int
    ) -> torch.Tensor:
        width = hidden.shape[-1]
        slots = batch * n_tokens

        def pick(which: str) -> torch.Tensor:
            chosen = hidden.index_select(0, indexes[f"{which}_source"])
            return hidden.new_zeros(slots, width).index_copy(0, indexes[f"{which}_key"], chosen)

        if self.subtoken_pooling == "first":
            pooled = pick("first")
        elif self.subtoken_pooling == "last":
            pooled = pick("last")
        elif self.subtoken_pooling == "first_last":
            pooled = torch.cat([pick("first"), pick("last")], dim=-1)
        else:
            key = indexes["key"]
            sums = hidden.new_zeros(slots, width).index_add(0, key, hidden.index_select(0, indexes["source"]))
            counts = torch.bincount(key, minlength=slots).clamp_(min=1).to(hidden.dtype)
            pooled = sums / counts[:, None]
        return pooled.view(batch, n_tokens, pooled.shape[-1])

    def _pool_document(
        self, hidden: torch.Tensor, indexes: dict[str, torch.Tensor], batch: int
    ) -> torch.Tensor:
        if self.cls_pooling == "cls":
            return hidden.index_select(0, indexes["cls_source"])
        rows = indexes["rows"]
        values = hidden.index_select(0, indexes["source"])
        counts = torch.bincount(rows, minlength=batch)
        if self.cls_pooling == "mean":
            sums = hidden.new_zeros(batch, hidden.shape[-1]).index_add(0, rows, values)
            return sums / counts.clamp(min=1).to(hidden.dtype)[:, None]
        start = hidden.new_full((batch, hidden.shape[-1]), float("-inf"))
        maxima = start.scatter_reduce(0, rows[:, None].expand_as(values), values, "amax", include_self=True)
        return maxima.masked_fill((counts == 0)[:, None], 0.0)

    # -- Flair-style convenience -------------------------------------------------------------------------
    def embed(self, sentences: Sentence | Sequence[Sentence]) -> list[Sentence]:
        """Embed sentences without gradients, Flair style, in one encoder pass, and return them.

        Token vectors go to ``token.embedding`` and the document vector to ``sentence.embedding``,
        stored under this module's ``name`` (cleared with ``clear_embeddings()``). Task heads call
        :meth:`forward_batch` instead, which stores nothing.
        """
        batch = as_sentence_list(sentences)
        with torch.no_grad():
            output = self.forward_batch(batch)
        if output.token_embeddings is not None:
            store_token_vectors(batch, self.name, output.token_embeddings)
        if output.document_embeddings is not None:
            store_document_vectors(batch, self.name, output.document_embeddings)
        return batch

    def get_token_embeddings(self, sentence: Sentence) -> torch.Tensor | None:
        """``[len(sentence), embedding_length]``: the token vectors :meth:`embed` stored, or None."""
        return stored_token_vectors(sentence, [self.name])

    def get_document_embedding(self, sentence: Sentence) -> torch.Tensor | None:
        """The document vector :meth:`embed` stored on ``sentence``, or None."""
        return stored_document_vector(sentence, self.name)

    def extra_repr(self) -> str:
        return (
            f"name={self.name!r}, layers={self.layers!r}, subtoken_pooling={self.subtoken_pooling!r}, "
            f"fine_tune={self.fine_tune}, context={self.context_length}"
        )


class TransformerWordEmbeddings(TransformerEmbeddings):
    """Token vectors (Flair's ``TransformerWordEmbeddings``); document vectors only if asked for."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        is_document_embedding: bool = False,
        allow_long_sentences: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("is_token_embedding", True)
        super().__init__(
            model,
            is_document_embedding=is_document_embedding,
            allow_long_sentences=allow_long_sentences,
            **kwargs,
        )


class TransformerDocumentEmbeddings(TransformerEmbeddings):
    """One vector per sentence (Flair's ``TransformerDocumentEmbeddings``): CLS, mean or max pooled."""

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        layers: str = "-1",
        layer_mean: bool = False,
        is_token_embedding: bool = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("is_document_embedding", True)
        super().__init__(
            model, layers=layers, layer_mean=layer_mean, is_token_embedding=is_token_embedding, **kwargs
        )


def _embedding_classes() -> tuple[type[TransformerEmbeddings], ...]:
    return (TransformerEmbeddings, TransformerWordEmbeddings, TransformerDocumentEmbeddings)
