"""SequenceTagger: Flair's tagger options (reprojection, BiLSTM, CRF) over the token head.

With ``use_crf=False, use_rnn=False, reproject_embeddings=False`` (and no dropout) it computes
exactly what a :class:`TokenClassifier` computes.
"""

from __future__ import annotations

from typing import Any

import torch

from polytag.data import Dictionary, Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.io import register_model_class
from polytag.models.base import linear_decoder
from polytag.models.token_classifier import IGNORE, TokenClassifier
from polytag.nn.crf import CRF
from polytag.nn.dropout import LockedDropout, WordDropout


@register_model_class
class SequenceTagger(TokenClassifier):
    def __init__(
        self,
        embeddings: TransformerEmbeddings,
        tag_dictionary: Dictionary,
        tag_type: str,
        use_crf: bool = True,
        use_rnn: bool = True,
        rnn_layers: int = 1,
        hidden_size: int = 256,
        reproject_embeddings: bool | int = True,
        dropout: float = 0.0,
        word_dropout: float = 0.05,
        locked_dropout: float = 0.5,
        tag_format: str = "BIOES",
        rnn_type: str = "LSTM",
        **kwargs: Any,
    ) -> None:
        self.use_crf = use_crf
        self.use_rnn = use_rnn
        self.rnn_layers = rnn_layers
        self.hidden_size = hidden_size
        self.reproject_embeddings = reproject_embeddings
        self.word_dropout_rate = word_dropout
        self.locked_dropout_rate = locked_dropout
        self.rnn_type = rnn_type
        torch.nn.Module.__init__(self)  # so attributes above may be set before the parent builds layers
        super().__init__(
            embeddings, tag_dictionary, tag_type, span_encoding=tag_format, dropout=dropout, **kwargs
        )
        width = embeddings.embedding_length
        self.reprojection = None
        if reproject_embeddings:
            out = width if reproject_embeddings is True else int(reproject_embeddings)
            self.reprojection = torch.nn.Linear(width, out)
            width = out
        self.rnn = None
        if use_rnn:
            rnn_cls = torch.nn.GRU if rnn_type == "GRU" else torch.nn.LSTM
            self.rnn = rnn_cls(
                width, hidden_size, num_layers=rnn_layers, batch_first=True, bidirectional=True
            )
            width = 2 * hidden_size
        self.word_dropout = WordDropout(word_dropout)
        self.locked_dropout = LockedDropout(locked_dropout)
        self.decoder = linear_decoder(width, len(self.tag_dictionary))
        self.crf = CRF(len(self.tag_dictionary)) if use_crf else None

    @property
    def tag_type(self) -> str:
        return self.label_type

    def _features(self, batch: EmbeddingBatch) -> torch.Tensor:
        x = self.dropout(batch.token_embeddings)
        x = self.locked_dropout(self.word_dropout(x))
        if self.reprojection is not None:
            x = self.reprojection(x)
        if self.rnn is not None:
            lengths = batch.lengths.clamp(min=1).cpu()
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                x, lengths, batch_first=True, enforce_sorted=False
            )
            out, _ = self.rnn(packed)
            x, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            x = self.locked_dropout(x)
        return x

    def compute_loss(
        self, sentences: list[Sentence], logits: torch.Tensor, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        if self.crf is None:
            return super().compute_loss(sentences, logits, batch)
        gold = self._gold_ids(sentences, logits.shape[1]).to(logits.device)
        mask = batch.mask.to(logits.device)
        # the CRF needs a tag at every real position: unknown gold tags count as the first tag
        gold = torch.where(mask & (gold == IGNORE), torch.zeros_like(gold), gold)
        return self.crf.neg_log_likelihood(logits, gold, mask), int(mask.sum())

    def _tag_probabilities(self, logits: torch.Tensor, batch: EmbeddingBatch) -> torch.Tensor:
        if self.crf is None:
            return super()._tag_probabilities(logits, batch)
        return self.crf.marginals(logits, batch.mask.to(logits.device))

    def _best_tags(
        self, probs: torch.Tensor, logits: torch.Tensor, batch: EmbeddingBatch
    ) -> tuple[list[list[int]], list[list[float]]]:
        if self.crf is None:
            return super()._best_tags(probs, logits, batch)
        paths = self.crf.viterbi(logits, batch.mask.to(logits.device))  # Viterbi needs the emissions
        prob_rows = probs.tolist()
        scores = [[prob_rows[b][t][tag] for t, tag in enumerate(path)] for b, path in enumerate(paths)]
        return paths, scores

    def head_config(self) -> dict[str, Any]:
        return {
            "use_crf": self.use_crf,
            "use_rnn": self.use_rnn,
            "rnn_layers": self.rnn_layers,
            "hidden_size": self.hidden_size,
            "reproject_embeddings": self.reproject_embeddings,
            "dropout": self.dropout_rate,
            "word_dropout": self.word_dropout_rate,
            "locked_dropout": self.locked_dropout_rate,
            "tag_format": self.span_encoding,
            "rnn_type": self.rnn_type,
        }
