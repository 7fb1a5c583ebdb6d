"""JSON lines: one sentence a line, as written by :meth:`Sentence.to_dict`.

Two forms are read:

- the full form, ``Sentence.to_dict(lossless=True)`` (with ``tokens``): tokens, offsets, sentence labels,
  token labels, spans, scores, ``document_id`` and ``metadata`` come back exactly;
- a simple form without ``tokens``: ``{"text": ..., "labels": ..., "spans": ...}``. The text is tokenized
  (polytag's tokenizer). ``labels`` is a ``{layer: [value | {"value", "score"}]}`` dict, a list of such
  values or one string (both of layer ``label_type``). A span is ``{"start", "end"}`` in token indices
  (end exclusive) or ``{"start_char", "end_char"}`` in characters, with ``"value"`` and ``"type"`` (the
  layer, default ``span_type``); character offsets must fall on token boundaries.

Consecutive sentences with the same ``document_id`` are linked as one document. Blank lines are
skipped; anything else that is not such an object raises :class:`~polytag.errors.FormatError` with
the line: invalid JSON, a wrong shape, nesting too deep, numbers out of range, a lone UTF-16
surrogate escape (``"\\ud800"``, which no UTF-8 writer could write back), and the byte-level problems
of :mod:`polytag.formats.textio`; so does a sentence of more than ``max_sentence_tokens`` tokens, before
its tokens are built (:mod:`polytag.formats.limits`). See ``docs/robustness.md``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from polytag.data import Sentence, link_document
from polytag.formats.jsonl_index import IndexedJsonlFile
from polytag.formats.jsonl_parse import parse_jsonl_line
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.spec import FormatSpec
from polytag.formats.textio import PathLike, atomic_writer, gc_paused, iter_lines

__all__ = [
    "FORMAT",
    "IndexedJsonlFile",
    "iter_jsonl_file",
    "parse_jsonl_line",
    "read_jsonl_file",
    "write_jsonl_file",
]


def iter_jsonl_file(
    path: PathLike,
    *,
    encoding: str = "utf-8",
    label_type: str = "class",
    span_type: str = "ner",
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> Iterator[Sentence]:
    """Yield the sentences of a JSON-lines file, a document (run of equal ``document_id``) at a time."""
    path = Path(path)
    document: list[Sentence] = []
    for line_no, line in iter_lines(path, encoding, max_line_bytes=max_line_bytes):
        if not line.strip():
            continue
        sentence = parse_jsonl_line(path, line_no, line, label_type, span_type, max_sentence_tokens)
        if document and (sentence.document_id is None or sentence.document_id != document[0].document_id):
            if document[0].document_id is not None:
                link_document(document, document[0].document_id)
            yield from document
            document = []
        document.append(sentence)
    if document and document[0].document_id is not None:
        link_document(document, document[0].document_id)
    yield from document


def read_jsonl_file(
    path: PathLike,
    *,
    encoding: str = "utf-8",
    label_type: str = "class",
    span_type: str = "ner",
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> list[Sentence]:
    """Read a whole JSON-lines file (see the module docstring for the accepted forms)."""
    with gc_paused():
        return list(
            iter_jsonl_file(
                path,
                encoding=encoding,
                label_type=label_type,
                span_type=span_type,
                max_line_bytes=max_line_bytes,
                max_sentence_tokens=max_sentence_tokens,
            )
        )


def write_jsonl_file(path: PathLike, sentences: Iterable[Sentence]) -> None:
    """Write one ``sentence.to_dict(lossless=True)`` a line (UTF-8, not ASCII-escaped), atomically."""
    with atomic_writer(path) as out:
        for sentence in sentences:
            out.write(json.dumps(sentence.to_dict(lossless=True), ensure_ascii=False) + "\n")


FORMAT = FormatSpec(
    name="jsonl",
    extensions=(".jsonl", ".json", ".ndjson"),
    read=read_jsonl_file,
    stream=iter_jsonl_file,
    index=IndexedJsonlFile,
    write=write_jsonl_file,
    corpus=None,
    description="one Sentence.to_dict() object a line",
)
"""The JSON-lines format's record for :mod:`polytag.formats.registry`."""
