"""Split a mini-batch into encoder passes of bounded padded size.

An encoder pass costs memory for every padded position: a batch of 16 sentences whose longest one has
174 subtokens holds 16 x 174 positions of activations (about 1.2 GB for MiniLM), although the other 15
sentences have 20. Because the training step backpropagates the batch's *summed* loss, running a batch
as several passes and adding their gradients gives the same update; so a batch whose padded size
exceeds ``max_padded`` runs as length-sorted passes that each stay under it (a single sentence longer
than the cap runs alone). Batches within the cap run as they are. (A MultitaskModel normalises each
task's loss by its item count inside a pass, so there the passes weight items slightly differently than
one pass would, as with ``mini_batch_chunk_size``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def padded_chunks(batch: Sequence[T], lengths: Sequence[int], max_padded: int) -> list[list[T]]:
    """Length-sorted groups of ``batch`` whose size x longest length stays within ``max_padded``."""
    if len(batch) != len(lengths):
        raise ValueError(f"{len(lengths)} lengths for a batch of {len(batch)}")
    widest = max(lengths, default=0)
    if widest * len(batch) <= max_padded:
        return [list(batch)]
    order = sorted(range(len(batch)), key=lambda i: -int(lengths[i]))
    chunks: list[list[T]] = []
    current: list[T] = []
    width = 0
    for i in order:
        if current and (len(current) + 1) * width > max_padded:
            chunks.append(current)
            current = []
        if not current:
            width = max(int(lengths[i]), 1)
        current.append(batch[i])
    if current:
        chunks.append(current)
    return chunks


def chunk_batch(
    batch: Sequence[Any], chunk_size: int | None, max_padded: int | None, length_fn: Any
) -> list[list[Any]]:
    """The passes of one step: by count (``mini_batch_chunk_size``), then by padded size."""
    by_count = (
        [list(batch)]
        if not chunk_size or len(batch) <= chunk_size
        else [list(batch[i : i + chunk_size]) for i in range(0, len(batch), chunk_size)]
    )
    if not max_padded or length_fn is None:
        return by_count
    result: list[list[Any]] = []
    for part in by_count:
        result.extend(padded_chunks(part, length_fn(part), max_padded))
    return result
