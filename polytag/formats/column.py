"""Column (CoNLL-style) files: one token a line, one annotation a column, a blank line after a sentence.

``column_format`` maps a column index to a layer name; the token text column is named ``"text"``.

**Span or token labels.** A column holding BIO (IOB2), IOB1 or BIOES tags becomes SPAN labels
(``B-PER I-PER`` -> one span of two tokens labelled ``PER`` in that layer); any other column becomes
TOKEN labels with the values kept verbatim (``O`` and ``_`` included). Span columns are either declared
(``span_layers``) or detected: a column is a span column when every value is ``O`` or
``<P>-<type>`` with P in B I E S L U, and at least one value is prefixed. Each detection is logged
(``logging.getLogger("polytag")``, level INFO, once per file and layer).

**Invalid tag sequences** are repaired, never dropped, by one policy (see :mod:`polytag.formats.tags`):
an ``I-X`` that does not continue an open ``X`` span (after ``O``, at sentence start, after
``B-Y``/``I-Y`` of another type) starts a new span of type ``X``, the conlleval / IOB1 convention; in
BIOES an ``E-X`` or ``I-X`` without an open ``B-X`` likewise starts a span, and a span opened by ``B-X``
that ends without ``E-X`` keeps its tokens. Repairs are counted, and one WARNING per file gives the
counts (an IOB1 file, where ``I-X`` is the normal start of a span, causes no warning). A tag with an
unknown prefix (``X-PER``, ``B_PER``) in a span column raises :class:`~polytag.errors.FormatError`
with the file, the line and the forms expected.

**Documents.** A line whose first field equals ``document_separator_token`` (``-DOCSTART-``) ends a
document; it is never a sentence. The sentences of one document share ``sentence.document_id``
(``"<file name>#<n>"``, n counting documents from 0) and are linked with
:func:`polytag.data.link_document`, so ``previous_sentence()``/``next_sentence()`` stay inside it.
A file without separators is one document.

**Comments** are opt-in: only with ``comment_symbol`` is a line that starts with it (no leading
whitespace allowed) a comment; its text after the symbol goes to ``sentence.metadata["comment"]``
(a list) of the sentence it precedes or is inside. Without ``comment_symbol`` every line is data, so
CoNLL-2000's ``# # I-NP`` and AIDA's bare ``"`` token are tokens.

**Lines.** A line with a tab is split on tabs (spaces around a field are dropped, spaces inside it
kept: AIDA-style titles), any other line on runs of spaces. Trailing spaces, tabs and ``\\r`` are
ignored. A blank line ends a sentence (several are fine); the last sentence needs no final newline. A
line with fewer columns than ``max(column_format) + 1``, an empty field in a named column (``a\\t\\tO``),
an undecodable or NUL byte, a ``\\r`` inside a line or a line longer than ``max_line_bytes`` raises
:class:`~polytag.errors.FormatError` naming the file and line; nothing is skipped silently (see
``docs/robustness.md``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from polytag.data import Sentence
from polytag.formats.column_build import ColumnBuilder, documents
from polytag.formats.column_index import IndexedColumnFile
from polytag.formats.column_parse import (
    TEXT,
    ColumnSettings,
    blocks_from_lines,
    detect_span_columns,
    parse_blocks,
    split_fields,
)
from polytag.formats.column_write import write_column_file
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.spec import FormatSpec
from polytag.formats.textio import PathLike, gc_paused

__all__ = [
    "FORMAT",
    "TEXT",
    "ColumnBuilder",
    "ColumnSettings",
    "IndexedColumnFile",
    "blocks_from_lines",
    "iter_column_file",
    "read_column_file",
    "split_fields",
    "write_column_file",
]


def read_column_file(
    path: PathLike,
    column_format: dict[int, str],
    *,
    span_layers: Iterable[str] | None = None,
    tag_scheme: str = "auto",
    comment_symbol: str | None = None,
    document_separator_token: str | None = "-DOCSTART-",
    encoding: str = "utf-8",
    label_name_map: dict[str, str] | None = None,
    skip_first_line: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> list[Sentence]:
    """Read a whole column file into labelled sentences (see the module docstring for the rules).

    ``label_name_map`` renames span types and token values (a span type mapped to ``"O"`` is dropped).
    A line longer than ``max_line_bytes`` raises :class:`FormatError` without being read whole, and so
    does a sentence of more than ``max_sentence_tokens`` lines, before its tokens are built.
    """
    cfg = ColumnSettings(
        path,
        column_format,
        span_layers,
        tag_scheme,
        comment_symbol,
        document_separator_token,
        encoding,
        label_name_map,
        skip_first_line,
        max_line_bytes,
        max_sentence_tokens,
    )
    with gc_paused():
        blocks = list(parse_blocks(cfg))
        span_cols = detect_span_columns(cfg, blocks)
        return [sentence for document in documents(cfg, blocks, span_cols) for sentence in document]


def iter_column_file(
    path: PathLike,
    column_format: dict[int, str],
    *,
    span_layers: Iterable[str] | None = None,
    tag_scheme: str = "auto",
    comment_symbol: str | None = None,
    document_separator_token: str | None = "-DOCSTART-",
    encoding: str = "utf-8",
    label_name_map: dict[str, str] | None = None,
    skip_first_line: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> Iterator[Sentence]:
    """Like :func:`read_column_file`, but yields sentences one document at a time.

    Without ``span_layers`` the file is read twice (the first pass only detects span columns).
    A document is held in memory until it ends, so that its sentences can be linked.
    """
    cfg = ColumnSettings(
        path,
        column_format,
        span_layers,
        tag_scheme,
        comment_symbol,
        document_separator_token,
        encoding,
        label_name_map,
        skip_first_line,
        max_line_bytes,
        max_sentence_tokens,
    )
    span_cols = detect_span_columns(cfg, parse_blocks(cfg))
    for document in documents(cfg, parse_blocks(cfg), span_cols):
        yield from document


FORMAT = FormatSpec(
    name="column",
    extensions=(".conll", ".tsv", ".column", ".bio", ".iob", ".iob2", ".bioes"),
    read=read_column_file,
    stream=iter_column_file,
    index=IndexedColumnFile,
    write=write_column_file,
    corpus="ColumnCorpus",
    description="one token a line, one annotation a column (CoNLL)",
)
"""The column format's record for :mod:`polytag.formats.registry`."""
