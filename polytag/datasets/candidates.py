"""Candidate tables on disk: ``mention -> {entity: prior}`` from a TSV file, from gold spans, or ZELDA's.

These readers are data loading, so they live with the corpora; :class:`polytag.nn.CandidateGenerator`
(one layer up) turns their tables into its compact look-up buffers. A table maps a mention surface to
entities with a non-negative prior (a link count, an in-link count: larger means more likely).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from polytag.datasets.base import datasets_root
from polytag.datasets.entity_linking import find_zelda_files
from polytag.datasets.sequence_labeling import ColumnDataset
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.formats.textio import gc_paused, iter_line_chunks

PathLike = str | os.PathLike
CandidateTable = dict[str, dict[str, float]]
# ZELDA's candidate files, read in this order before falling back to counting its training file.
ZELDA_CANDIDATE_FILES = ("candidates.tsv", "zelda_mention_entities_counter.tsv")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_candidate_file(path: PathLike) -> CandidateTable:
    """``mention -> {entity: prior}`` from a TSV file ``mention<TAB>entity[<TAB>prior[<TAB>...]]``.

    A first line whose third field is not a number is a header. Without a prior column every entity
    gets 1.0; further columns (e.g. ``rank``) are ignored; a repeated (mention, entity) row keeps the
    larger prior. Fields are split on tabs only (no quoting): ``"`` is an ordinary character.
    """
    path = Path(path)
    table: CandidateTable = {}
    with gc_paused():
        for first, lines in iter_line_chunks(path):
            for line_no, line in enumerate(lines, first):
                line = line.rstrip("\r")
                if not line:
                    continue
                fields = line.split("\t")
                if len(fields) < 2 or not fields[0] or not fields[1]:
                    raise FormatError(
                        path, line_no, f"expected 'mention<TAB>entity[<TAB>prior]', got {line!r}"
                    )
                if len(fields) >= 3:
                    if not _is_number(fields[2]):
                        if line_no == 1:
                            continue  # header
                        raise FormatError(path, line_no, f"the prior {fields[2]!r} is not a number")
                    prior = float(fields[2])
                    if not prior >= 0.0:
                        raise FormatError(path, line_no, f"the prior must be >= 0, got {fields[2]!r}")
                else:
                    prior = 1.0
                entities = table.setdefault(fields[0], {})
                if entities.get(fields[1], -1.0) < prior:
                    entities[fields[1]] = prior
    return table


def count_linked_spans(sentences: Iterable[Any], label_type: str = "nel") -> CandidateTable:
    """``span text -> {entity: how often that text carries the entity}`` over the gold ``label_type`` spans.

    Labels of whole sentences (and of anything without a ``start``) are not mentions and are skipped.
    """
    counts: CandidateTable = {}
    for sentence in sentences:
        for label in sentence.get_labels(label_type):
            span = label.data_point
            if span is sentence or not hasattr(span, "start"):
                continue
            entities = counts.setdefault(span.text, {})
            entities[label.value] = entities.get(label.value, 0.0) + 1.0
    return counts


def zelda_candidate_table(base_path: PathLike | None = None) -> CandidateTable:
    """ZELDA's candidate lists from the local ``zelda/`` folder (offline; Flair downloads a pickle).

    Read in this order: ``zelda/candidates.tsv`` or ``zelda/zelda_mention_entities_counter.tsv``
    (TSV as :func:`read_candidate_file` reads it); else the mention -> entity counts of ZELDA's
    training file, which is what ZELDA's published counter was made from.
    """
    folder = datasets_root(base_path) / "zelda"
    for name in ZELDA_CANDIDATE_FILES:
        if (folder / name).is_file():
            return read_candidate_file(folder / name)
    train = find_zelda_files(folder)[0] if folder.is_dir() else None
    if train is None:
        raise DatasetNotFoundError(
            f"no ZELDA candidates in {folder}: put a TSV 'candidates.tsv' (mention, entity, count) "
            "there, or ZELDA's train_data/zelda_train.conll to count mentions from"
        )
    data = ColumnDataset(
        train,
        {0: "text", 2: "nel"},
        document_separator_token="-DOCSTART-",
        comment_symbol="# ",
        span_layers=["nel"],
    )
    return count_linked_spans(data, "nel")
