"""The base classes: :class:`Model` (save, load, device) and :class:`Classifier` (one head over one encoder).

A head only says how to turn an :class:`EmbeddingBatch` into scores, which items are gold, and how to
write predicted labels back (:class:`~polytag.models.head.Head`). Prediction runs the one loop of
:mod:`polytag.models.prediction`; loading checks the file against the model it describes first
(:mod:`polytag.models.loading`).
"""

from __future__ import annotations

import abc
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from polytag.data import Dictionary, Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.errors import ModelFileError
from polytag.evaluation import Result, evaluate_items
from polytag.io import save_model_file
from polytag.models.batching import as_sentence_list, encoder_lengths, length_sorted_batches
from polytag.models.head import Head
from polytag.models.prediction import predict_heads, warn_unused_prediction_options
from polytag.nn.bf16 import BF16Linear
from polytag.nn.decoder import decoder_config
from polytag.nn.int8 import Int8Linear

log = logging.getLogger("polytag")

PREDICTED = "predicted"

__all__ = [
    "PREDICTED",
    "Classifier",
    "Model",
    "as_sentence_list",
    "encoder_lengths",
    "length_sorted_batches",
    "linear_decoder",
]


def linear_decoder(in_features: int, out_features: int) -> torch.nn.Linear:
    """The heads' linear decoder, Xavier-uniform initialised (as Flair's classifiers are).

    PyTorch's default init gives logits about 2.3x smaller on a 384-wide encoder; in one-epoch
    fine-tuning that slows the start so much that EWT POS from 3,000 sentences ends at 0.830 accuracy
    instead of 0.879.
    """
    layer = torch.nn.Linear(in_features, out_features)
    torch.nn.init.xavier_uniform_(layer.weight)
    return layer


class Model(torch.nn.Module, metaclass=abc.ABCMeta):
    """Shared behaviour of every polytag model (single heads and :class:`MultitaskModel`)."""

    label_type: str
    # Flair's MultitaskModel is a Classifier: ``Classifier.load`` accepts a model class that sets this
    loads_as_classifier: bool = False

    # -- what subclasses provide -----------------------------------------------------------------
    @abc.abstractmethod
    def forward_loss(
        self, sentences: list[Sentence], batch: EmbeddingBatch | None = None
    ) -> tuple[torch.Tensor, int]:
        """Summed loss over the batch and the number of items it sums over (what the trainer needs)."""

    @abc.abstractmethod
    def predict(
        self,
        sentences: Sentence | list[Sentence],
        mini_batch_size: int = 32,
        return_probabilities_for_all_classes: bool = False,
        verbose: bool = False,
        label_name: str | None = None,
        return_loss: bool = False,
        embedding_storage_mode: str = "none",
    ) -> Any:
        """Label ``sentences`` in place (Flair's signature); with ``return_loss`` (summed loss, count)."""

    @abc.abstractmethod
    def evaluate(
        self, data_points: Iterable[Sentence], gold_label_type: str | None = None, **kwargs: Any
    ) -> Result:
        """Predict into a scratch layer and score it against the gold layer."""

    @abc.abstractmethod
    def get_config(self, embedding_ids: dict[int, str]) -> dict[str, Any]:
        """The JSON settings that rebuild this model; ``embedding_ids`` maps ``id(encoder)`` to the key
        under which the model file stores that encoder."""

    @classmethod
    @abc.abstractmethod
    def from_config(cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]) -> Model:
        """A model with fresh weights from :meth:`get_config` output and the rebuilt encoders; raises
        ValueError (or KeyError / TypeError) for settings that cannot work."""

    # -- shared -----------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def embedding_modules(self) -> list[TransformerEmbeddings]:
        """The distinct encoders in this model (one object however many heads share it)."""
        seen: dict[int, TransformerEmbeddings] = {}
        for module in self.modules():
            if isinstance(module, TransformerEmbeddings):
                seen.setdefault(id(module), module)
        return list(seen.values())

    def saved_embeddings(self) -> list[Any]:
        """The distinct embedding modules the heads use (a transformer, a stack, a pool), each saved once."""
        seen: dict[int, Any] = {}
        for module in self.modules():
            if isinstance(module, Head):
                seen.setdefault(id(module.embeddings), module.embeddings)
        return list(seen.values())

    def save(self, model_file: str | os.PathLike) -> None:
        """Write the model as one safetensors file with a JSON config (atomic; no pickle)."""
        for module in self.modules():
            if isinstance(module, (Int8Linear, BF16Linear)):
                kind = "an int8" if isinstance(module, Int8Linear) else "a bf16"
                raise ValueError(
                    f"{kind} model is for inference only; save the float32 model it was loaded from"
                )
        embeddings = self.saved_embeddings()
        for module in embeddings:
            if not callable(getattr(module, "to_config", None)):
                raise ModelFileError(
                    f"cannot save a model over {type(module).__name__}: it cannot describe itself in a "
                    "model file (savable: transformer embeddings, WordEmbeddings, StackedEmbeddings, "
                    "DocumentPoolEmbeddings)"
                )
        ids = {id(e): str(i) for i, e in enumerate(embeddings)}
        config = {
            "class": type(self).__name__,
            "model": self.get_config(ids),
            "embeddings": {ids[id(e)]: e.to_config() for e in embeddings},
        }
        Path(model_file).parent.mkdir(parents=True, exist_ok=True)
        save_model_file(model_file, config, self.state_dict())

    @classmethod
    def load(
        cls,
        model_path: str | os.PathLike,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        quantize: str | None = None,
    ) -> Model:
        """Load a model file written by :meth:`save`. No code from the file is executed.

        The header is checked against the model the config describes (built on the ``meta`` device,
        which allocates nothing) before any weight is allocated; every problem is a ModelFileError
        naming the file. ``dtype`` (e.g. ``torch.bfloat16``) casts the weights for inference;
        ``quantize="int8"`` turns the encoder's linear layers into int8 layers with per-token activation
        scales (CPU inference; the predictions stay independent of the batch, see ``polytag.nn.int8``);
        ``quantize="bf16"`` runs them in bfloat16 on oneDNN with the residual stream, layer norms and heads
        in float32 (CPU inference, 2-3x float32 on CPUs with AMX or AVX512-BF16; elsewhere it warns that
        it is slower; see ``polytag.nn.bf16``). Neither kind of model can be saved: keep the float file.
        """
        from polytag.models.loading import load_model

        return load_model(cls, model_path, device=device, dtype=dtype, quantize=quantize)

    @classmethod
    def can_load(cls, model_cls: type) -> bool:
        """Whether ``cls.load`` returns a ``model_cls`` read from a file (its subclasses, by default)."""
        return issubclass(model_cls, cls)


class Classifier(Model, Head):
    """A head over one encoder: scores -> labels, with the shared predict and evaluate loops.

    Subclasses implement the :class:`~polytag.models.head.Head` hooks ``compute_scores``,
    ``compute_loss``, ``write_predictions`` and ``evaluation_items``.
    """

    evaluation_kind = "token"

    @classmethod
    def can_load(cls, model_cls: type) -> bool:
        """``Classifier.load`` (Flair's ``flair.nn.Classifier.load``) also returns a MultitaskModel."""
        return issubclass(model_cls, cls) or (
            cls is Classifier and getattr(model_cls, "loads_as_classifier", False)
        )

    def __init__(self, embeddings: TransformerEmbeddings, label_dictionary: Any, label_type: str) -> None:
        super().__init__()
        self.embeddings = embeddings
        self.label_dictionary = label_dictionary
        self.label_type = label_type

    def embed(self, sentences: list[Sentence]) -> EmbeddingBatch:
        """One encoder pass over ``sentences``."""
        return self.embeddings.forward_batch(sentences)

    def forward_loss(
        self, sentences: list[Sentence], batch: EmbeddingBatch | None = None
    ) -> tuple[torch.Tensor, int]:
        if batch is None:
            batch = self.embed(sentences)
        return self.compute_loss(sentences, self.compute_scores(sentences, batch), batch)

    def predict(
        self,
        sentences: Sentence | list[Sentence],
        mini_batch_size: int = 32,
        return_probabilities_for_all_classes: bool = False,
        verbose: bool = False,
        label_name: str | None = None,
        return_loss: bool = False,
        embedding_storage_mode: str = "none",
    ) -> Any:
        """Label ``sentences`` in place under ``label_name`` (default: the model's label type).

        Batches are sorted by length internally; the sentences' own order is untouched. Only the
        ``label_name`` layer is replaced; other layers (gold labels of other types) are left alone.
        With ``return_loss`` returns (summed loss, item count).
        """
        warn_unused_prediction_options(embedding_storage_mode)
        sentences = as_sentence_list(sentences)
        task = self.label_type
        losses = predict_heads(
            self,
            {task: self},
            sentences,
            {task: list(range(len(sentences)))},
            {task: label_name or self.label_type},
            mini_batch_size,
            return_loss=return_loss,
            return_probabilities_for_all_classes=return_probabilities_for_all_classes,
            verbose=verbose,
        )
        if not return_loss:
            return None
        total_loss = torch.zeros(())
        total_count = 0
        for loss, count in losses[task]:
            total_loss += loss.float().cpu()
            total_count += count
        return total_loss, total_count

    def evaluate(
        self,
        data_points: Iterable[Sentence],
        gold_label_type: str | None = None,
        out_path: str | os.PathLike | None = None,
        embedding_storage_mode: str = "none",
        mini_batch_size: int = 32,
        main_evaluation_metric: tuple[str, str] | None = None,
        exclude_labels: Iterable[str] = (),
        gold_label_dictionary: Any = None,
        return_loss: bool = True,
        **kwargs: Any,
    ) -> Result:
        """Predict into a scratch layer, score against ``gold_label_type`` and remove the scratch layer."""
        sentences = as_sentence_list(data_points)
        gold_label_type = gold_label_type or self.label_type
        scratch = PREDICTED
        outcome = self.predict(
            sentences, mini_batch_size=mini_batch_size, label_name=scratch, return_loss=return_loss
        )
        gold = self.evaluation_items(sentences, gold_label_type, 0)
        predicted = self.evaluation_items(sentences, scratch, 0)
        if out_path is not None:
            self.write_evaluation_file(out_path, sentences, gold_label_type, scratch)
        for sentence in sentences:
            sentence.remove_labels(scratch)
        mean_loss = float(outcome[0]) / max(outcome[1], 1) if return_loss else None
        return evaluate_items(
            gold,
            predicted,
            kind=self.evaluation_kind,
            main_metric=main_evaluation_metric,
            exclude_labels=tuple(exclude_labels),
            loss=mean_loss,
        )

    def write_evaluation_file(
        self, out_path: str | os.PathLike, sentences: list[Sentence], gold: str, predicted: str
    ) -> None:
        """Column file: token, gold, predicted (BIO for span layers), blank line between sentences."""
        from polytag.formats.column import write_column_file

        write_column_file(
            out_path, sentences, {0: "text", 1: gold, 2: predicted}, document_separator_token=None
        )

    def get_config(self, embedding_ids: dict[int, str]) -> dict[str, Any]:
        return {
            "embeddings": embedding_ids[id(self.embeddings)],
            "label_dictionary": self.label_dictionary.to_dict(),
            "label_type": self.label_type,
            **self.head_config(),
        }

    def head_config(self) -> dict[str, Any]:
        """The subclass's own constructor settings (beyond encoder, labels and label type)."""
        return {}

    def custom_decoder_config(self) -> dict[str, Any]:
        """The decoder's settings when it is not the default linear layer (e.g. a PrototypicalDecoder)."""
        decoder = getattr(self, "decoder", None)
        if decoder is None or type(decoder) is torch.nn.Linear:
            return {}
        described = decoder_config(decoder)
        if described is None:
            raise ModelFileError(
                f"cannot save a {type(decoder).__name__} decoder: it does not describe itself"
            )
        return {"decoder": described}

    @classmethod
    def from_config(cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]) -> Classifier:
        options = {
            k: v for k, v in config.items() if k not in ("embeddings", "label_dictionary", "label_type")
        }
        return cls(
            embeddings[config["embeddings"]],
            Dictionary.from_dict(config["label_dictionary"]),
            config["label_type"],
            **options,
        )
