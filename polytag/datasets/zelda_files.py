"""ZELDA's CoNLL files as published, with their one known quirk handled and logged.

ZELDA's ``test_tweeki.conll`` has six tokens tagged ``O-<page id>`` / ``O-<title>`` (for example
``RDU	O-266955	O-Raleigh–Durham_International_Airport``): annotations that the Tweeki conversion kept
outside every mention. The strict column reader refuses a tag with the prefix ``O-`` (it is neither
``O`` nor ``B-``/``I-``), which is right for a user's own files; for ZELDA's own distribution such a tag
is read as ``O`` and each file's count and first lines are logged once, when the file is opened.
Any other malformed tag still raises :class:`~polytag.errors.FormatError`.

Both the whole-file reader and the on-demand index (``in_memory=False``, flat memory for ZELDA's
multi-gigabyte training file) apply the same rule.
"""

from __future__ import annotations

import logging
import mmap
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from polytag.data import Sentence
from polytag.datasets.sequence_labeling import ColumnDataset
from polytag.errors import DatasetNotFoundError
from polytag.formats.column import ColumnSettings, IndexedColumnFile
from polytag.formats.column_build import documents
from polytag.formats.column_parse import Block, detect_span_columns, parse_blocks

log = logging.getLogger("polytag")

PathLike = str | os.PathLike
OUTSIDE_PREFIX = "O-"
"""ZELDA's quirk: a tag ``O-<id or title>`` outside any mention."""
ZELDA_READER_ARGS: dict[str, Any] = {"document_separator_token": "-DOCSTART-", "comment_symbol": "# "}
ZELDA_TAG_COLUMNS = (1, 2)  # page ids and titles, both BIO
_SHOWN_LINES = 10


def zelda_span_layers(column_format: dict[int, str]) -> list[str]:
    """The layers of ``column_format`` on ZELDA's BIO columns (1: page ids, 2: titles): read as spans."""
    return sorted({name for col, name in column_format.items() if col in ZELDA_TAG_COLUMNS})


def find_outside_tags(path: PathLike, chunk_bytes: int = 1 << 24) -> list[int]:
    """Line numbers (1-based) of the lines holding a field that starts with ``O-`` after a tab.

    A byte search over the file (no parsing), so that the count can be logged when a file is opened,
    also for the on-demand reader. Only the label columns follow a tab, so tokens are not matched.
    """
    needle = b"\t" + OUTSIDE_PREFIX.encode("ascii")
    lines: list[int] = []
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return lines
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            counted_to, line = 0, 1  # newlines before ``counted_to``
            pos = data.find(needle)
            while pos >= 0:
                while counted_to < pos:  # count newlines up to the hit, a chunk at a time
                    end = min(pos, counted_to + chunk_bytes)
                    line += data[counted_to:end].count(b"\n")
                    counted_to = end
                if not lines or lines[-1] != line:
                    lines.append(line)
                pos = data.find(needle, pos + 1)
    return lines


def log_outside_tags(path: Path, lines: list[int]) -> None:
    if not lines:
        return
    shown = ", ".join(str(n) for n in lines[:_SHOWN_LINES]) + (" ..." if len(lines) > _SHOWN_LINES else "")
    log.warning(
        "ZELDA %s: %d line(s) tagged 'O-<id/title>' (lines %s) are outside any mention in ZELDA's "
        "distribution; read as O",
        path.name,
        len(lines),
        shown,
    )


def outside_as_o(block: Block, span_cols: Iterable[int]) -> Block:
    """``block`` with every ``O-...`` tag in ``span_cols`` replaced by ``O`` (rows copied only if needed)."""
    rows, line_nos, comments = block
    cols = list(span_cols)
    if not any(row[c].startswith(OUTSIDE_PREFIX) for row in rows for c in cols):
        return block
    fixed = []
    for row in rows:
        if any(row[c].startswith(OUTSIDE_PREFIX) for c in cols):
            row = [
                "O" if i in cols and field.startswith(OUTSIDE_PREFIX) else field
                for i, field in enumerate(row)
            ]
        fixed.append(row)
    return fixed, line_nos, comments


class IndexedZeldaFile(IndexedColumnFile):
    """:class:`~polytag.formats.column.IndexedColumnFile` that reads ZELDA's ``O-`` tags as ``O``.

    Takes the arguments of :class:`~polytag.formats.column.IndexedColumnFile`; ``span_layers`` must be
    given (the ZELDA loader declares its tag columns).
    """

    def __init__(self, path: PathLike, column_format: dict[int, str], **kwargs: Any) -> None:
        layers = set(kwargs.get("span_layers") or ())
        self.outside_cols = sorted(int(c) for c, name in column_format.items() if name in layers)
        super().__init__(path, column_format, **kwargs)

    def _blocks(self, text: str) -> list[Any]:  # the hook where each sentence's raw fields come in
        return [outside_as_o(block, self.outside_cols) for block in super()._blocks(text)]


def read_zelda_file(path: PathLike, column_format: dict[int, str]) -> list[Sentence]:
    """All sentences of one ZELDA CoNLL file (documents linked), ``O-`` tags read as ``O``."""
    cfg = ColumnSettings(
        path=path,
        column_format=column_format,
        span_layers=zelda_span_layers(column_format),
        tag_scheme="auto",
        comment_symbol=ZELDA_READER_ARGS["comment_symbol"],
        document_separator_token=ZELDA_READER_ARGS["document_separator_token"],
        encoding="utf-8",
        label_name_map=None,
        skip_first_line=False,
    )
    span_cols = detect_span_columns(cfg, ())  # declared: no pass over the file

    def cleaned() -> Iterator[Block | None]:
        for block in parse_blocks(cfg):
            yield None if block is None else outside_as_o(block, span_cols)

    return [sentence for document in documents(cfg, cleaned(), span_cols) for sentence in document]


class ZeldaFileDataset(ColumnDataset):
    """The sentences of one ZELDA file, whole (``in_memory=True``) or read on demand.

    A :class:`polytag.datasets.ColumnDataset` whose reader accepts ZELDA's ``O-`` tags;
    ``outside_tag_lines`` holds the lines whose ``O-`` tags were read as ``O``.
    """

    def __init__(self, path: PathLike, column_format: dict[int, str], in_memory: bool = True) -> None:
        self.path_to_column_file = Path(path)
        if not self.path_to_column_file.is_file():
            raise DatasetNotFoundError(f"ZELDA file {self.path_to_column_file} does not exist")
        self.source = str(self.path_to_column_file)
        self.column_name_map = dict(column_format)
        self.in_memory = in_memory
        self.outside_tag_lines = find_outside_tags(self.path_to_column_file)
        log_outside_tags(self.path_to_column_file, self.outside_tag_lines)
        if in_memory:
            self.sentences = read_zelda_file(self.path_to_column_file, self.column_name_map)
        else:
            self.sentences = IndexedZeldaFile(  # type: ignore[assignment]
                self.path_to_column_file,
                self.column_name_map,
                span_layers=zelda_span_layers(self.column_name_map),
                **ZELDA_READER_ARGS,
            )

    def __repr__(self) -> str:
        return f"ZeldaFileDataset({str(self.path_to_column_file)!r}, {len(self)} sentences)"
