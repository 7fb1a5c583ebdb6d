"""Candidate tables on disk: ``mention -> {entity: prior}`` from a TSV file, from gold spans, or ZELDA's.

These readers are data loading, so they live with the corpora; :class:`polytag.nn.CandidateGenerator`
(one layer up) turns their tables into its compact look-up buffers. A table maps a mention surface to
entities with a non-negative prior (a link count, an in-link count: larger means more likely).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from polytag.datasets.base import datasets_root
from polytag.datasets.entity_linking import find_zelda_files
from polytag.datasets.zelda_files import ZeldaFileDataset
from polytag.datasets.zelda_pickle import read_mention_entities_counter
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.formats.textio import atomic_writer, gc_paused, iter_line_chunks

log = logging.getLogger("polytag")

PathLike = str | os.PathLike
CandidateTable = dict[str, dict[str, float]]
# ZELDA's candidate files, read in this order before falling back to counting its training file.
ZELDA_CANDIDATE_FILES = ("candidates.tsv", "zelda_mention_entities_counter.tsv")
ZELDA_COUNTER_PICKLE = "zelda_mention_entities_counter.pickle"
# Where the pickle lies: ZELDA's zip (other/), ZELDA's scripts (train_data/), flat, Flair's download spot.
ZELDA_PICKLE_PLACES = (
    Path("other") / ZELDA_COUNTER_PICKLE,
    Path("train_data") / ZELDA_COUNTER_PICKLE,
    Path(ZELDA_COUNTER_PICKLE),
    Path("..") / ZELDA_COUNTER_PICKLE,
)


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


def write_candidate_file(table: CandidateTable, path: PathLike) -> tuple[int, int]:
    """Write ``table`` as the TSV :func:`read_candidate_file` reads (header ``mention entity count``).

    Each mention's entities are written best first. A mention or entity holding a tab, a newline or a
    carriage return cannot be a TSV field and is skipped. Returns (rows written, entries skipped).
    """
    written = skipped = 0
    with atomic_writer(path) as out:
        out.write("mention\tentity\tcount\n")
        for mention, entities in table.items():
            for entity, prior in sorted(entities.items(), key=lambda item: (-item[1], item[0])):
                if (
                    any(c in field for field in (mention, entity) for c in "\t\n\r")
                    or not mention
                    or not entity
                ):
                    skipped += 1
                    continue
                count = int(prior) if float(prior).is_integer() else prior
                out.write(f"{mention}\t{entity}\t{count}\n")
                written += 1
    return written, skipped


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


def find_zelda_counter_pickle(folder: Path) -> Path | None:
    """ZELDA's ``zelda_mention_entities_counter.pickle`` in one of its usual places, or None."""
    return next((folder / p for p in ZELDA_PICKLE_PLACES if (folder / p).is_file()), None)


def clean_zelda_counter(table: CandidateTable, source: str) -> CandidateTable:
    """ZELDA's counter made to fit its CoNLL files; what changed is logged with its counts.

    The counter names entities by Wikipedia title with spaces (``Cristiano Ronaldo``), the CoNLL
    files with underscores (``Cristiano_Ronaldo``; Wikipedia treats both alike): spaces become
    underscores, counts of a title written both ways are added. Entries a candidate table cannot hold
    (an empty mention or title, a NUL character) are dropped.
    """
    cleaned: CandidateTable = {}
    renamed = dropped = 0
    for mention, entities in table.items():
        if not mention or "\x00" in mention:
            dropped += len(entities)
            continue
        row: dict[str, float] = {}
        for entity, count in entities.items():
            title = entity.strip().replace(" ", "_")
            if not title or "\x00" in title:
                dropped += 1
                continue
            renamed += title != entity
            row[title] = row.get(title, 0.0) + count
        if row:
            cleaned[mention] = row
    if renamed or dropped:
        log.info(
            "ZELDA candidates %s: %d title(s) written with spaces now use underscores as in ZELDA's CoNLL "
            "files; %d entr(ies) with an empty or NUL-holding mention or title dropped",
            source,
            renamed,
            dropped,
        )
    return cleaned


def zelda_candidate_table(base_path: PathLike | None = None) -> CandidateTable:
    """ZELDA's candidate lists from the local ``zelda/`` folder (offline).

    Read in this order: ``zelda/candidates.tsv`` or ``zelda/zelda_mention_entities_counter.tsv``
    (TSV as :func:`read_candidate_file` reads it); else ZELDA's own
    ``zelda_mention_entities_counter.pickle`` (in ``zelda/other/``, ``zelda/train_data/``, ``zelda/`` or
    the datasets root, where Flair downloads it), read by the restricted reader of
    :mod:`polytag.datasets.zelda_pickle` and fitted to the CoNLL titles (:func:`clean_zelda_counter`);
    else the mention -> entity counts of ZELDA's training file, read on demand.
    """
    folder = datasets_root(base_path) / "zelda"
    for name in ZELDA_CANDIDATE_FILES:
        if (folder / name).is_file():
            return read_candidate_file(folder / name)
    pickled = find_zelda_counter_pickle(folder)
    if pickled is not None:
        log.info("ZELDA candidates: reading %s (restricted: plain containers, strings, numbers)", pickled)
        return clean_zelda_counter(read_mention_entities_counter(pickled), pickled.name)
    train = find_zelda_files(folder)[0] if folder.is_dir() else None
    if train is None:
        raise DatasetNotFoundError(
            f"no ZELDA candidates in {folder}: put ZELDA's other/{ZELDA_COUNTER_PICKLE} there, a TSV "
            "'candidates.tsv' (mention, entity, count), or ZELDA's train_data/zelda_train.conll to count "
            "mentions from"
        )
    return count_linked_spans(ZeldaFileDataset(train, {0: "text", 2: "nel"}, in_memory=False), "nel")
