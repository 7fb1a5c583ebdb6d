"""The base class every head shares: batching for prediction, evaluation, save and load.

A head only says how to turn an :class:`EmbeddingBatch` into scores, which items are gold, and how to
write predicted labels back. Everything else (length-sorted prediction batches, ``inference_mode``,
evaluation bookkeeping, the model file) lives here once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from polytag.data import Dictionary, Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.errors import ModelFileError
from polytag.evaluation import Result, evaluate_items
from polytag.io import get_model_class, load_model_file, save_model_file
from polytag.nn.decoder import decoder_config
from polytag.nn.int8 import Int8Linear, quantize_linear_layers

log = logging.getLogger("polytag")

PREDICTED = "predicted"


def as_sentence_list(sentences: Sentence | Iterable[Sentence]) -> list[Sentence]:
    if isinstance(sentences, Sentence):
        return [sentences]
    return list(sentences)


def linear_decoder(in_features: int, out_features: int) -> torch.nn.Linear:
    """The heads' linear decoder, Xavier-uniform initialised (as Flair's classifiers are).

    PyTorch's default init gives logits about 2.3x smaller on a 384-wide encoder; in one-epoch
    fine-tuning that slows the start so much that EWT POS from 3,000 sentences ends at 0.830 accuracy
    instead of 0.879.
    """
    layer = torch.nn.Linear(in_features, out_features)
    torch.nn.init.xavier_uniform_(layer.weight)
    return layer


def length_sorted_batches(
    sentences: list[Sentence], batch_size: int, lengths: Sequence[int] | None = None
) -> list[list[Sentence]]:
    """Batches of similar length (longest first) so that padding is small.

    ``lengths`` (e.g. the encoder's subtoken counts) is what padding follows; words by default.
    """
    size = lengths if lengths is not None else [len(s) for s in sentences]
    order = sorted(range(len(sentences)), key=lambda i: -size[i])
    return [[sentences[i] for i in order[k : k + batch_size]] for k in range(0, len(order), batch_size)]


def encoder_lengths(model: torch.nn.Module, sentences: list[Sentence]) -> Sequence[int] | None:
    """Subtoken counts from the model's (first) encoder, the lengths that padding really follows."""
    for module in model.modules():
        if isinstance(module, TransformerEmbeddings):
            return module.subtoken_lengths(sentences).tolist()
    return None


class Model(torch.nn.Module):
    """Shared behaviour of every polytag model (single heads and :class:`MultitaskModel`)."""

    label_type: str

    # -- what subclasses provide -----------------------------------------------------------------
    def forward_loss(
        self, sentences: list[Sentence], batch: EmbeddingBatch | None = None
    ) -> tuple[torch.Tensor, int]:
        """Summed loss over the batch and the number of items it sums over."""
        raise NotImplementedError

    def predict(self, sentences: Sentence | list[Sentence], **kwargs: Any) -> Any:
        raise NotImplementedError

    def evaluate(
        self, data_points: Iterable[Sentence], gold_label_type: str | None = None, **kwargs: Any
    ) -> Result:
        raise NotImplementedError

    def _get_config(self, embedding_ids: dict[int, str]) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_config(cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]) -> Model:
        raise NotImplementedError

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

    def save(self, model_file: str | os.PathLike) -> None:
        """Write the model as one safetensors file with a JSON config (atomic; no pickle)."""
        if any(isinstance(module, Int8Linear) for module in self.modules()):
            raise ValueError("an int8 model is for inference only; save the float32 model it was loaded from")
        embeddings = self.embedding_modules()
        ids = {id(e): str(i) for i, e in enumerate(embeddings)}
        config = {
            "class": type(self).__name__,
            "model": self._get_config(ids),
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

        ``dtype`` (e.g. ``torch.bfloat16``) casts the weights for inference; ``quantize="int8"`` turns the
        encoder's linear layers into int8 layers with per-token activation scales (CPU inference; the
        predictions stay independent of the batch, see ``polytag.nn.int8``).
        """
        config, tensors = load_model_file(model_path, check_config=True)
        model_cls = get_model_class(config.get("class", ""))
        if not issubclass(model_cls, cls):
            raise ModelFileError(f"{model_path}: holds a {model_cls.__name__}, not a {cls.__name__}")
        embeddings = {
            key: TransformerEmbeddings.from_config(emb_config)
            for key, emb_config in config.get("embeddings", {}).items()
        }
        try:
            model = model_cls._from_config(config["model"], embeddings)
        except (KeyError, TypeError, ValueError) as error:  # passed the checks, yet cannot be built
            message = f"{model_path}: cannot build the model its config describes: {error!r}"
            raise ModelFileError(message) from None
        expected = model.state_dict()
        problems = []
        for name, tensor in expected.items():
            if name not in tensors:
                problems.append(f"missing tensor '{name}'")
            elif tuple(tensors[name].shape) != tuple(tensor.shape):
                problems.append(
                    f"tensor '{name}' has shape {tuple(tensors[name].shape)}, expected {tuple(tensor.shape)}"
                )
            elif tensors[name].dtype.is_floating_point != tensor.dtype.is_floating_point:
                problems.append(f"tensor '{name}' is {tensors[name].dtype}, expected {tensor.dtype}")
        extra = sorted(set(tensors) - set(expected))
        if extra:
            problems.append(f"unexpected tensors {extra[:5]}")
        if problems:
            raise ModelFileError(f"{model_path}: does not match its config: " + "; ".join(problems[:10]))
        model.load_state_dict(tensors, strict=True)
        model.eval()
        if dtype is not None:
            model.to(dtype=dtype)
        if device is not None:
            model.to(device)
        if quantize is not None:
            if quantize != "int8":
                raise ValueError(f"quantize must be 'int8' or None, got {quantize!r}")
            if model.device.type != "cpu":
                raise ValueError(f"quantize='int8' is for CPU inference; the model is on {model.device}")
            for encoder in model.embedding_modules():  # the heads' small decoders stay float
                quantize_linear_layers(encoder)
        return model


class Classifier(Model):
    """A head over one encoder: scores -> labels, with shared predict and evaluate loops.

    Subclasses implement ``_scores(sentences, batch)`` (returns logits for the batch's items and the
    items' gold indices), ``_write_predictions`` and ``_items`` (gold/predicted tuples for evaluation).
    """

    evaluation_kind = "token"

    def __init__(self, embeddings: TransformerEmbeddings, label_dictionary: Any, label_type: str) -> None:
        super().__init__()
        self.embeddings = embeddings
        self.label_dictionary = label_dictionary
        self.label_type = label_type

    # subclass hooks ------------------------------------------------------------------------------
    def _logits(self, sentences: list[Sentence], batch: EmbeddingBatch) -> torch.Tensor:
        raise NotImplementedError

    def _loss(
        self, sentences: list[Sentence], logits: torch.Tensor, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        raise NotImplementedError

    def _write_predictions(
        self,
        sentences: list[Sentence],
        logits: torch.Tensor,
        batch: EmbeddingBatch,
        label_name: str,
        return_probabilities_for_all_classes: bool,
    ) -> None:
        raise NotImplementedError

    def _items(self, sentences: list[Sentence], label_name: str, offset: int) -> list[tuple]:
        raise NotImplementedError

    # shared ------------------------------------------------------------------------------------
    def embed(self, sentences: list[Sentence]) -> EmbeddingBatch:
        return self.embeddings.forward_batch(sentences)

    def forward_loss(
        self, sentences: list[Sentence], batch: EmbeddingBatch | None = None
    ) -> tuple[torch.Tensor, int]:
        if batch is None:
            batch = self.embed(sentences)
        return self._loss(sentences, self._logits(sentences, batch), batch)

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
        """
        sentences = as_sentence_list(sentences)
        label_name = label_name or self.label_type
        was_training = self.training
        self.eval()
        total_loss = torch.zeros(())
        total_count = 0
        batches = length_sorted_batches(sentences, mini_batch_size, encoder_lengths(self, sentences))
        progress = tqdm(batches, desc="predict", unit="batch", disable=not verbose)
        with torch.inference_mode():
            for chunk in progress:
                batch = self.embed(chunk)
                logits = self._logits(chunk, batch)
                if return_loss:
                    loss, count = self._loss(chunk, logits, batch)
                    total_loss += loss.float().cpu()
                    total_count += count
                for sentence in chunk:
                    sentence.remove_labels(label_name)
                self._write_predictions(
                    chunk, logits, batch, label_name, return_probabilities_for_all_classes
                )
        if was_training:
            self.train()
        if return_loss:
            return total_loss, total_count
        return None

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
        gold = self._items(sentences, gold_label_type, 0)
        predicted = self._items(sentences, scratch, 0)
        if out_path is not None:
            self._write_evaluation_file(out_path, sentences, gold_label_type, scratch)
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

    def _write_evaluation_file(
        self, out_path: str | os.PathLike, sentences: list[Sentence], gold: str, predicted: str
    ) -> None:
        """Column file: token, gold, predicted (BIO for span layers), blank line between sentences."""
        from polytag.formats.column import write_column_file

        write_column_file(
            out_path, sentences, {0: "text", 1: gold, 2: predicted}, document_separator_token=None
        )

    def _get_config(self, embedding_ids: dict[int, str]) -> dict[str, Any]:
        return {
            "embeddings": embedding_ids[id(self.embeddings)],
            "label_dictionary": self.label_dictionary.to_dict(),
            "label_type": self.label_type,
            **self._head_config(),
        }

    def _head_config(self) -> dict[str, Any]:
        return {}

    def _custom_decoder(self) -> dict[str, Any]:
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
    def _from_config(cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]) -> Classifier:
        options = {
            k: v for k, v in config.items() if k not in ("embeddings", "label_dictionary", "label_type")
        }
        return cls(
            embeddings[config["embeddings"]],
            Dictionary.from_dict(config["label_dictionary"]),
            config["label_type"],
            **options,
        )
