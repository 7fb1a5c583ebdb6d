"""Writing column files that :func:`polytag.formats.column.read_column_file` reads back to the same labels."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from polytag.data import Sentence, Span, Token
from polytag.errors import FormatError
from polytag.formats.column_parse import TEXT
from polytag.formats.tags import encode_spans
from polytag.formats.textio import PathLike, atomic_writer


def layer_kinds(sentences: list[Sentence], layers: list[str]) -> dict[str, str]:
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


# long: one streaming pass per sentence over every layer; its steps share the per-sentence tag arrays.
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
    kinds = layer_kinds(sentences, sorted({n for n in names if n is not None and n != TEXT}))
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
            if use_docs and document_separator_token is not None and sentence.document_id != current_doc:
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
