"""CSV classification files, read with the ``csv`` module (RFC-4180 quoting, line breaks in quotes).

``column_name_map`` maps column indices to ``"text"`` (several text columns are joined with one space,
then stripped), ``"label"`` (a label of ``label_type``) or ``"label_<type>"`` (a label of ``<type>``).
Any other name keeps the field in ``sentence.metadata[name]``. Fields are strings as written: an empty
field is ``""`` (never NaN) and an empty label field adds no label. Blank and whitespace-only lines
outside quotes are not records. A row whose text is empty is
skipped with one warning per file (count and first line); a row with too few fields raises
:class:`~polytag.errors.FormatError` with its line.

The file is streamed line by line through the shared line reader (:mod:`polytag.formats.textio`), so
an undecodable or NUL byte and a line longer than ``max_line_bytes`` raise with their line, a BOM is
dropped and ``\\r\\n`` works; a lone ``\\r`` is allowed (it may sit inside a quoted field). A quoted
field may span lines up to ``max_line_bytes`` characters in all (``csv.field_size_limit`` is raised to
that, never lowered), so an unclosed quote cannot swallow the rest of a large file unnoticed.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS, check_token_count
from polytag.formats.spec import FormatSpec
from polytag.formats.textio import PathLike, atomic_writer, gc_paused, iter_line_chunks

log = logging.getLogger("polytag")


_Columns = tuple[list[int], list[tuple[int, str]], list[tuple[int, str]]]


def _label_columns(columns: dict[int, str], label_type: str) -> _Columns:
    """The text columns, the label columns (with their layers) and the metadata columns."""
    text_cols = sorted(c for c, name in columns.items() if name == "text")
    if not text_cols:
        raise ValueError(f"column_name_map needs at least one 'text' column, got {columns!r}")
    label_cols: list[tuple[int, str]] = []
    meta_cols: list[tuple[int, str]] = []
    for c, name in sorted(columns.items()):
        if name == "label":
            label_cols.append((c, label_type))
        elif name.startswith("label_") and len(name) > len("label_"):
            label_cols.append((c, name[len("label_") :]))
        elif name != "text":
            meta_cols.append((c, name))
    return text_cols, label_cols, meta_cols


def _physical_lines(chunks: Iterable[tuple[int, list[str]]]) -> Iterator[str]:
    for _, lines in chunks:
        for line in lines:
            yield line + "\n"


def read_csv_file(
    path: PathLike,
    column_name_map: dict[int, str],
    label_type: str = "class",
    *,
    skip_header: bool = False,
    delimiter: str = ",",
    encoding: str = "utf-8",
    use_tokenizer: bool = True,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> list[Sentence]:
    """Read a CSV file into sentences with sentence labels (see the module docstring); a text of more
    than ``max_sentence_tokens`` tokens raises before it is tokenized."""
    path = Path(path)
    columns = {int(k): v for k, v in column_name_map.items()}
    text_cols, label_cols, meta_cols = _label_columns(columns, label_type)
    needed = max(columns) + 1
    if csv.field_size_limit() < max_line_bytes:
        csv.field_size_limit(max_line_bytes)
    chunks = iter_line_chunks(path, encoding, max_line_bytes=max_line_bytes, allow_cr=True)
    # strict: an unclosed quote at the end of the file or text after a closing quote is an error, not a
    # field that silently swallows the records after it
    reader = csv.reader(_physical_lines(chunks), delimiter=delimiter, strict=True)
    sentences: list[Sentence] = []
    empty_rows: list[int] = []
    with gc_paused():
        line_no = 1  # line on which the next record starts
        try:
            for row in reader:
                start, line_no = line_no, reader.line_num + 1
                if skip_header and start == 1:
                    continue
                if not row or (len(row) == 1 and not row[0].strip()):  # a blank line
                    continue
                if len(row) < needed:
                    raise FormatError(
                        path, start, f"expected at least {needed} fields, got {len(row)}: {row!r}"
                    )
                text = " ".join(row[c] for c in text_cols).strip()
                if not text:
                    empty_rows.append(start)
                    continue
                check_token_count(path, start, text, max_sentence_tokens, use_tokenizer)
                sentence = Sentence(text, use_tokenizer=use_tokenizer)
                for c, typename in label_cols:
                    if row[c]:
                        sentence.add_label(typename, row[c])
                for c, name in meta_cols:
                    sentence.metadata[name] = row[c]
                sentences.append(sentence)
        except csv.Error as exc:
            raise FormatError(path, line_no, f"malformed CSV record starting here: {exc}") from None
    if empty_rows:
        log.warning(
            "%s: skipped %d row(s) with empty text (first: line %d)", path, len(empty_rows), empty_rows[0]
        )
    return sentences


def write_csv_file(
    path: PathLike,
    sentences: Iterable[Sentence],
    column_name_map: dict[int, str] | None = None,
    label_type: str = "class",
    *,
    delimiter: str = ",",
    header: bool = False,
) -> None:
    """Write sentences as CSV that :func:`read_csv_file` (same ``column_name_map``) reads back.

    The default columns are ``{0: "label", 1: "text"}``. A text column holds the sentence's original
    text (one text column only); a label column the sentence's label of that layer (empty when it has
    none); any other name the metadata entry of that name. A field holds one value: a layer with two
    labels, an empty text or a NUL character raise :class:`FormatError`. With ``header`` the column
    names are written first (read it back with ``skip_header=True``).
    """
    path = Path(path)
    columns = {int(k): v for k, v in (column_name_map or {0: "label", 1: "text"}).items()}
    text_cols, label_cols, meta_cols = _label_columns(columns, label_type)
    if len(text_cols) != 1:
        raise ValueError(f"write_csv_file writes one 'text' column, got {columns!r}")
    width = max(columns) + 1
    with atomic_writer(path) as out:
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        if header:
            writer.writerow([columns.get(i, "") for i in range(width)])
        for index, sentence in enumerate(sentences):
            row = [""] * width
            text = sentence.to_original_text()
            if not text.strip():
                raise FormatError(path, None, f"sentence {index} has no text; the reader would skip it")
            row[text_cols[0]] = text
            for c, typename in label_cols:
                labels = sentence.get_labels(typename)
                if len(labels) > 1:
                    raise FormatError(
                        path,
                        None,
                        f"sentence {index}: {len(labels)} labels of {typename!r}; a field holds one",
                    )
                row[c] = labels[0].value if labels else ""
            for c, name in meta_cols:
                row[c] = str(sentence.metadata.get(name, ""))
            if any("\r" in field or "\n" in field for i, field in enumerate(row) if i != text_cols[0]):
                raise FormatError(
                    path, None, f"sentence {index}: a label or metadata value holds a line break"
                )
            if any("\x00" in field for field in row):
                raise FormatError(path, None, f"sentence {index}: a NUL character cannot be written")
            if index == 0 and not header and row[0].startswith("\ufeff"):
                out.write("\ufeff")  # the reader drops one byte-order mark at the start of the file
            writer.writerow(row)


FORMAT = FormatSpec(
    name="csv",
    extensions=(".csv",),
    read=read_csv_file,
    write=write_csv_file,
    corpus="CSVClassificationCorpus",
    description="text and label columns of a CSV file",
)
"""The CSV format's record for :mod:`polytag.formats.registry`."""
