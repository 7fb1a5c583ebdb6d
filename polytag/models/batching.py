"""Batch helpers shared by the prediction loop, MultitaskModel and the ONNX predictor."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from polytag.data import Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings


def as_sentence_list(sentences: Sentence | Iterable[Sentence]) -> list[Sentence]:
    """Flair accepts one sentence or many wherever it accepts sentences."""
    if isinstance(sentences, Sentence):
        return [sentences]
    return list(sentences)


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


def select_rows(batch: EmbeddingBatch, rows: list[int]) -> EmbeddingBatch:
    """The sub-batch of ``rows``, trimmed to its longest sentence (the batch itself for all rows)."""
    if len(rows) == len(batch) and rows == list(range(len(batch))):
        return batch
    index = torch.tensor(rows, dtype=torch.long)
    lengths = batch.lengths[index]
    width = int(lengths.max()) if len(rows) else 0
    device_index = index.to(batch.mask.device)
    tokens = batch.token_embeddings
    docs = batch.document_embeddings
    return EmbeddingBatch(
        token_embeddings=None if tokens is None else tokens.index_select(0, device_index)[:, :width],
        lengths=lengths,
        mask=batch.mask.index_select(0, device_index)[:, :width],
        document_embeddings=None if docs is None else docs.index_select(0, device_index),
    )
