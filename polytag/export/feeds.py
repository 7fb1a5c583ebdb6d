"""From sentences to the graph's input arrays: the encoder's own batch plan turned into gather indexes.

The plan (tokenizing, document context, windows for long sentences) is computed by
:class:`TransformerEmbeddings` itself, so the exported model sees exactly the encoder rows the torch
model sees. Here its scatter-style index arrays (``key`` = token slot, ``source`` = hidden-state row) are
turned into the fixed-width gather arrays the graph takes; everything is numpy, nothing loops per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from polytag.data import Sentence
from polytag.embeddings import TransformerEmbeddings


def _rank_in_group(groups: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal values (``groups`` is sorted)."""
    n = groups.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(groups[1:], groups[:-1], out=starts[1:])
    index = np.arange(n, dtype=np.int64)
    return index - np.maximum.accumulate(np.where(starts, index, 0))


def _gather_table(groups: np.ndarray, values: np.ndarray, n_groups: int, fill: int) -> np.ndarray:
    """``[n_groups, k]``: the values of each group side by side, ``fill`` where a group is shorter."""
    counts = np.bincount(groups, minlength=n_groups) if groups.size else np.zeros(n_groups, np.int64)
    width = max(int(counts.max(initial=0)), 1)
    table = np.full((n_groups, width), fill, dtype=np.int64)
    table[groups, _rank_in_group(groups)] = values
    return table


def graph_feeds(
    embeddings: TransformerEmbeddings,
    sentences: Sequence[Sentence],
    needs_tokens: bool,
    needs_document: bool,
) -> dict[str, np.ndarray]:
    """The graph inputs for one batch of ``sentences`` (see :mod:`polytag.export.graph`)."""
    plan: dict[str, Any] = embeddings._plan(list(sentences))
    input_ids = plan["input_ids"].numpy().astype(np.int64, copy=False)
    attention_mask = plan["attention_mask"].numpy().astype(np.int64, copy=False)
    batch, n_tokens = plan["batch"], plan["n_tokens"]
    zero_row = int(input_ids.shape[0] * input_ids.shape[1])
    key = np.asarray(plan["key"], dtype=np.int64)
    source = np.asarray(plan["source"], dtype=np.int64)
    feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
    if needs_tokens:
        slots = batch * n_tokens
        pooling = embeddings.subtoken_pooling
        if pooling == "mean":
            table = _gather_table(key, source, slots, zero_row)
        else:
            first = np.zeros(key.size, dtype=bool)
            last = np.zeros(key.size, dtype=bool)
            if key.size:
                first[0] = last[-1] = True
                np.not_equal(key[1:], key[:-1], out=first[1:])
                np.not_equal(key[:-1], key[1:], out=last[:-1])
            columns = {"first": [first], "last": [last], "first_last": [first, last]}[pooling]
            table = np.full((slots, len(columns)), zero_row, dtype=np.int64)
            for c, chosen in enumerate(columns):
                table[key[chosen], c] = source[chosen]
        feeds["token_source"] = table.reshape(batch, n_tokens, table.shape[1])
        feeds["lengths"] = np.asarray(plan["n_words"], dtype=np.int64)
    if needs_document:
        if embeddings.cls_pooling == "cls":
            feeds["doc_source"] = np.asarray(plan["cls_source"], dtype=np.int64).reshape(batch, 1)
        else:
            rows = np.asarray(plan["rows"], dtype=np.int64)
            feeds["doc_source"] = _gather_table(rows, source, batch, zero_row)
    return feeds
