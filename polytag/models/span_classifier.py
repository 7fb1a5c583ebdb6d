"""SpanClassifier: one label per span (entity linking), scored against the span's candidates only.

Spans. In training and evaluation the spans are those of the gold ``label_type`` layer. With
``span_label_type`` (e.g. ``"ner"``) a sentence's spans come from that layer instead, gold or predicted,
so the output of an NER model can be linked; a sentence without such spans falls back to its
``label_type`` spans (as Flair does). A span's gold is its ``label_type`` label, if it has one.

Span vectors. ``pooling_operation`` combines the span's token vectors: ``first_last`` (first and last
token concatenated, twice the encoder width), ``first``, ``last`` or ``mean`` (Flair's ``average`` is
accepted too); all done with index arithmetic on the padded batch, no loop over tokens.

Scores. Without ``candidates`` every label of ``label_dictionary`` competes through ``decoder`` (a
:class:`~polytag.nn.PrototypicalDecoder` or a linear layer); ``<unk>`` is never predicted. With a
:class:`~polytag.nn.CandidateGenerator`, each span is scored only against the candidates of its text
(padded ``[spans, max candidates, dim]`` gathers plus a mask, never a matrix over all labels), and the
score of a candidate entity ``e`` is

    score(span, e) = decoder score of the span against v(e)  +  prior_weight * log(prior share of e)

plus, with ``surface_features``, learned weights over eight features of (mention, title, document)
(:mod:`polytag.models.span_features`). Here ``v(e)`` is ``e``'s learned prototype (the decoder's
prototype or linear row) when ``e`` is a label seen in training, plus, with ``use_entity_names``, a
learned projection of a vector of ``e``'s *name* (the title with underscores as spaces,
``"European_Union"`` -> ``"European Union"``) made by the same encoder (``name_pooling`` over its tokens,
no gradient into the encoder). A candidate never seen in training therefore still has a vector and can
win. To train that path for such entities, each candidate's prototype is dropped (``prototype_dropout``)
at random during training, so the name projection learns to stand in for a missing prototype. The prior
share is the entity's share of the mention's prior mass in the candidate table (its in-link count share
for AIDA's PPRforNED lists). Without a ``decoder`` the model uses a dot-product
:class:`PrototypicalDecoder` whose prototypes start at zero, and the name projection starts as a copy of
the name vector into the span space, so an untrained model already ranks candidates by prior plus
mention-name similarity.

Document context (``document_context=True``). A learned projection of one vector per document is added
to every span vector of that document: the mean token vector of the document's first sentence (for news
such as AIDA, the headline: "SOCCER - JAPAN GET LUCKY WIN"), made by the same encoder without gradient
and cached like the name vectors. A sentence without earlier neighbours is its own first sentence. On
AIDA this buys what ``use_context`` (neighbouring subtokens in every encoder window) buys, at a fraction
of the cost: the headline is encoded once per document instead of the context once per sentence.

With ``predict_nil`` (on when ``span_label_type`` is set) one more column scores "no entity" (a linear map
of the span vector), trained on spans without a ``label_type`` label; when it wins, no link is written.

Training always puts the gold entity among the span's candidates (at the smallest prior of the list);
in evaluation and prediction it does not, and a span whose gold is missing counts towards the loss of
nothing. Prediction writes the best candidate with its softmax probability over the candidates. A span
with no candidates gets no label (it is not linked; no ``<unk>`` is written), and a non-candidate never
wins, whatever its prototype says.

Name vectors are cached per entity. With a frozen encoder the cache lives as long as the model. With a
trainable encoder it is dropped whenever the model leaves training mode (``eval()``, which the trainer
calls before every dev evaluation and ``predict`` calls too), so evaluation and prediction always use
vectors from the current weights, while in training a name's vector may lag the encoder by up to one
evaluation interval (encoding every candidate name afresh in every step would cost about as much as
the sentences themselves).

Model file. The decoder's settings, the candidate table's settings and sizes go into the JSON config;
prototypes, projections and the whole candidate table (as compact buffers) into the tensors, so
:meth:`Model.load` rebuilds everything without pickle.
"""

from __future__ import annotations

import math
import os
import weakref
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, cast

import torch

from polytag.data import Dictionary, Sentence, Span
from polytag.data.dictionary import UNK
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.evaluation import Result, evaluate_linking, macro_average
from polytag.io import register_model_class
from polytag.models.base import PREDICTED, Classifier, as_sentence_list
from polytag.models.span_features import NUM_FEATURES, DocumentWords, candidate_features
from polytag.models.span_parts import (
    NAME_POOLINGS,
    POOLINGS,
    SpanClassifierError,
    SpanScores,
    candidate_table,
    document_head,
    entity_name,
    pool_span_vectors,
    pooled_sentence_vectors,
)
from polytag.nn.candidates import CandidateGenerator
from polytag.nn.decoder import decoder_config, decoder_from_config
from polytag.nn.prototypical import PrototypicalDecoder

__all__ = ["POOLINGS", "SpanClassifier", "SpanClassifierError", "SpanScores", "entity_name"]


@register_model_class
class SpanClassifier(Classifier):
    """Entity linking (and any span labelling) over one encoder; see the module docstring."""

    evaluation_kind = "span"

    def __init__(
        self,
        embeddings: TransformerEmbeddings,
        label_dictionary: Dictionary,
        label_type: str = "nel",
        span_label_type: str | None = None,
        pooling_operation: str = "first_last",
        decoder: torch.nn.Module | dict[str, Any] | None = None,
        candidates: CandidateGenerator | dict[str, Any] | None = None,
        use_entity_names: bool = True,
        name_pooling: str = "mean",
        use_prior: bool = True,
        prototype_dropout: float = 0.3,
        dropout: float = 0.0,
        document_context: bool = False,
        surface_features: bool = True,
        predict_nil: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(embeddings, label_dictionary, label_type)
        if pooling_operation == "average":
            pooling_operation = "mean"
        if pooling_operation not in POOLINGS:
            raise SpanClassifierError(
                f"pooling_operation must be one of {POOLINGS}, got {pooling_operation!r}"
            )
        if name_pooling not in NAME_POOLINGS:
            raise SpanClassifierError(f"name_pooling must be one of {NAME_POOLINGS}, got {name_pooling!r}")
        if not 0.0 <= float(prototype_dropout) < 1.0:
            raise SpanClassifierError(f"prototype_dropout must lie in [0, 1), got {prototype_dropout}")
        if not embeddings.is_token_embedding:
            raise SpanClassifierError("SpanClassifier needs token embeddings (is_token_embedding=True)")
        self.span_label_type = span_label_type
        self.pooling_operation = pooling_operation
        width = embeddings.embedding_length
        self.span_embedding_size = 2 * width if pooling_operation == "first_last" else width

        if isinstance(decoder, dict):
            decoder = decoder_from_config(decoder)
        if decoder is None:
            decoder = PrototypicalDecoder(
                len(label_dictionary), self.span_embedding_size, distance_function="dot_product"
            )
            torch.nn.init.zeros_(decoder.prototype_vectors)
        self.decoder = decoder
        self._check_decoder()

        if isinstance(candidates, dict):
            candidates = CandidateGenerator.from_config(candidates)
        self.candidates = candidates
        self.use_entity_names = bool(use_entity_names) and candidates is not None
        self.name_pooling = name_pooling
        self.use_prior = bool(use_prior) and candidates is not None
        self.prototype_dropout = float(prototype_dropout)
        self.dropout_rate = float(dropout)
        self.dropout = torch.nn.Dropout(dropout) if dropout > 0 else torch.nn.Identity()
        name_width = embeddings.embedding_length * (2 if name_pooling == "first_last" else 1)
        self.name_projection = (
            torch.nn.Linear(name_width, self._vector_size()) if self.use_entity_names else None
        )
        if self.name_projection is not None:
            self._init_name_projection(name_width)
        self.prior_weight = torch.nn.Parameter(torch.ones(1)) if self.use_prior else None
        self.document_context = bool(document_context)
        self.context_projection = (
            torch.nn.Linear(embeddings.embedding_length, self._vector_size())
            if self.document_context
            else None
        )
        if self.context_projection is not None:
            torch.nn.init.zeros_(self.context_projection.weight)
            torch.nn.init.zeros_(self.context_projection.bias)
        self._init_candidate_terms(surface_features, predict_nil)
        self._unk_index = label_dictionary.item2idx.get(UNK, -1)
        self._name_cache: dict[str, torch.Tensor] = {}
        self._document_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _init_candidate_terms(self, surface_features: bool, predict_nil: bool | None) -> None:
        """Surface-feature weights and the NIL column (both only with candidates; both start at zero)."""
        has_candidates = self.candidates is not None
        self.surface_features = bool(surface_features) and has_candidates
        self.feature_weights = (
            torch.nn.Parameter(torch.zeros(NUM_FEATURES)) if self.surface_features else None
        )
        self._document_words = DocumentWords()
        if predict_nil is None:  # spans from another layer (NER) include mentions with no entity
            predict_nil = self.span_label_type is not None
        self.predict_nil = bool(predict_nil) and has_candidates
        self.nil_scorer = torch.nn.Linear(self._vector_size(), 1) if self.predict_nil else None
        if self.nil_scorer is not None:
            torch.nn.init.zeros_(self.nil_scorer.weight)
            torch.nn.init.zeros_(self.nil_scorer.bias)

    def _init_name_projection(self, name_width: int) -> None:
        """Start from "the mention looks like the name": when spans meet entities in the encoder's own
        space (no learned map in the decoder), the name vector is copied into every slot of the span
        vector (both halves for ``first_last``), so the first score already rewards mentions whose tokens
        resemble the entity's name; otherwise a small random map."""
        projection = self.name_projection
        assert projection is not None  # called only when the head uses entity names
        weight = projection.weight
        torch.nn.init.zeros_(projection.bias)
        size = self._vector_size()
        encoder_space = not (
            isinstance(self.decoder, PrototypicalDecoder) and self.decoder.metric_space_decoder is not None
        )
        if encoder_space and size % name_width == 0:
            with torch.no_grad():
                weight.copy_(torch.eye(name_width).repeat(size // name_width, 1))
        else:
            torch.nn.init.normal_(weight, std=0.02)

    # -- decoder access ----------------------------------------------------------------------------------
    def _check_decoder(self) -> None:
        decoder = self.decoder
        if isinstance(decoder, PrototypicalDecoder):
            sizes = (decoder.embeddings_size, decoder.num_prototypes)
        elif isinstance(decoder, torch.nn.Linear):
            sizes = (decoder.in_features, decoder.out_features)
        else:
            raise SpanClassifierError(
                f"decoder must be a PrototypicalDecoder or a torch.nn.Linear, got {type(decoder).__name__}"
            )
        expected = (self.span_embedding_size, len(self.label_dictionary))
        if sizes != expected:
            raise SpanClassifierError(
                f"decoder maps {sizes[0]} -> {sizes[1]}, but {self.pooling_operation} spans have size "
                f"{expected[0]} and the label dictionary has {expected[1]} items"
            )

    def _vector_size(self) -> int:
        """Size of the space in which spans meet entity vectors."""
        if isinstance(self.decoder, PrototypicalDecoder):
            return self.decoder.prototype_size
        return self.span_embedding_size

    def _encode_spans(self, vectors: torch.Tensor) -> torch.Tensor:
        if isinstance(self.decoder, PrototypicalDecoder):
            return self.decoder.encode(vectors)
        return vectors

    def _label_vectors(self, label_ids: torch.Tensor) -> torch.Tensor:
        """Prototype (or linear row) of every label id, zero where the id is -1."""
        if isinstance(self.decoder, PrototypicalDecoder):
            return self.decoder.gather_prototypes(label_ids)
        rows = self._linear_weights()[0][label_ids.clamp_min(0)]
        return rows * (label_ids >= 0).unsqueeze(-1).to(rows.dtype)

    def _linear_weights(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Weight and bias of a linear decoder (which ``quantize="int8"`` leaves in float)."""
        return cast(torch.Tensor, self.decoder.weight), cast("torch.Tensor | None", self.decoder.bias)

    def _match(self, encoded: torch.Tensor, vectors: torch.Tensor, label_ids: torch.Tensor) -> torch.Tensor:
        """Decoder score of each span ``[N, P]`` against its vectors ``[N, K, P]`` -> ``[N, K]``."""
        if isinstance(self.decoder, PrototypicalDecoder):
            return self.decoder.score_candidates(encoded, vectors, label_ids)
        scores = torch.bmm(vectors, encoded.unsqueeze(-1)).squeeze(-1)
        bias = self._linear_weights()[1]
        if bias is not None:
            bias = bias[label_ids.clamp_min(0)]
            scores = scores + bias * (label_ids >= 0).to(bias.dtype)
        return scores

    # -- spans ---------------------------------------------------------------------------------------------
    def _data_spans(self, sentence: Sentence) -> list[Span]:
        if self.span_label_type is not None:
            spans = sentence.get_spans(self.span_label_type)
            if spans:
                return spans
        return sentence.get_spans(self.label_type)

    def _gold_value(self, span: Span) -> str | None:
        labels = span.get_labels(self.label_type)
        return labels[0].value if labels else None

    def _span_vectors(
        self, sentences: list[Sentence], batch: EmbeddingBatch
    ) -> tuple[list[Span], torch.Tensor, list[int]]:
        spans: list[Span] = []
        rows: list[int] = []
        for row, sentence in enumerate(sentences):
            found = self._data_spans(sentence)
            spans.extend(found)
            rows.extend([row] * len(found))
        tokens = batch.token_embeddings
        if tokens is None:
            raise SpanClassifierError("SpanClassifier needs token embeddings (is_token_embedding=True)")
        if not spans:
            return spans, tokens.new_zeros(0, self.span_embedding_size), rows
        vectors = pool_span_vectors(tokens, rows, spans, self.pooling_operation)
        return spans, self.dropout(vectors), rows

    # -- entity names --------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> SpanClassifier:
        """Leaving training mode drops the name cache when the encoder is trainable: its weights moved."""
        if self.training and not mode and self.embeddings.fine_tune:
            self._name_cache = {}
            self._document_cache = weakref.WeakKeyDictionary()
        return super().train(mode)

    def _encode_names(self, entities: list[str]) -> torch.Tensor:
        """Pooled encoder vectors of the entities' names ``[len(entities), name width]`` (no gradient)."""
        sentences = [Sentence(entity_name(e)) for e in entities]
        for i, sentence in enumerate(sentences):
            if len(sentence) == 0:
                sentences[i] = Sentence([entities[i]])
        return pooled_sentence_vectors(self.embeddings, sentences, self.name_pooling)

    def _name_vectors(self, entities: list[str]) -> torch.Tensor:
        """Name vectors of ``entities``; each distinct name is encoded once per cache lifetime."""
        cache = self._name_cache
        missing = [e for e in entities if e not in cache]
        if missing:
            fresh = self._encode_names(missing)
            for entity, vector in zip(missing, fresh):
                cache[entity] = vector
        return torch.stack([cache[e] for e in entities])

    def _document_vectors(self, sentences: list[Sentence], rows: list[int]) -> torch.Tensor:
        """Mean token vector of each span's document head (news: the headline), cached per head."""
        cache = self._document_cache
        heads = [document_head(s) for s in sentences]
        missing = list({id(h): h for h in heads if h not in cache}.values())
        if missing:
            for head, vector in zip(missing, pooled_sentence_vectors(self.embeddings, missing, "mean")):
                cache[head] = vector
        per_sentence = torch.stack([cache[h] for h in heads])
        return per_sentence[torch.tensor(rows, dtype=torch.long, device=per_sentence.device)]

    def _with_context(
        self, encoded: torch.Tensor, sentences: list[Sentence], rows: list[int]
    ) -> torch.Tensor:
        if self.context_projection is None or not rows:
            return encoded
        documents = self._document_vectors(sentences, rows).to(device=encoded.device, dtype=encoded.dtype)
        return encoded + self.context_projection(documents)

    def precompute_entity_names(self, entities: Iterable[str] | None = None) -> int:
        """Fill the name cache (all candidate entities by default) so that prediction does not pause for
        it; returns how many names were encoded."""
        if entities is None:
            entities = self.candidates.entities if self.candidates is not None else []
        missing = [e for e in dict.fromkeys(entities) if e not in self._name_cache]
        if missing:
            was = self.training
            self.eval()
            self._name_vectors(missing)
            if was:
                self.train()
        return len(missing)

    # -- scores --------------------------------------------------------------------------------------------
    def compute_scores(self, sentences: list[Sentence], batch: EmbeddingBatch) -> SpanScores:
        spans, vectors, rows = self._span_vectors(sentences, batch)
        device = vectors.device
        encoded = self._with_context(self._encode_spans(vectors), sentences, rows)
        if self.candidates is None:
            return self._all_label_scores(spans, encoded)
        assert self.candidates is not None
        gold_values = [self._gold_value(span) for span in spans]
        entities, ids_np, prior_np, gold_np = candidate_table(
            self.candidates, spans, gold_values, self.training
        )
        ids = torch.from_numpy(ids_np).to(device)
        gold = torch.from_numpy(gold_np)
        valid = ids >= 0
        if not entities:
            scores = encoded.new_full(ids.shape, float("-inf"))
            return self._with_nil(SpanScores(spans, scores, gold, ids, entities), encoded, gold_values)
        index = self.label_dictionary.item2idx
        entity_labels = torch.tensor(
            [index.get(e, -1) if e != UNK else -1 for e in entities], dtype=torch.long, device=device
        )
        label_ids = entity_labels[ids.clamp_min(0)].masked_fill(~valid, -1)
        if self.training and self.prototype_dropout > 0:
            dropped = torch.rand(label_ids.shape, device=device) < self.prototype_dropout
            label_ids = label_ids.masked_fill(dropped, -1)
        candidate_vectors = self._label_vectors(label_ids).to(encoded.dtype)
        if self.name_projection is not None:
            names = self._name_vectors(entities).to(device=device, dtype=encoded.dtype)
            projected = self.name_projection(names)  # [U, P]: each distinct entity once
            candidate_vectors = candidate_vectors + projected[ids.clamp_min(0)]
        scores = self._match(encoded, candidate_vectors, label_ids)
        if self.prior_weight is not None:
            prior = torch.from_numpy(prior_np).to(device=device, dtype=scores.dtype)
            scores = scores + self.prior_weight.to(scores.dtype) * prior
        if self.feature_weights is not None:
            span_sentences = [sentences[row] for row in rows]
            features = candidate_features(spans, span_sentences, ids_np, entities, self._document_words)
            weights = self.feature_weights.to(scores.dtype)
            scores = scores + torch.from_numpy(features).to(device=device, dtype=scores.dtype) @ weights
        scores = scores.masked_fill(~valid, float("-inf"))
        return self._with_nil(SpanScores(spans, scores, gold, ids, entities), encoded, gold_values)

    def _with_nil(
        self, result: SpanScores, encoded: torch.Tensor, gold_values: list[str | None]
    ) -> SpanScores:
        """With ``predict_nil``, one more column: the score of "this mention links to no entity", which is
        the gold of a span without a ``label_type`` label (an NER span that is not linked)."""
        if self.nil_scorer is None:
            return result
        nil = self.nil_scorer(encoded).to(result.scores.dtype)
        column = result.scores.shape[-1]
        gold = result.gold.clone()
        for i, value in enumerate(gold_values):
            if value is None:
                gold[i] = column
        result.scores = torch.cat([result.scores, nil], dim=-1)
        result.gold = gold
        result.nil_column = column
        return result

    def _all_label_scores(self, spans: list[Span], encoded: torch.Tensor) -> SpanScores:
        if isinstance(self.decoder, PrototypicalDecoder):
            scores = self.decoder.score_all(encoded)
        else:
            scores = self.decoder(encoded)
        if self._unk_index >= 0:
            scores = scores.clone()
            scores[:, self._unk_index] = float("-inf")
        index = self.label_dictionary.item2idx
        gold = torch.full((len(spans),), -1, dtype=torch.long)
        for i, span in enumerate(spans):
            value = self._gold_value(span)
            column = index.get(value, -1) if value is not None else -1
            gold[i] = column if column != self._unk_index else -1
        return SpanScores(spans, scores, gold)

    def compute_loss(
        self, sentences: list[Sentence], logits: SpanScores, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        scores = logits.scores
        gold = logits.gold.to(scores.device)
        rows = gold >= 0
        count = int(rows.sum())
        if count == 0:
            return scores.sum() * 0.0 if scores.requires_grad else torch.zeros((), device=scores.device), 0
        loss = torch.nn.functional.cross_entropy(scores[rows].float(), gold[rows], reduction="sum")
        return loss, count

    def write_predictions(
        self,
        sentences: list[Sentence],
        logits: SpanScores,
        batch: EmbeddingBatch,
        label_name: str,
        return_probabilities_for_all_classes: bool,
    ) -> None:
        if not logits.spans or logits.scores.shape[-1] == 0:
            return  # no span has a candidate
        scores = logits.scores.float()
        has_candidate = torch.isfinite(scores).any(dim=-1)
        probs = torch.softmax(scores.masked_fill(~has_candidate.unsqueeze(-1), 0.0), dim=-1)
        names = logits.entities if logits.ids is not None else self.label_dictionary.idx2item
        ids = logits.ids.tolist() if logits.ids is not None else None
        nil = logits.nil_column
        if nil is not None:
            has_candidate &= probs.argmax(dim=-1) != nil  # the mention links to nothing: no label
        if return_probabilities_for_all_classes:
            for i, span in enumerate(logits.spans):
                if not has_candidate[i]:
                    continue
                row = probs[i]
                order = torch.argsort(row, descending=True).tolist()
                for k in order:
                    if k == nil or not math.isfinite(float(scores[i, k])):
                        continue
                    name = names[ids[i][k]] if ids is not None else names[k]
                    span.add_label(label_name, name, float(row[k]))
            return
        best_p, best = probs.max(dim=-1)
        for span, ok, k, p, i in zip(
            logits.spans, has_candidate.tolist(), best.tolist(), best_p.tolist(), range(len(logits.spans))
        ):
            if ok:
                span.add_label(label_name, names[ids[i][k]] if ids is not None else names[k], p)

    def evaluation_items(self, sentences: list[Sentence], label_name: str, offset: int) -> list[tuple]:
        return [
            (i, label.data_point.start, label.data_point.end, label.value)
            for i, sentence in enumerate(sentences, start=offset)
            for label in sentence.get_labels(label_name)
            if isinstance(label.data_point, Span)
        ]

    # -- training / prediction entry points ---------------------------------------------------------------
    def needs_encoding(self, sentence: Sentence) -> bool:
        """Only sentences with spans to link are encoded; the others just lose their old links."""
        return bool(self._data_spans(sentence))

    def forward_loss(
        self, sentences: list[Sentence], batch: EmbeddingBatch | None = None
    ) -> tuple[torch.Tensor, int]:
        """Summed loss over the batch's spans; sentences without spans are not even encoded."""
        if batch is None:
            sentences = [s for s in sentences if self.needs_encoding(s)]
            if not sentences:
                return torch.zeros((), requires_grad=True, device=self.device), 0
            batch = self.embed(sentences)
        return self.compute_loss(sentences, self.compute_scores(sentences, batch), batch)

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
        """Linking figures (:func:`~polytag.evaluation.evaluate_linking`): strong-match P/R/F1 and accuracy
        over gold spans, accuracy on entities seen / unseen in training (seen = in the label dictionary),
        and candidate recall@k when the model has candidates."""
        sentences = as_sentence_list(data_points)
        gold_label_type = gold_label_type or self.label_type
        outcome = self.predict(
            sentences, mini_batch_size=mini_batch_size, label_name=PREDICTED, return_loss=return_loss
        )
        excluded = set(exclude_labels)
        gold = [
            item for item in self.evaluation_items(sentences, gold_label_type, 0) if item[-1] not in excluded
        ]
        predicted = [
            item for item in self.evaluation_items(sentences, PREDICTED, 0) if item[-1] not in excluded
        ]
        candidates: dict[Hashable, Sequence[Any]] | None = None
        if self.candidates is not None:
            entities = self.candidates.entities
            candidates = {}
            for i, sentence in enumerate(sentences):
                for label in sentence.get_labels(gold_label_type):
                    span = label.data_point
                    if isinstance(span, Span):
                        ids = self.candidates.lookup_ids(span.text)[0].tolist()
                        candidates[(i, span.start, span.end)] = [entities[j] for j in ids]
        if out_path is not None:
            self.write_evaluation_file(out_path, sentences, gold_label_type, PREDICTED)
        for sentence in sentences:
            sentence.remove_labels(PREDICTED)
        seen = {item for item in self.label_dictionary.idx2item if item != UNK}
        loss = float(outcome[0]) / max(outcome[1], 1) if return_loss and outcome is not None else None
        return evaluate_linking(
            gold,
            predicted,
            candidates=candidates,
            seen_entities=seen,
            main_metric=main_evaluation_metric or ("micro avg", "f1-score"),
            loss=loss,
        )

    def evaluate_splits(
        self,
        splits: Mapping[str, Iterable[Sentence]],
        main_evaluation_metric: tuple[str, str] = ("accuracy", ""),
        **kwargs: Any,
    ) -> Result:
        """Score each named split (e.g. ZELDA's ``corpus.test_splits``) and their macro average
        (:func:`~polytag.evaluation.macro_average`: ``scores`` per split and ``"macro_avg"``)."""
        results = {
            name: self.evaluate(data, main_evaluation_metric=main_evaluation_metric, **kwargs)
            for name, data in splits.items()
        }
        if not results:
            raise SpanClassifierError("evaluate_splits needs at least one split")
        return macro_average(results)

    # -- model file ----------------------------------------------------------------------------------------
    def head_config(self) -> dict[str, Any]:
        config = decoder_config(self.decoder)
        if config is None:
            raise SpanClassifierError(f"cannot save a decoder of type {type(self.decoder).__name__}")
        return {
            "span_label_type": self.span_label_type,
            "pooling_operation": self.pooling_operation,
            "decoder": config,
            "candidates": None if self.candidates is None else self.candidates.to_config(),
            "use_entity_names": self.use_entity_names,
            "name_pooling": self.name_pooling,
            "use_prior": self.use_prior,
            "prototype_dropout": self.prototype_dropout,
            "dropout": self.dropout_rate,
            "document_context": self.document_context,
            "surface_features": self.surface_features,
            "predict_nil": self.predict_nil,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]) -> Classifier:
        """Files written before ``surface_features`` and ``predict_nil`` existed have no such weights."""
        return super().from_config({"surface_features": False, "predict_nil": False, **config}, embeddings)
