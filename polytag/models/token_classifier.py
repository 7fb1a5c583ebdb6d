"""TokenClassifier: one decision per token; span layers (NER, chunks) are learned as BIOES tags."""

from __future__ import annotations

from typing import Any

import torch

from polytag.data import Dictionary, Label, Sentence, Span, Token
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.io import register_model_class
from polytag.models.base import Classifier, linear_decoder
from polytag.nn.bioes import make_bioes_dictionary, span_types, spans_to_tag_ids, tags_to_spans
from polytag.nn.decoder import decoder_from_config

IGNORE = -100


def is_span_dictionary(label_dictionary: Dictionary) -> bool:
    """A label layer is span-valued when the corpus said so, or its items carry BIO prefixes."""
    if label_dictionary.span_labels:
        return True
    items = [i for i in label_dictionary.get_items() if i not in ("<unk>", "O")]
    return bool(items) and all(len(i) > 2 and i[1] == "-" and i[0] in "BIESLU" for i in items)


def write_tag_decisions(
    sentences: list[Sentence],
    tags: list[list[int]],
    scores: list[list[float]],
    all_probs: list | None,
    items: list[str],
    predict_spans: bool,
    label_name: str,
    force_token_predictions: bool = False,
) -> None:
    """Labels from per-token tag decisions (shared with the ONNX predictor), as Flair's tagger writes them.

    Span layers get span labels (mean tag score as confidence) or, with ``force_token_predictions``, the
    BIOES tags themselves on the tokens ("O" skipped); other layers get each token's best tag. With
    ``all_probs`` every token also keeps every tag's probability, read with
    ``token.get_tags_proba_dist(label_name)``; the predicted label stays the token's label.
    """
    for row, sentence in enumerate(sentences):
        tokens = sentence.tokens
        if all_probs is not None:
            for k in range(len(tags[row])):
                token = tokens[k]
                distribution = [
                    Label(token, items[c], p, label_name) for c, p in enumerate(all_probs[row][k])
                ]
                token.add_tags_proba_dist(label_name, distribution)
        if predict_spans and not force_token_predictions:
            names = [items[t] for t in tags[row]]
            for start, end, kind in tags_to_spans(names):
                confidence = sum(scores[row][start:end]) / (end - start)
                sentence.get_span(start, end).add_label(label_name, kind, confidence)
            continue
        for k, (tag, score) in enumerate(zip(tags[row], scores[row])):
            if predict_spans and items[tag] == "O":
                continue
            tokens[k].add_label(label_name, items[tag], score)


@register_model_class
class TokenClassifier(Classifier):
    """Linear (or given) decoder over each token's vector.

    ``label_dictionary`` is what ``corpus.make_label_dictionary(label_type)`` returns. For span layers
    it holds span types (``PER``...); the head trains on BIOES tags built from them internally and
    decodes predicted tags back to spans.
    """

    def __init__(
        self,
        embeddings: TransformerEmbeddings,
        label_dictionary: Dictionary,
        label_type: str,
        span_encoding: str = "BIOES",
        decoder: torch.nn.Module | None = None,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(embeddings, label_dictionary, label_type)
        if not embeddings.is_token_embedding:
            raise ValueError("TokenClassifier needs token embeddings (is_token_embedding=True)")
        self.span_encoding = span_encoding
        self.predict_spans = is_span_dictionary(label_dictionary)
        self.tag_dictionary = (
            make_bioes_dictionary(span_types(label_dictionary)) if self.predict_spans else label_dictionary
        )
        self.evaluation_kind = "span" if self.predict_spans else "token"
        self.dropout_rate = dropout
        self.dropout = torch.nn.Dropout(dropout) if dropout > 0 else torch.nn.Identity()
        if isinstance(decoder, dict):  # from a model file: a described decoder (e.g. prototypical)
            decoder = decoder_from_config(decoder)
        self.decoder = (
            decoder
            if decoder is not None
            else linear_decoder(self._feature_length(), len(self.tag_dictionary))
        )

    def _feature_length(self) -> int:
        return self.embeddings.embedding_length

    # -- tensors -----------------------------------------------------------------------------------
    def _features(self, batch: EmbeddingBatch) -> torch.Tensor:
        return self.dropout(batch.token_embeddings)

    def compute_scores(self, sentences: list[Sentence], batch: EmbeddingBatch) -> torch.Tensor:
        return self.decoder(self._features(batch))  # [B, T, C]

    def _gold_ids(self, sentences: list[Sentence], width: int) -> torch.Tensor:
        gold = torch.full((len(sentences), width), IGNORE, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            if self.predict_spans:
                ids = spans_to_tag_ids(sentence, self.label_type, self.tag_dictionary)
            else:
                ids = self._token_label_ids(sentence)
            if ids:
                gold[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return gold

    def _token_label_ids(self, sentence: Sentence) -> list[int]:
        ids = [IGNORE] * len(sentence)
        index = self.tag_dictionary.item2idx
        unk = 0 if self.tag_dictionary.add_unk else IGNORE
        for label in sentence.get_labels(self.label_type):
            token = label.data_point
            if not isinstance(token, Token):  # a sentence or span label of the same type
                continue
            ids[token.idx - 1] = index.get(label.value, unk)
        return ids

    def compute_loss(
        self, sentences: list[Sentence], logits: torch.Tensor, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        gold = self._gold_ids(sentences, logits.shape[1]).to(logits.device)
        count = int((gold != IGNORE).sum())
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]).float(),
            gold.reshape(-1),
            ignore_index=IGNORE,
            reduction="sum",
        )
        return loss, count

    # -- labels ------------------------------------------------------------------------------------
    force_token_predictions_once = (
        False  # set by predict() for that call only (public: MultitaskModel sets it)
    )

    def predict(
        self,
        sentences: Sentence | list[Sentence],
        mini_batch_size: int = 32,
        return_probabilities_for_all_classes: bool = False,
        verbose: bool = False,
        label_name: str | None = None,
        return_loss: bool = False,
        embedding_storage_mode: str = "none",
        force_token_predictions: bool = False,
    ) -> Any:
        """Flair's tagger ``predict``: ``force_token_predictions`` puts the BIOES tags of a span layer on
        the tokens (e.g. ``S-LOC``) instead of span labels; on a token layer it changes nothing."""
        self.force_token_predictions_once = force_token_predictions
        try:
            return super().predict(
                sentences,
                mini_batch_size=mini_batch_size,
                return_probabilities_for_all_classes=return_probabilities_for_all_classes,
                verbose=verbose,
                label_name=label_name,
                return_loss=return_loss,
                embedding_storage_mode=embedding_storage_mode,
            )
        finally:
            del self.force_token_predictions_once

    def _tag_probabilities(self, logits: torch.Tensor, batch: EmbeddingBatch) -> torch.Tensor:
        return logits.float().softmax(dim=-1)

    def _best_tags(
        self, probs: torch.Tensor, logits: torch.Tensor, batch: EmbeddingBatch
    ) -> tuple[list[list[int]], list[list[float]]]:
        """Each token's best tag and its probability (a CRF tagger decodes the path from ``logits``)."""
        score, best = probs.max(dim=-1)
        lengths = batch.lengths.tolist()
        return (
            [row[:n] for row, n in zip(best.tolist(), lengths)],
            [row[:n] for row, n in zip(score.tolist(), lengths)],
        )

    def write_predictions(
        self,
        sentences: list[Sentence],
        logits: torch.Tensor,
        batch: EmbeddingBatch,
        label_name: str,
        return_probabilities_for_all_classes: bool,
    ) -> None:
        probs = self._tag_probabilities(logits, batch)
        tags, scores = self._best_tags(probs, logits, batch)
        all_probs = probs.tolist() if return_probabilities_for_all_classes else None
        write_tag_decisions(
            sentences,
            tags,
            scores,
            all_probs,
            self.tag_dictionary.idx2item,
            self.predict_spans,
            label_name,
            force_token_predictions=self.force_token_predictions_once,
        )

    def evaluation_items(self, sentences: list[Sentence], label_name: str, offset: int) -> list[tuple]:
        items: list[tuple] = []
        for i, sentence in enumerate(sentences, start=offset):
            for label in sentence.get_labels(label_name):
                dp = label.data_point
                if self.predict_spans:
                    if isinstance(dp, Span):
                        items.append((i, dp.start, dp.end, label.value))
                elif isinstance(dp, Token):
                    items.append((i, dp.idx - 1, label.value))
        return items

    # -- model file --------------------------------------------------------------------------------
    def head_config(self) -> dict[str, Any]:
        return {
            "span_encoding": self.span_encoding,
            "dropout": self.dropout_rate,
            **self.custom_decoder_config(),
        }
