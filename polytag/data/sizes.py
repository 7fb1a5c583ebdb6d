"""What batching asks of a dataset before reading it: is it read from disk, and how long are its sentences.

These are questions about datasets, not about file formats: an on-disk index (the ``Indexed*File``
classes of :mod:`polytag.formats`) answers them through ``is_in_memory()`` and ``token_counts()``, and
the wrappers of :mod:`polytag.data.corpus` pass them through, so token-budget batching can sort a
corpus of millions of sentences by length without parsing one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from polytag.data.corpus import ConcatDataset, SubsetDataset, reads_from_disk

__all__ = ["dataset_token_counts", "is_lazy"]

is_lazy = reads_from_disk
"""True for data read from disk on access (or holding such a part); the name batching uses."""


def dataset_token_counts(data: Any) -> np.ndarray | None:
    """Words per sentence of a dataset without parsing it, or None when its storage does not know them.

    Looks through :class:`SubsetDataset` and :class:`ConcatDataset` (in-memory parts are counted from
    their sentences, which costs nothing) and datasets whose ``token_counts()`` comes from an index.
    """
    if isinstance(data, SubsetDataset):
        inner = dataset_token_counts(data.dataset)
        return None if inner is None else inner[np.asarray(data.indices, dtype=np.int64)]
    if isinstance(data, ConcatDataset):
        parts = [dataset_token_counts(d) for d in data.datasets]
        if all(p is None for p in parts):
            return None
        filled = [
            p if p is not None else np.fromiter((len(s) for s in d), dtype=np.int32, count=len(d))
            for p, d in zip(parts, data.datasets)
        ]
        return np.concatenate(filled) if filled else np.zeros(0, dtype=np.int32)
    counts = getattr(data, "token_counts", None)
    if callable(counts):
        result: np.ndarray = counts()
        return result
    return None
