"""The encoder's settings: one frozen object, the single source for the constructor, the planner and files.

``EncoderSettings`` holds every setting the embedding module, its subtoken planner and an ONNX export
need. The keys of a model file's embedding config (``CONFIG_KEYS``) are its field names;
:meth:`EncoderSettings.to_config` writes them and :meth:`EncoderSettings.from_config` reads them back,
checking the type and range of every value so that a damaged or hostile file gets a one-line
:class:`~polytag.errors.ModelFileError` naming the key instead of a traceback later on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from polytag.errors import ModelFileError, PolytagError

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_CONTEXT_LENGTH = 64
SUBTOKEN_POOLINGS = ("first", "last", "first_last", "mean")
CLS_POOLINGS = ("cls", "mean", "max")
# bounds a model file's values must respect (far above any real encoder, far below what exhausts memory)
MAX_WINDOW = 1_000_000
MAX_CONTEXT = 1_000_000
MAX_LAYER_INDEX = 10_000


class EmbeddingConfigError(PolytagError, ValueError):
    """An embedding setting that cannot work (unknown pooling, bad layer index, window too small)."""


def _layers_text(layers: str | int | Sequence[int]) -> str:
    """``layers`` as the comma-separated text the config stores ("all", "-1", "-1,-2")."""
    if isinstance(layers, str):
        return layers
    if isinstance(layers, int):
        return str(layers)
    return ",".join(str(int(x)) for x in layers)


def _context_length(use_context: bool | int | None) -> int:
    """Flair's ``use_context`` (a bool or a subtoken count) as a count; 0 = no context."""
    if use_context is True:
        return DEFAULT_CONTEXT_LENGTH
    if use_context is False or use_context is None:
        return 0
    count = int(use_context)
    if count < 0:
        raise EmbeddingConfigError(f"use_context must be a bool or a count >= 0, got {use_context}")
    return count


@dataclass(frozen=True)
class EncoderSettings:
    """Every setting of a transformer embedding module (see ``polytag.embeddings.transformer``).

    Values are normalised on construction: ``layers`` becomes its text form, ``use_context`` the context
    length in subtokens (``True`` = 64), ``name`` defaults to ``transformer-<model>``. ``model_max_length``
    and ``window_stride`` may be None here (= derive from the encoder and tokenizer); the planner fills
    them in, and a module's ``settings`` always holds the resolved numbers.
    """

    model: str = DEFAULT_MODEL_ID
    fine_tune: bool = True
    layers: str = "-1"
    layer_mean: bool = False
    subtoken_pooling: str = "first"
    is_token_embedding: bool = True
    is_document_embedding: bool = False
    cls_pooling: str = "cls"
    use_context: int = 0
    context_dropout: float = 0.5
    respect_document_boundaries: bool = True
    allow_long_sentences: bool = True
    model_max_length: int | None = None
    window_stride: int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.subtoken_pooling not in SUBTOKEN_POOLINGS:
            raise EmbeddingConfigError(
                f"subtoken_pooling must be one of {SUBTOKEN_POOLINGS}, got {self.subtoken_pooling!r}"
            )
        if self.cls_pooling not in CLS_POOLINGS:
            raise EmbeddingConfigError(f"cls_pooling must be one of {CLS_POOLINGS}, got {self.cls_pooling!r}")
        if not (self.is_token_embedding or self.is_document_embedding):
            raise EmbeddingConfigError("the embeddings must produce token vectors, document vectors or both")
        if not 0.0 <= float(self.context_dropout) <= 1.0:
            raise EmbeddingConfigError(f"context_dropout must lie in [0, 1], got {self.context_dropout}")
        normal = {
            "model": str(self.model),
            "fine_tune": bool(self.fine_tune),
            "layers": _layers_text(self.layers),
            "layer_mean": bool(self.layer_mean),
            "is_token_embedding": bool(self.is_token_embedding),
            "is_document_embedding": bool(self.is_document_embedding),
            "use_context": _context_length(self.use_context),
            "context_dropout": float(self.context_dropout),
            "respect_document_boundaries": bool(self.respect_document_boundaries),
            "allow_long_sentences": bool(self.allow_long_sentences),
            "model_max_length": int(self.model_max_length) if self.model_max_length else None,
            "window_stride": int(self.window_stride) if self.window_stride else None,
            "name": self.name or f"transformer-{self.model}",
        }
        for key, value in normal.items():
            object.__setattr__(self, key, value)  # frozen: normalising is the one write

    def to_config(self) -> dict[str, Any]:
        """The settings as the JSON object a model file stores (keys: :data:`CONFIG_KEYS`)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EncoderSettings:
        """Settings from a model file's embedding config; absent keys take the defaults.

        Every present value is checked for type and range first; a bad one raises
        :class:`ModelFileError` naming the key and what was expected. Keys that are not settings are
        ignored (the caller reads them).
        """
        values = {key: config[key] for key in CONFIG_KEYS if key in config}
        for key, value in values.items():
            problem = _CHECKS[key](value)
            if problem:
                raise ModelFileError(f"embedding config entry {key!r}: expected {problem}, got {value!r}")
        try:
            return cls(**values)
        except EmbeddingConfigError as error:
            raise ModelFileError(f"embedding config: {error}") from None


CONFIG_KEYS: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(EncoderSettings))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bool(value: object) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def _check_text(value: object) -> str | None:
    return None if isinstance(value, str) and 0 < len(value) <= 1000 else "a non-empty string"


def _check_optional_text(value: object) -> str | None:
    return None if value is None else _check_text(value)


def _check_layers(value: object) -> str | None:
    expected = "'all' or comma-separated layer indexes"
    if isinstance(value, str):
        if value.strip() == "all":
            return None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        ok = bool(parts) and all(p.lstrip("-").isdigit() and abs(int(p)) <= MAX_LAYER_INDEX for p in parts)
        return None if ok else expected
    if _is_int(value):
        return None if abs(int(value)) <= MAX_LAYER_INDEX else expected  # type: ignore[call-overload]
    if isinstance(value, list) and value and all(_is_int(v) and abs(v) <= MAX_LAYER_INDEX for v in value):
        return None
    return expected


def _check_choice(choices: tuple[str, ...]) -> Any:
    def check(value: object) -> str | None:
        return None if value in choices else f"one of {', '.join(choices)}"

    return check


def _check_context(value: object) -> str | None:
    if isinstance(value, bool) or (_is_int(value) and 0 <= value <= MAX_CONTEXT):  # type: ignore[operator]
        return None
    return f"true, false or a subtoken count in [0, {MAX_CONTEXT}]"


def _check_probability(value: object) -> str | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return None if ok and 0.0 <= value <= 1.0 else "a number in [0, 1]"  # type: ignore[operator]


def _check_window(value: object) -> str | None:
    if value is None or (_is_int(value) and 1 <= value <= MAX_WINDOW):  # type: ignore[operator]
        return None
    return f"null or a subtoken count in [1, {MAX_WINDOW}]"


_CHECKS = {
    "model": _check_text,
    "fine_tune": _check_bool,
    "layers": _check_layers,
    "layer_mean": _check_bool,
    "subtoken_pooling": _check_choice(SUBTOKEN_POOLINGS),
    "is_token_embedding": _check_bool,
    "is_document_embedding": _check_bool,
    "cls_pooling": _check_choice(CLS_POOLINGS),
    "use_context": _check_context,
    "context_dropout": _check_probability,
    "respect_document_boundaries": _check_bool,
    "allow_long_sentences": _check_bool,
    "model_max_length": _check_window,
    "window_stride": _check_window,
    "name": _check_optional_text,
}
assert set(_CHECKS) == set(CONFIG_KEYS), "every setting needs a check for model files"
