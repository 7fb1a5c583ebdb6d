"""CSV classification files, read with the ``csv`` module (RFC-4180 quoting, line breaks in quotes).

``column_name_map`` maps column indices to ``"text"`` (several text columns are joined with one space,
then stripped), ``"label"`` (a label of ``label_type``) or ``"label_<type>"`` (a label of ``<type>``).
Any other name keeps the field in ``sentence.metadata[name]``. Fields are strings as written: an empty
field is ``""`` (never NaN) and an empty label field adds no label. A row whose text is empty is
skipped with one warning per file (count and first line); a row with too few fields raises
:class:`~polytag.errors.FormatError` with its line.
"""

from __future__ import annotations

import csv
import io
import logging
from pathlib import Path

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats._io import PathLike, gc_paused, read_text

log = logging.getLogger("polytag")


def read_csv_file(
    path: PathLike,
    column_name_map: dict[int, str],
    label_type: str = "class",
    *,
    skip_header: bool = False,
    delimiter: str = ",",
    encoding: str = "utf-8",
    use_tokenizer: bool = True,
) -> list[Sentence]:
    """Read a CSV file into sentences with sentence labels (see the module docstring)."""
    path = Path(path)
    columns = {int(k): v for k, v in column_name_map.items()}
    text_cols = sorted(c for c, name in columns.items() if name == "text")
    if not text_cols:
        raise ValueError(f"column_name_map needs at least one 'text' column, got {column_name_map!r}")
    label_cols: list[tuple[int, str]] = []
    meta_cols: list[tuple[int, str]] = []
    for c, name in sorted(columns.items()):
        if name == "label":
            label_cols.append((c, label_type))
        elif name.startswith("label_") and len(name) > len("label_"):
            label_cols.append((c, name[len("label_") :]))
        elif name != "text":
            meta_cols.append((c, name))
    needed = max(columns) + 1
    reader = csv.reader(io.StringIO(read_text(path, encoding), newline=""), delimiter=delimiter)
    sentences: list[Sentence] = []
    empty_rows: list[int] = []
    with gc_paused():
        line_no = 1  # line on which the next record starts
        try:
            for row in reader:
                start, line_no = line_no, reader.line_num + 1
                if skip_header and start == 1:
                    continue
                if not row:  # a blank line
                    continue
                if len(row) < needed:
                    raise FormatError(
                        path, start, f"expected at least {needed} fields, got {len(row)}: {row!r}"
                    )
                text = " ".join(row[c] for c in text_cols).strip()
                if not text:
                    empty_rows.append(start)
                    continue
                sentence = Sentence(text, use_tokenizer=use_tokenizer)
                for c, typename in label_cols:
                    if row[c]:
                        sentence.add_label(typename, row[c])
                for c, name in meta_cols:
                    sentence.metadata[name] = row[c]
                sentences.append(sentence)
        except csv.Error as exc:
            raise FormatError(path, line_no, f"malformed CSV: {exc}") from None
    if empty_rows:
        log.warning(
            "%s: skipped %d row(s) with empty text (first: line %d)", path, len(empty_rows), empty_rows[0]
        )
    return sentences
