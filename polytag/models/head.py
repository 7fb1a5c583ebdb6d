"""The head protocol: what the shared prediction loop, training and MultitaskModel ask of a head.

A head turns one encoder pass (an :class:`EmbeddingBatch`) into scores, scores into a loss or into
labels, and labels into items for evaluation. Everything else (batching, ``inference_mode``, one encoder
pass for several heads, the model file) lives outside the head, once. The hooks are abstract so that a
head missing one fails when it is built, not in the middle of a prediction run.
"""

from __future__ import annotations

import abc
from typing import Any

import torch

from polytag.data import Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings


class Head(abc.ABC):
    """A task head over one shared encoder (``embeddings``), labelling the ``label_type`` layer.

    ``evaluation_kind`` (``"token"``, ``"span"`` or ``"text"``) tells the evaluation how to compare the
    items that :meth:`evaluation_items` returns.
    """

    embeddings: TransformerEmbeddings
    label_type: str
    evaluation_kind: str = "token"

    @abc.abstractmethod
    def compute_scores(self, sentences: list[Sentence], batch: EmbeddingBatch) -> Any:
        """Scores of ``sentences`` from their encoder pass ``batch`` (row i is sentence i).

        Usually logits (``[B, T, C]`` per token, ``[B, C]`` per sentence); any object the head's
        :meth:`compute_loss` and :meth:`write_predictions` understand (a span head returns its spans
        with their scores).
        """

    @abc.abstractmethod
    def compute_loss(
        self, sentences: list[Sentence], scores: Any, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        """The loss summed over the gold items of ``sentences`` and how many items it sums over."""

    @abc.abstractmethod
    def write_predictions(
        self,
        sentences: list[Sentence],
        scores: Any,
        batch: EmbeddingBatch,
        label_name: str,
        return_probabilities_for_all_classes: bool,
    ) -> None:
        """Add the predicted labels under ``label_name`` (the loop has removed that layer already);
        with ``return_probabilities_for_all_classes`` every class with its probability."""

    @abc.abstractmethod
    def evaluation_items(self, sentences: list[Sentence], label_name: str, offset: int) -> list[tuple]:
        """The ``label_name`` labels of ``sentences`` as hashable items, sentence i numbered
        ``offset + i`` (e.g. ``(i, token, value)``), which evaluation compares gold against predicted."""

    @abc.abstractmethod
    def get_config(self, embedding_ids: dict[int, str]) -> dict[str, Any]:
        """The JSON settings that rebuild this head; ``embedding_ids`` maps ``id(encoder)`` to the key
        under which the model file stores that encoder."""

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]) -> Any:
        """A head (with fresh weights) from :meth:`get_config` output and the rebuilt encoders."""

    def needs_encoding(self, sentence: Sentence) -> bool:
        """Whether ``sentence`` has anything for this head to label; the loop does not encode it for
        this head otherwise (a span head skips sentences without spans) and only clears its layer."""
        return True
