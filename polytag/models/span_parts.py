"""The SpanClassifier's parts that are not the head itself: span pooling, sentence (name, headline)
vectors, and the per-batch candidate table. Kept apart so that the head reads as hooks over them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from polytag.data import Sentence, Span
from polytag.embeddings import TransformerEmbeddings
from polytag.errors import PolytagError
from polytag.nn.candidates import CandidateGenerator

POOLINGS = ("first_last", "first", "last", "mean")
NAME_POOLINGS = ("mean", "first", "first_last")
MIN_SHARE = 1e-4  # the smallest prior share a candidate gets (its log must stay finite)
NAME_BATCH = 256


class SpanClassifierError(PolytagError, ValueError):
    """A SpanClassifier setting that cannot work (unknown pooling, decoder of the wrong size)."""


def entity_name(entity: str) -> str:
    """The text an entity id stands for: Wikipedia titles use underscores for spaces."""
    return entity.replace("_", " ").strip() or entity


@dataclass
class SpanScores:
    """What :meth:`SpanClassifier.compute_scores` hands to ``compute_loss`` and ``write_predictions``.

    ``spans[i]`` is the i-th scored span; ``scores[i, k]`` is its score for entity ``entities[ids[i, k]]``
    (``-inf`` where ``ids`` is -1, i.e. padding); ``gold[i]`` is the position of the gold entity in row i
    or -1. Without candidates, ``ids`` is None and the columns are the label dictionary's items. With
    ``nil_column``, ``scores`` has one column more than ``ids``: the score of linking to no entity.
    """

    spans: list[Span]
    scores: torch.Tensor
    gold: torch.Tensor
    ids: torch.Tensor | None = None
    entities: list[str] = field(default_factory=list)
    nil_column: int | None = None  # the last column scores "links to no entity" (``predict_nil``)


def pool_span_vectors(tokens: torch.Tensor, rows: list[int], spans: list[Span], op: str) -> torch.Tensor:
    """One vector per span from the padded token vectors ``tokens`` ``[B, T, D]`` (span i lies in batch
    row ``rows[i]``), by index arithmetic only: ``first``, ``last``, ``first_last`` (concatenated) or
    ``mean``."""
    device = tokens.device
    row_t = torch.tensor(rows, dtype=torch.long, device=device)
    start = torch.tensor([s.start for s in spans], dtype=torch.long, device=device)
    end = torch.tensor([s.end for s in spans], dtype=torch.long, device=device)
    if op == "first":
        return tokens[row_t, start]
    if op == "last":
        return tokens[row_t, end - 1]
    if op == "first_last":
        return torch.cat([tokens[row_t, start], tokens[row_t, end - 1]], dim=-1)
    # prefix sums over the token axis: sum of tokens[start:end] = c[end] - c[start]
    zeros = tokens.new_zeros(tokens.shape[0], 1, tokens.shape[-1])
    prefix = torch.cat([zeros, tokens.cumsum(dim=1)], dim=1)
    total = prefix[row_t, end] - prefix[row_t, start]
    return total / (end - start).unsqueeze(-1).to(total.dtype)


def pooled_sentence_vectors(
    embeddings: TransformerEmbeddings, sentences: list[Sentence], pooling: str
) -> torch.Tensor:
    """One vector per sentence from its own tokens (no context, no gradient, encoder in eval mode)."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    pieces: list[torch.Tensor] = []
    was_training = embeddings.training
    embeddings.eval()
    try:
        with torch.no_grad():
            for k in range(0, len(order), NAME_BATCH):
                chunk = [sentences[i] for i in order[k : k + NAME_BATCH]]
                batch = embeddings.forward_batch(chunk)
                tokens = batch.token_embeddings
                if tokens is None:
                    raise SpanClassifierError("entity names need token embeddings (is_token_embedding=True)")
                if pooling == "first":
                    pooled = tokens[:, 0]
                else:
                    mask = batch.mask.unsqueeze(-1).to(tokens.dtype)
                    pooled = (tokens * mask).sum(1) / mask.sum(1).clamp_min(1.0)
                    if pooling == "first_last":
                        last = tokens[
                            torch.arange(len(chunk), device=tokens.device),
                            (batch.lengths - 1).clamp_min(0).to(tokens.device),
                        ]
                        pooled = torch.cat([tokens[:, 0], last], dim=-1)
                pieces.append(pooled)
    finally:
        embeddings.train(was_training)
    stacked = torch.cat(pieces, dim=0)
    result = torch.empty_like(stacked)
    result[torch.tensor(order, device=stacked.device)] = stacked
    return result


def document_head(sentence: Sentence) -> Sentence:
    """The first sentence of ``sentence``'s document (itself when it has no earlier neighbour)."""
    head = sentence
    for _ in range(100_000):
        previous = head.previous_sentence()
        if previous is None or previous is sentence or previous.document_id != sentence.document_id:
            break
        head = previous
    return head


def candidate_table(
    generator: CandidateGenerator, spans: list[Span], gold_values: list[str | None], training: bool
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Per span its candidates (ids into a batch-local entity list), log prior shares and gold column.

    In ``training`` a gold entity missing from a span's candidates is added at the list's smallest prior
    (so that every labelled span teaches something); otherwise its gold column stays -1.
    """
    all_entities = generator.entities
    local: dict[str, int] = {}
    rows_ids: list[list[int]] = []
    rows_prior: list[np.ndarray] = []
    gold = np.full(len(spans), -1, dtype=np.int64)
    for i, span in enumerate(spans):
        ids, priors, total = generator.lookup_ids(span.text)
        names = [all_entities[j] for j in ids.tolist()]
        shares = (
            np.log(np.maximum(priors / total, MIN_SHARE))
            if total > 0
            else np.full(len(names), math.log(MIN_SHARE), dtype=np.float32)
        )
        value = gold_values[i]
        if value is not None:
            if value in names:
                gold[i] = names.index(value)
            elif training:
                gold[i] = len(names)
                names.append(value)
                floor = float(shares.min()) if len(shares) else math.log(MIN_SHARE)
                shares = np.append(shares, np.float32(floor))
        rows_ids.append([local.setdefault(n, len(local)) for n in names])
        rows_prior.append(shares.astype(np.float32))
    width = max((len(r) for r in rows_ids), default=0)
    ids_array = np.full((len(spans), width), -1, dtype=np.int64)
    prior_array = np.zeros((len(spans), width), dtype=np.float32)
    for i, (r, p) in enumerate(zip(rows_ids, rows_prior)):
        ids_array[i, : len(r)] = r
        prior_array[i, : len(p)] = p
    return list(local), ids_array, prior_array, gold
