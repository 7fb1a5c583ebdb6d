"""TextClassifier: one (or, with ``multi_label``, several) labels per sentence from its document vector."""

from __future__ import annotations

from typing import Any

import torch

from polytag.data import Dictionary, Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.io import register_model_class
from polytag.models.base import Classifier, linear_decoder
from polytag.models.token_classifier import IGNORE
from polytag.nn.decoder import decoder_from_config


@register_model_class
class TextClassifier(Classifier):
    evaluation_kind = "text"

    def __init__(
        self,
        embeddings: TransformerEmbeddings,
        label_dictionary: Dictionary,
        label_type: str,
        multi_label: bool | None = None,
        multi_label_threshold: float = 0.5,
        decoder: torch.nn.Module | None = None,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(embeddings, label_dictionary, label_type)
        if not embeddings.is_document_embedding:
            raise ValueError("TextClassifier needs document embeddings (is_document_embedding=True)")
        self.multi_label = label_dictionary.multi_label if multi_label is None else multi_label
        self.multi_label_threshold = multi_label_threshold
        self.dropout_rate = dropout
        self.dropout = torch.nn.Dropout(dropout) if dropout > 0 else torch.nn.Identity()
        if isinstance(decoder, dict):  # from a model file: a described decoder (e.g. prototypical)
            decoder = decoder_from_config(decoder)
        self.decoder = (
            decoder
            if decoder is not None
            else linear_decoder(embeddings.document_embedding_length, len(label_dictionary))
        )

    def compute_scores(self, sentences: list[Sentence], batch: EmbeddingBatch) -> torch.Tensor:
        return self.decoder(self.dropout(batch.document_embeddings))  # [B, C]

    def _gold_values(self, sentence: Sentence) -> list[str]:
        return [label.value for label in sentence.get_labels(self.label_type) if label.data_point is sentence]

    def compute_loss(
        self, sentences: list[Sentence], logits: torch.Tensor, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        index = self.label_dictionary.item2idx
        unk = 0 if self.label_dictionary.add_unk else None
        if self.multi_label:
            target = torch.zeros(logits.shape, dtype=torch.float32)
            for row, sentence in enumerate(sentences):
                for value in self._gold_values(sentence):
                    col = index.get(value, unk)
                    if col is not None:
                        target[row, col] = 1.0
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits.float(), target.to(logits.device), reduction="sum"
            )
            return loss, len(sentences)
        gold = []
        for sentence in sentences:
            values = self._gold_values(sentence)
            col = index.get(values[0], unk) if values else None
            gold.append(IGNORE if col is None else col)
        target = torch.tensor(gold, dtype=torch.long, device=logits.device)
        loss = torch.nn.functional.cross_entropy(logits.float(), target, ignore_index=IGNORE, reduction="sum")
        return loss, sum(1 for g in gold if g != IGNORE)

    def write_predictions(
        self,
        sentences: list[Sentence],
        logits: torch.Tensor,
        batch: EmbeddingBatch,
        label_name: str,
        return_probabilities_for_all_classes: bool,
    ) -> None:
        items = self.label_dictionary.idx2item
        if self.multi_label:
            sigmoid_rows = logits.float().sigmoid().tolist()
            for sentence, row in zip(sentences, sigmoid_rows):
                for c, p in enumerate(row):
                    if return_probabilities_for_all_classes or p > self.multi_label_threshold:
                        sentence.add_label(label_name, items[c], p)
            return
        probs = logits.float().softmax(dim=-1)
        if return_probabilities_for_all_classes:
            for sentence, row in zip(sentences, probs.tolist()):
                order = sorted(range(len(row)), key=lambda c: -row[c])
                for c in order:
                    sentence.add_label(label_name, items[c], row[c])
            return
        score, best = probs.max(dim=-1)
        for sentence, c, p in zip(sentences, best.tolist(), score.tolist()):
            sentence.add_label(label_name, items[c], p)

    def evaluation_items(self, sentences: list[Sentence], label_name: str, offset: int) -> list[tuple]:
        return [
            (i, label.value)
            for i, sentence in enumerate(sentences, start=offset)
            for label in sentence.get_labels(label_name)
            if label.data_point is sentence
        ]

    def head_config(self) -> dict[str, Any]:
        return {
            "multi_label": self.multi_label,
            "multi_label_threshold": self.multi_label_threshold,
            "dropout": self.dropout_rate,
            **self.custom_decoder_config(),
        }
