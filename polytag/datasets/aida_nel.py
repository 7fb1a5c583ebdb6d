"""AIDA-CoNLL entity linking with PPRforNED candidates (the shared ``aida_nel`` corpus).

Files: ``{train,dev,test}.tsv`` (``token<TAB>ner<TAB>nel``, IOB2; ``nel`` spans carry Wikipedia titles)
and ``candidates.tsv`` (``mention<TAB>title<TAB>in_count<TAB>rank``). Lines are split on tabs with no
quoting: ``"`` is a token and some titles contain ``"``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from polytag.datasets.base import check_in_memory, corpus_folder, require_files
from polytag.datasets.sequence_labeling import ColumnCorpus, known_span_layers
from polytag.errors import FormatError
from polytag.formats.textio import gc_paused, iter_lines

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

CANDIDATES_HEADER = ("mention", "title", "in_count", "rank")


def load_candidate_table(path: PathLike) -> dict[str, list[tuple[str, float]]]:
    """``mention -> [(title, in_count), ...]`` from ``candidates.tsv``, each list ordered by ``rank``.

    ``rank`` is 0-based within a mention and orders by in_count (it is *not* PPRforNED's list order,
    which puts the gold entity first). A header line is skipped; a row that is not four tab-separated
    fields with a numeric ``in_count`` and an integer ``rank`` raises :class:`FormatError`.
    """
    path = Path(path)
    with gc_paused():  # many small tuples: a collection would walk every object already loaded
        rows: dict[str, list[tuple[int, str, float]]] = {}
        for line_no, line in iter_lines(path):
            if not line:
                continue
            fields = line.split("\t")
            if line_no == 1 and tuple(fields) == CANDIDATES_HEADER:
                continue
            if len(fields) != 4:
                raise FormatError(
                    path,
                    line_no,
                    f"expected 4 tab-separated fields {CANDIDATES_HEADER}, got {len(fields)}: {line!r}",
                )
            mention, title, in_count, rank = fields
            if not mention or not title:
                raise FormatError(path, line_no, f"empty mention or title: {line!r}")
            try:
                count = float(in_count)
                position = int(rank)
            except ValueError:
                raise FormatError(
                    path,
                    line_no,
                    f"expected a number in_count and an integer rank, got {in_count!r} and {rank!r}",
                ) from None
            rows.setdefault(mention, []).append((position, title, count))
        table: dict[str, list[tuple[str, float]]] = {}
        for mention, entries in rows.items():
            entries.sort(key=lambda entry: entry[0])  # stable: equal ranks keep file order
            table[mention] = [(title, count) for _, title, count in entries]
    return table


class AIDA_NEL(ColumnCorpus):
    """AIDA-CoNLL (``aida_nel/``): layers ``ner`` (CoNLL-03 spans) and ``nel`` (Wikipedia-title spans).

    946 / 216 / 231 documents (CoNLL-03 train / testa / testb); each starts with ``-DOCSTART-`` and a
    ``# document <N> <split>`` comment, kept in the first sentence's ``metadata["comment"]``. NIL
    mentions have no ``nel`` span. ``corpus.candidates_file`` is the candidate table, read with
    :func:`load_candidate_table` (or :meth:`load_candidates`). The corpus is built from CoNLL-03 and
    PPRforNED (no public download of this layout): missing files raise an error saying where they go.
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        column_format: dict[int, str] | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        column_format = dict(column_format or {0: "text", 1: "ner", 2: "nel"})
        folder = corpus_folder(base_path, "aida_nel")
        files = ["train.tsv", "dev.tsv", "test.tsv"]
        if not all((folder / f).is_file() for f in files):
            require_files(
                folder,
                files + ["candidates.tsv"],
                "aida_nel",
                note="This corpus has no public download in this layout: it is built from CoNLL-2003 and "
                "PPRforNED by the shared datasets' tools/build_aida_nel.py (see its README.md).",
            )
        self.candidates_file = folder / "candidates.tsv"
        if not self.candidates_file.is_file():
            log.warning("AIDA_NEL: no candidate table at %s", self.candidates_file)
        corpusargs.setdefault("name", "aida_nel")
        corpusargs.setdefault("span_layers", known_span_layers(column_format))
        super().__init__(
            folder,
            column_format,
            train_file=files[0],
            dev_file=files[1],
            test_file=files[2],
            comment_symbol="# ",
            document_separator_token="-DOCSTART-",
            **corpusargs,
        )

    def load_candidates(self) -> dict[str, list[tuple[str, float]]]:
        """The candidate table of this corpus (see :func:`load_candidate_table`)."""
        return load_candidate_table(self.candidates_file)
