"""JSON lines: one sentence a line, as written by :meth:`Sentence.to_dict`.

Two forms are read:

- the full form of ``Sentence.to_dict()`` (with ``tokens``): tokens, offsets, sentence labels, token
  labels, spans, scores, ``document_id`` and ``metadata`` come back exactly;
- a simple form without ``tokens``: ``{"text": ..., "labels": ..., "spans": ...}``. The text is tokenized
  (polytag's tokenizer). ``labels`` is a ``{layer: [value | {"value", "score"}]}`` dict, a list of such
  values or one string (both of layer ``label_type``). A span is ``{"start", "end"}`` in token indices
  (end exclusive) or ``{"start_char", "end_char"}`` in characters, with ``"value"`` and ``"type"`` (the
  layer, default ``span_type``); character offsets must fall on token boundaries.

Consecutive sentences with the same ``document_id`` are linked as one document. Blank lines are
skipped; anything else that is not such an object raises :class:`~polytag.errors.FormatError` with
the line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from polytag.data import Sentence, link_document
from polytag.errors import FormatError
from polytag.formats._io import PathLike, atomic_writer, gc_paused, iter_lines


class _Bad(Exception):
    """A problem in one line's object; turned into a FormatError with the line number."""


def _label_entries(raw: Any, what: str) -> list[tuple[str, float]]:
    items = raw if isinstance(raw, list) else [raw]
    entries = []
    for item in items:
        if isinstance(item, str):
            entries.append((item, 1.0))
        elif isinstance(item, dict) and isinstance(item.get("value"), str):
            entries.append((item["value"], float(item.get("score", item.get("confidence", 1.0)))))
        else:
            raise _Bad(f"{what}: expected a string or {{'value': ..., 'score': ...}}, got {item!r}")
    return entries


def _check_spans_and_token_labels(data: dict[str, Any], n: int) -> None:
    for layer, entries in data.get("token_labels", {}).items():
        for entry in entries:
            if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], int)):
                raise _Bad(f"token_labels[{layer!r}]: expected [token_index, value, score], got {entry!r}")
            if not 0 <= entry[0] < n:
                raise _Bad(f"token_labels[{layer!r}]: token index {entry[0]} outside 0..{n - 1}")
    for span in data.get("spans", []):
        if not isinstance(span, dict) or "start" not in span or "end" not in span:
            raise _Bad(f"a span needs 'start' and 'end', got {span!r}")
        if not (isinstance(span["start"], int) and isinstance(span["end"], int)) or not (
            0 <= span["start"] < span["end"] <= n
        ):
            raise _Bad(f"span [{span['start']}:{span['end']}] does not fit a sentence of {n} tokens")


def _simple_sentence(data: dict[str, Any], label_type: str, span_type: str) -> Sentence:
    text = data["text"]
    sentence = Sentence(text)
    labels = data.get("labels")
    if isinstance(labels, dict):
        for layer, raw in labels.items():
            for value, score in _label_entries(raw, f"labels[{layer!r}]"):
                sentence.add_label(layer, value, score)
    elif labels is not None:
        for value, score in _label_entries(labels, "labels"):
            sentence.add_label(label_type, value, score)
    n = len(sentence)
    starts = {tok.start_position: i for i, tok in enumerate(sentence.tokens)}
    ends = {tok.end_position: i + 1 for i, tok in enumerate(sentence.tokens)}
    spans = []
    for span in data.get("spans", []):
        if not isinstance(span, dict):
            raise _Bad(f"a span must be an object, got {span!r}")
        if "start_char" in span:
            start, end = starts.get(span["start_char"]), ends.get(span.get("end_char"))
            if start is None or end is None:
                raise _Bad(
                    f"span chars [{span['start_char']}:{span.get('end_char')}] are not on token boundaries "
                    f"of {[t.form for t in sentence.tokens]}"
                )
            spans.append({**span, "start": start, "end": end})
        else:
            spans.append(span)
    _check_spans_and_token_labels({"spans": spans, "token_labels": data.get("token_labels", {})}, n)
    for span in spans:
        value = span.get("value", span.get("label"))
        if not isinstance(value, str):
            raise _Bad(f"span {span!r} needs a string 'value'")
        sentence.get_span(span["start"], span["end"]).add_label(
            span.get("type", span_type), value, float(span.get("score", 1.0))
        )
    for layer, entries in data.get("token_labels", {}).items():
        for index, value, score in entries:
            sentence.tokens[index].add_label(layer, value, score)
    sentence.document_id = data.get("document_id")
    sentence.metadata = dict(data.get("metadata", {}))
    return sentence


def _sentence_from_object(data: Any, label_type: str, span_type: str) -> Sentence:
    if not isinstance(data, dict):
        raise _Bad(f"expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("text"), str) and "tokens" not in data:
        raise _Bad("expected a 'text' string or a 'tokens' list")
    if "tokens" not in data:
        return _simple_sentence(data, label_type, span_type)
    tokens = data["tokens"]
    if not isinstance(tokens, list):
        raise _Bad("'tokens' must be a list")
    _check_spans_and_token_labels(data, len(tokens))
    return Sentence.from_dict(data)


def iter_jsonl_file(
    path: PathLike, *, encoding: str = "utf-8", label_type: str = "class", span_type: str = "ner"
) -> Iterator[Sentence]:
    """Yield the sentences of a JSON-lines file, a document (run of equal ``document_id``) at a time."""
    path = Path(path)
    document: list[Sentence] = []
    for line_no, line in iter_lines(path, encoding):
        if not line.strip():
            continue
        try:
            sentence = _sentence_from_object(json.loads(line), label_type, span_type)
        except json.JSONDecodeError as exc:
            raise FormatError(path, line_no, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except _Bad as exc:
            raise FormatError(path, line_no, str(exc)) from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise FormatError(path, line_no, f"not a sentence object: {type(exc).__name__}: {exc}") from None
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
    path: PathLike, *, encoding: str = "utf-8", label_type: str = "class", span_type: str = "ner"
) -> list[Sentence]:
    """Read a whole JSON-lines file (see the module docstring for the accepted forms)."""
    with gc_paused():
        return list(iter_jsonl_file(path, encoding=encoding, label_type=label_type, span_type=span_type))


def write_jsonl_file(path: PathLike, sentences: Iterable[Sentence]) -> None:
    """Write one ``sentence.to_dict()`` a line (UTF-8, not ASCII-escaped), atomically."""
    with atomic_writer(path) as out:
        for sentence in sentences:
            out.write(json.dumps(sentence.to_dict(), ensure_ascii=False) + "\n")
