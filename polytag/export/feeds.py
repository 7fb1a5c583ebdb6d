"""From sentences to the graph's input arrays: the encoder's own batch plan turned into gather indexes.

The plan (tokenizing, document context, windows for long sentences) is computed by the encoder's own
:class:`~polytag.embeddings.SubtokenPlanner`, so the exported model sees exactly the encoder rows the
torch model sees. Here its scatter-style index arrays (``key`` = token slot, ``source`` = hidden-state
row) are turned into the fixed-width gather arrays the graph takes; everything is numpy, nothing loops
per token.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from polytag.data import Sentence
from polytag.embeddings import SubtokenPlanner


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
    planner: SubtokenPlanner,
    sentences: Sequence[Sentence],
    needs_tokens: bool,
    needs_document: bool,
) -> dict[str, np.ndarray]:
    """The graph inputs for one batch of ``sentences`` (see :mod:`polytag.export.graph`).

    Planned without context dropout: exported graphs are for prediction.
    """
    plan = planner.plan(sentences)
    input_ids = plan.input_ids.astype(np.int64, copy=False)
    attention_mask = plan.attention_mask.astype(np.int64, copy=False)
    batch, n_tokens = plan.batch, plan.n_tokens
    zero_row = int(input_ids.shape[0] * input_ids.shape[1])
    key, source = plan.key, plan.source
    feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
    settings = planner.settings
    if needs_tokens:
        slots = batch * n_tokens
        pooling = settings.subtoken_pooling
        if pooling == "mean":
            table = _gather_table(key, source, slots, zero_row)
        else:
            first, last = plan.first_and_last()
            columns = {"first": [first], "last": [last], "first_last": [first, last]}[pooling]
            table = np.full((slots, len(columns)), zero_row, dtype=np.int64)
            for c, chosen in enumerate(columns):
                table[key[chosen], c] = source[chosen]
        feeds["token_source"] = table.reshape(batch, n_tokens, table.shape[1])
        feeds["lengths"] = plan.n_words.astype(np.int64, copy=False)
    if needs_document:
        if settings.cls_pooling == "cls":
            feeds["doc_source"] = plan.cls_source.reshape(batch, 1)
        else:
            feeds["doc_source"] = _gather_table(
                plan.rows.astype(np.int64, copy=False), source, batch, zero_row
            )
    return feeds
