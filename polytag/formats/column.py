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

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from polytag.data import Label, Sentence, Span, Token, link_document
from polytag.errors import FormatError
from polytag.formats._io import MAX_LINE_BYTES, PathLike, atomic_writer, gc_paused, iter_line_chunks
from polytag.formats._labels import add_token_layer
from polytag.formats.tags import (
    BadTag,
    TagStats,
    check_scheme,
    decode_tags,
    encode_spans,
    expected_forms,
    is_span_tag,
)

log = logging.getLogger("polytag")

TEXT = "text"
_NEAR_MISS_SHARE = 0.9  # a column this tag-like but not fully is worth a warning

# A parsed sentence before labels are made: (rows of fields, their line numbers, comments).
_Block = tuple[list[list[str]], list[int], list[str]]


class _Settings:
    """The arguments of one read, checked once."""

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
        self.named_cols = sorted(self.column_format)

    def label_columns(self) -> list[tuple[int, str]]:
        return sorted((c, name) for c, name in self.column_format.items() if name != TEXT)


def _parse_blocks(cfg: _Settings) -> Iterator[_Block | None]:
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
    cfg: _Settings, chunks: Iterable[tuple[int, list[str]]], skip_first: bool = False
) -> Iterator[_Block | None]:
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
            rows.append(fields)
            line_nos.append(line_no)
    if rows:
        yield rows, line_nos, comments
    elif comments:
        log.info("%s: %d comment line(s) after the last sentence belong to no sentence", path, len(comments))


def _detect_span_columns(cfg: _Settings, blocks: Iterable[_Block | None]) -> set[int]:
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
        elif prefixed and total and tag_like >= _NEAR_MISS_SHARE * total:
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


class _Builder:
    """Turns raw blocks into labelled sentences and tracks documents and tag repairs."""

    def __init__(self, cfg: _Settings, span_cols: set[int]) -> None:
        self.cfg = cfg
        columns = cfg.label_columns()
        self.token_cols = [(c, name) for c, name in columns if c not in span_cols]
        self.span_cols = [(c, name) for c, name in columns if c in span_cols]
        self.stats: dict[str, TagStats] = {name: TagStats() for _, name in self.span_cols}
        self.caches: dict[int, dict[str, Any]] = {c: {} for c, _ in self.span_cols}
        self.document: list[Sentence] = []
        self.doc_index = 0

    def build(self, block: _Block) -> Sentence:
        rows, line_nos, comments = block
        cfg = self.cfg
        text_col = cfg.text_col
        name_map = cfg.label_name_map
        sentence = Sentence.from_tokens([row[text_col] for row in rows])
        for c, layer in self.token_cols:
            values = [row[c] for row in rows]
            if name_map is not None:
                values = [name_map.get(v, v) for v in values]
            add_token_layer(sentence, layer, values)
        for c, layer in self.span_cols:
            tags = [row[c] for row in rows]
            try:
                spans = decode_tags(tags, cfg.tag_scheme, self.stats[layer], self.caches[c])
            except BadTag as exc:
                raise FormatError(
                    cfg.path,
                    line_nos[exc.index],
                    f"column {c} ({layer!r}) holds tag {exc.tag!r}; expected "
                    f"{expected_forms(cfg.tag_scheme)} (tag_scheme={cfg.tag_scheme!r})",
                ) from None
            if not spans:
                continue
            if sentence.has_label(layer):  # a second column of the same layer: the ordinary path
                for start, end, typ in spans:
                    if name_map is not None:
                        typ = name_map.get(typ, typ)
                        if typ == "O":
                            continue
                    sentence.get_span(start, end).add_label(layer, typ)
                continue
            # spans come in text order and do not overlap: file the labels directly
            known = sentence._known_spans
            sentence_layer = []
            for start, end, typ in spans:
                if name_map is not None:
                    typ = name_map.get(typ, typ)
                    if typ == "O":
                        continue
                span = known.get((start, end))
                if span is None:
                    span = known[(start, end)] = Span(sentence, start, end)
                label = Label(span, typ, 1.0, layer)
                span._layers[layer] = [label]
                sentence_layer.append(label)
            if sentence_layer:
                sentence._adopt_layer(layer, sentence_layer)
        if comments:
            sentence.metadata["comment"] = comments
        return sentence

    def end_document(self) -> list[Sentence]:
        """The finished document's sentences, linked; an empty document takes no number."""
        sentences = self.document
        if not sentences:
            return []
        link_document(sentences, f"{self.cfg.path.name}#{self.doc_index}")
        self.doc_index += 1
        self.document = []
        return sentences

    def report(self) -> None:
        parts = []
        total = 0
        for layer, stats in self.stats.items():
            scheme = stats.resolved_scheme(self.cfg.tag_scheme)
            for kind, n in stats.repairs(self.cfg.tag_scheme).items():
                parts.append(f"{layer} ({scheme}): {n} x {kind}")
                total += n
        if total:
            log.warning(
                "%s: repaired %d invalid tag(s) [%s]; policy: such a tag starts a new span of its type",
                self.cfg.path,
                total,
                "; ".join(parts),
            )


def _documents(
    cfg: _Settings, blocks: Iterable[_Block | None], span_cols: set[int]
) -> Iterator[list[Sentence]]:
    """One list of linked sentences per document (the garbage collector paused while one is built)."""
    builder = _Builder(cfg, span_cols)
    blocks = iter(blocks)
    while True:
        with gc_paused():
            done = True
            for block in blocks:
                if block is None:
                    document = builder.end_document()
                    if document:
                        done = False
                        break
                else:
                    builder.document.append(builder.build(block))
            else:
                document = builder.end_document()
        if document:
            yield document
        if done:
            break
    builder.report()


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
) -> list[Sentence]:
    """Read a whole column file into labelled sentences (see the module docstring for the rules).

    ``label_name_map`` renames span types and token values (a span type mapped to ``"O"`` is dropped).
    A line longer than ``max_line_bytes`` raises :class:`FormatError` without being read whole.
    """
    cfg = _Settings(
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
    )
    with gc_paused():
        blocks = list(_parse_blocks(cfg))
        span_cols = _detect_span_columns(cfg, blocks)
        return [sentence for document in _documents(cfg, blocks, span_cols) for sentence in document]


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
) -> Iterator[Sentence]:
    """Like :func:`read_column_file`, but yields sentences one document at a time.

    Without ``span_layers`` the file is read twice (the first pass only detects span columns).
    A document is held in memory until it ends, so that its sentences can be linked.
    """
    cfg = _Settings(
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
    )
    span_cols = _detect_span_columns(cfg, _parse_blocks(cfg))
    for document in _documents(cfg, _parse_blocks(cfg), span_cols):
        yield from document


# -- writing ------------------------------------------------------------------------------------


def _layer_kinds(sentences: list[Sentence], layers: list[str]) -> dict[str, str]:
    """'span' or 'token' for each layer, from the labels the sentences carry."""
    kinds: dict[str, str] = {}
    for layer in layers:
        kind = None
        for sentence in sentences:
            for label in sentence.annotation_layers.get(layer, ()):
                dp = label.data_point
                found = "span" if isinstance(dp, Span) else "token" if isinstance(dp, Token) else None
                if found is None:
                    continue
                if kind is not None and kind != found:
                    raise ValueError(
                        f"layer {layer!r} has both span and token labels; a column holds one kind"
                    )
                kind = found
        kinds[layer] = kind or "span"
    return kinds


def write_column_file(
    path: PathLike,
    sentences: Iterable[Sentence],
    column_format: dict[int, str],
    *,
    tag_scheme: str = "BIO",
    separator: str = "\t",
    document_separator_token: str | None = "-DOCSTART-",
    comment_symbol: str | None = None,
) -> None:
    """Write sentences as a column file that :func:`read_column_file` reads back to the same labels.

    Span layers become BIO (or BIOES) tags with ``O`` outside spans; token layers are written as their
    values (the first label of the layer), ``_`` for a token without one. A layer with no labels at all
    is written as ``O``. Sentence-level labels have no column and are not written. When sentences carry
    ``document_id``s, a ``document_separator_token`` line starts each document; with ``comment_symbol``,
    ``sentence.metadata["comment"]`` lines are written before the sentence. Values that cannot be read
    back (empty, containing the separator or a line break) raise :class:`FormatError`.
    """
    if tag_scheme not in ("BIO", "BIOES"):
        raise ValueError(f"tag_scheme must be 'BIO' or 'BIOES' for writing, got {tag_scheme!r}")
    if separator not in ("\t", " "):
        raise ValueError(f"separator must be a tab or a space, got {separator!r}")
    fmt = {int(k): v for k, v in column_format.items()}
    if list(fmt.values()).count(TEXT) != 1:
        raise ValueError(f"column_format must name exactly one column {TEXT!r}, got {column_format!r}")
    width = max(fmt) + 1
    names = [fmt.get(i) for i in range(width)]
    sentences = list(sentences)
    kinds = _layer_kinds(sentences, sorted({n for n in names if n is not None and n != TEXT}))
    use_docs = document_separator_token is not None and any(s.document_id is not None for s in sentences)
    path = Path(path)

    def check(value: str, what: str, index: int, field: bool = True) -> str:
        if (
            not value
            or "\n" in value
            or "\r" in value
            or "\x00" in value
            or separator in value
            or ((separator == " " or width == 1) and any(ch.isspace() for ch in value))
            or (field and value.strip(" ") != value)  # the reader drops spaces around a field
        ):
            raise FormatError(
                path, None, f"sentence {index}: {what} {value!r} cannot be written as one field"
            )
        return value

    with atomic_writer(path) as out:
        current_doc: Any = object()
        for index, sentence in enumerate(sentences):
            if index == 0 and sentence.tokens and sentence.tokens[0].form.startswith("\ufeff"):
                out.write("\ufeff")  # the reader drops one byte-order mark at the start of the file
            if use_docs and sentence.document_id != current_doc:
                current_doc = sentence.document_id
                out.write(separator.join([document_separator_token] + ["O"] * (width - 1)) + "\n\n")
            if comment_symbol is not None:
                for comment in sentence.metadata.get("comment", ()):
                    out.write(f"{comment_symbol}{check(str(comment), 'comment', index, False)}\n")
            n = len(sentence)
            if n == 0:
                raise FormatError(path, None, f"sentence {index} has no tokens; a column file cannot hold it")
            columns: list[list[str]] = []
            for name in names:
                if name is None:
                    columns.append(["_"] * n)
                elif name == TEXT:
                    columns.append([check(t.form, "token", index) for t in sentence.tokens])
                elif kinds[name] == "token":
                    col = []
                    for token in sentence.tokens:
                        labels = token.annotation_layers.get(name)
                        col.append(check(labels[0].value, f"{name!r} value", index) if labels else "_")
                    columns.append(col)
                else:
                    spans = []
                    for span in sentence.get_spans(name):
                        labels = span.annotation_layers.get(name)
                        if labels:
                            typ = check(labels[0].value, f"{name!r} type", index)
                            spans.append((span.start, span.end, typ))
                    try:
                        columns.append(encode_spans(n, spans, tag_scheme))
                    except ValueError as exc:
                        raise FormatError(path, None, f"sentence {index}: layer {name!r}: {exc}") from None
            lines = [separator.join(row) for row in zip(*columns)]
            for line in lines:
                if line.split(separator, 1)[0] == document_separator_token:
                    problem = "a document separator"
                elif comment_symbol is not None and line.startswith(comment_symbol):
                    problem = "a comment"
                else:
                    continue
                raise FormatError(path, None, f"sentence {index}: line {line!r} would be read as {problem}")
            out.write("".join(line + "\n" for line in lines))
            out.write("\n")
