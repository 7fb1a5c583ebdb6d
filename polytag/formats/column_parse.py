"""The line rules of column files: settings of one read, sentence blocks of raw fields, span columns.

Shared by the whole-file readers (:mod:`polytag.formats.column`) and the on-demand index
(:mod:`polytag.formats.column_index`), so that both read a file the same way. The rules themselves
are described in :mod:`polytag.formats.column`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from polytag.errors import FormatError
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS, too_many_tokens
from polytag.formats.tags import check_scheme, is_span_tag
from polytag.formats.textio import PathLike, iter_line_chunks

log = logging.getLogger("polytag")

TEXT = "text"
"""The name of the token text column in ``column_format``."""
NEAR_MISS_SHARE = 0.9  # a column this tag-like but not fully is worth a warning

Block = tuple[list[list[str]], list[int], list[str]]
"""A parsed sentence before labels are made: (rows of fields, their line numbers, comments)."""


class ColumnSettings:
    """The arguments of one read of a column file, checked once (see :func:`read_column_file`)."""

    __slots__ = (
        "path",
        "column_format",
        "text_col",
        "min_cols",
        "span_layers",
        "tag_scheme",
        "comment_symbol",
        "docsep",
        "encoding",
        "label_name_map",
        "skip_first_line",
        "max_line_bytes",
        "max_sentence_tokens",
        "named_cols",
    )

    def __init__(
        self,
        path: PathLike,
        column_format: dict[int, str],
        span_layers: Iterable[str] | None,
        tag_scheme: str,
        comment_symbol: str | None,
        document_separator_token: str | None,
        encoding: str,
        label_name_map: dict[str, str] | None,
        skip_first_line: bool,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
    ) -> None:
        self.path = Path(path)
        if not column_format:
            raise ValueError("column_format is empty")
        self.column_format = {int(k): v for k, v in column_format.items()}
        text_cols = [c for c, name in self.column_format.items() if name == TEXT]
        if len(text_cols) != 1:
            raise ValueError(f"column_format must name exactly one column {TEXT!r}, got {column_format!r}")
        if min(self.column_format) < 0:
            raise ValueError(f"column indices must be >= 0, got {column_format!r}")
        self.text_col = text_cols[0]
        self.min_cols = max(self.column_format) + 1
        if span_layers is not None:
            span_layers = set(span_layers)
            unknown = span_layers - (set(self.column_format.values()) - {TEXT})
            if unknown:
                raise ValueError(
                    f"span_layers {sorted(unknown)} are not label columns of column_format {column_format!r}"
                )
        self.span_layers = span_layers
        self.tag_scheme = check_scheme(tag_scheme)
        if comment_symbol == "":
            raise ValueError("comment_symbol must be None or a non-empty string")
        self.comment_symbol = comment_symbol
        self.docsep = document_separator_token
        self.encoding = encoding
        self.label_name_map = label_name_map or None
        self.skip_first_line = skip_first_line
        self.max_line_bytes = max_line_bytes
        if max_sentence_tokens < 1:
            raise ValueError(f"max_sentence_tokens must be positive, got {max_sentence_tokens}")
        self.max_sentence_tokens = max_sentence_tokens
        self.named_cols = sorted(self.column_format)

    def label_columns(self) -> list[tuple[int, str]]:
        return sorted((c, name) for c, name in self.column_format.items() if name != TEXT)


def parse_blocks(cfg: ColumnSettings) -> Iterator[Block | None]:
    """Split the file into sentences of raw fields; ``None`` marks a document separator."""
    chunks = iter_line_chunks(cfg.path, cfg.encoding, max_line_bytes=cfg.max_line_bytes)
    return blocks_from_lines(cfg, chunks, cfg.skip_first_line)


def split_fields(line: str) -> list[str]:
    """The fields of a stripped data line: split on tabs when it has one, else on runs of spaces.

    Spaces around tab-separated fields are dropped (``John \\tB-PER`` is the token ``John``).
    """
    if "\t" in line:
        fields = line.split("\t")
        if " " in line:
            fields = [f.strip(" ") for f in fields]
        return fields
    fields = line.split(" ")
    if "" in fields:
        fields = [f for f in fields if f]
    return fields


def blocks_from_lines(
    cfg: ColumnSettings, chunks: Iterable[tuple[int, list[str]]], skip_first: bool = False
) -> Iterator[Block | None]:
    """The line rules of the format, shared by the whole-file and the per-sentence (lazy) readers.

    ``chunks`` yields ``(number of the first line, lines without their \\n)``; blocks of raw fields come
    out, ``None`` for a document separator line.
    """
    rows: list[list[str]] = []
    line_nos: list[int] = []
    comments: list[str] = []
    comment_symbol = cfg.comment_symbol
    docsep = cfg.docsep
    min_cols = cfg.min_cols
    text_col = cfg.text_col
    path = cfg.path
    max_tokens = cfg.max_sentence_tokens
    for first, lines in chunks:
        for line_no, line in enumerate(lines, first):
            if skip_first:
                skip_first = False
                continue
            if comment_symbol is not None and line.startswith(comment_symbol):
                comments.append(line[len(comment_symbol) :].rstrip())
                continue
            line = line.rstrip(" \t\r")
            if not line:
                if rows:
                    yield rows, line_nos, comments
                    rows, line_nos, comments = [], [], []
                continue
            fields = split_fields(line)
            if docsep is not None and fields[0] == docsep:
                if rows:
                    yield rows, line_nos, comments
                    rows, line_nos, comments = [], [], []
                yield None
                continue
            if len(fields) < min_cols:
                raise FormatError(
                    path,
                    line_no,
                    f"expected at least {min_cols} columns (column_format {cfg.column_format}), "
                    f"got {len(fields)}: {line!r}",
                )
            if "" in fields:
                for c in cfg.named_cols:
                    if not fields[c]:
                        what = "token text" if c == text_col else f"field ({cfg.column_format[c]!r})"
                        raise FormatError(
                            path, line_no, f"empty {what} in column {c} (write _ for no value): {line!r}"
                        )
            if len(rows) >= max_tokens:
                raise too_many_tokens(path, line_no, max_tokens)
            rows.append(fields)
            line_nos.append(line_no)
    if rows:
        yield rows, line_nos, comments
    elif comments:
        log.info("%s: %d comment line(s) after the last sentence belong to no sentence", path, len(comments))


def detect_span_columns(cfg: ColumnSettings, blocks: Iterable[Block | None]) -> set[int]:
    """Column indices whose values are all tags (see the module docstring); logs each finding."""
    columns = cfg.label_columns()
    if cfg.span_layers is not None:
        return {c for c, name in columns if name in cfg.span_layers}
    counters: dict[int, Counter[str]] = {c: Counter() for c, _ in columns}
    for block in blocks:
        if block is None:
            continue
        rows = block[0]
        for c, counter in counters.items():
            counter.update([row[c] for row in rows])
    found: set[int] = set()
    for c, name in columns:
        counter = counters[c]
        tag_like = sum(n for value, n in counter.items() if is_span_tag(value))
        prefixed = tag_like - counter.get("O", 0)
        total = sum(counter.values())
        if prefixed and tag_like == total:
            found.add(c)
            log.info("%s: column %d (%r) holds BIO/BIOES tags; read as span labels", cfg.path, c, name)
        elif prefixed and total and tag_like >= NEAR_MISS_SHARE * total:
            bad = [value for value in counter if not is_span_tag(value)][:3]
            log.warning(
                "%s: column %d (%r) is %.1f%% tag-like but also holds %s; read as token labels "
                "(pass span_layers to read it as spans, which reports the bad tags' lines)",
                cfg.path,
                c,
                name,
                100.0 * tag_like / total,
                ", ".join(repr(b) for b in bad),
            )
    return found
