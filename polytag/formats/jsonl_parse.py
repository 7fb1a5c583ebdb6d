"""One JSON-lines line to a sentence: the accepted forms, checked before anything is built.

Shared by the whole-file reader (:mod:`polytag.formats.jsonl`, where the forms are described) and the
on-demand index (:mod:`polytag.formats.jsonl_index`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.limits import MAX_SENTENCE_TOKENS, check_json_size, count_tokens, token_cap_message

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class _Bad(Exception):
    """A problem in one line's object; turned into a FormatError with the line number."""


def _label_entries(raw: Any, what: str) -> list[tuple[str, float]]:
    items = raw if isinstance(raw, list) else [raw]
    entries = []
    for item in items:
        if isinstance(item, str):
            entries.append((item, 1.0))
        elif isinstance(item, dict) and isinstance(item.get("value"), str):
            score: Any = item.get("score", item.get("confidence", 1.0))
            entries.append((item["value"], float(score)))
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_full_form(data: dict[str, Any]) -> None:
    """The types of the full form, checked before :meth:`Sentence.from_dict` builds anything from them."""
    for i, token in enumerate(data["tokens"]):
        if isinstance(token, dict):
            text = token.get("text")
            ws = token.get("ws", 1)
            start = token.get("start", 0)
            if not (isinstance(ws, int) and not isinstance(ws, bool) and ws >= 0):
                raise _Bad(f"token {i}: 'ws' must be an integer >= 0, got {ws!r}")
            if not (isinstance(start, int) and not isinstance(start, bool)):
                raise _Bad(f"token {i}: 'start' must be an integer, got {start!r}")
        else:
            text = token
        if not isinstance(text, str) or not text:
            raise _Bad(f"token {i}: expected a non-empty text string, got {text!r}")
    labels = data.get("labels", {})
    if not isinstance(labels, dict):
        raise _Bad(f"'labels' must be an object of layer -> list, got {labels!r}")
    for layer, values in labels.items():
        if not isinstance(values, list):
            raise _Bad(f"labels[{layer!r}]: expected a list, got {values!r}")
        for value in values:
            if not (
                isinstance(value, dict)
                and isinstance(value.get("value"), str)
                and _is_number(value.get("score", 1.0))
            ):
                raise _Bad(f"labels[{layer!r}]: expected {{'value': str, 'score': number}}, got {value!r}")
    token_labels = data.get("token_labels", {})
    if not isinstance(token_labels, dict) or not all(isinstance(v, list) for v in token_labels.values()):
        raise _Bad(f"'token_labels' must be an object of layer -> list, got {token_labels!r}")
    for layer, entries in token_labels.items():
        for entry in entries:
            if not (
                isinstance(entry, list)
                and len(entry) == 3
                and isinstance(entry[1], str)
                and _is_number(entry[2])
            ):
                raise _Bad(f"token_labels[{layer!r}]: expected [token_index, value, score], got {entry!r}")
    spans = data.get("spans", [])
    if not isinstance(spans, list):
        raise _Bad(f"'spans' must be a list, got {spans!r}")
    for span in spans:
        if not (
            isinstance(span, dict)
            and isinstance(span.get("type"), str)
            and isinstance(span.get("value"), str)
            and _is_number(span.get("score", 1.0))
        ):
            raise _Bad(f"a span needs string 'type' and 'value' and a number 'score', got {span!r}")
    _check_document_and_metadata(data)


def _check_document_and_metadata(data: dict[str, Any]) -> None:
    document_id = data.get("document_id")
    if document_id is not None and not isinstance(document_id, str):
        raise _Bad(f"'document_id' must be a string or null, got {document_id!r}")
    if not isinstance(data.get("metadata", {}), dict):
        raise _Bad(f"'metadata' must be an object, got {data['metadata']!r}")


def _simple_sentence(data: dict[str, Any], label_type: str, span_type: str, max_tokens: int) -> Sentence:
    text = data["text"]
    _check_document_and_metadata(data)
    if len(text) > max_tokens and count_tokens(text, max_tokens) > max_tokens:
        raise _Bad(token_cap_message(max_tokens))
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
            start, end = starts.get(span["start_char"]), ends.get(span.get("end_char", -1))
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
        span_value: Any = span.get("value", span.get("label"))
        if not isinstance(span_value, str) or not isinstance(span.get("type", span_type), str):
            raise _Bad(f"span {span!r} needs a string 'value' (and a string 'type' if any)")
        sentence.get_span(span["start"], span["end"]).add_label(
            span.get("type", span_type), span_value, float(span.get("score", 1.0))
        )
    for layer, entries in data.get("token_labels", {}).items():
        for index, value, score in entries:
            sentence.tokens[index].add_label(layer, value, score)
    sentence.document_id = data.get("document_id")
    sentence.metadata = dict(data.get("metadata", {}))
    return sentence


def _sentence_from_object(data: Any, label_type: str, span_type: str, max_tokens: int) -> Sentence:
    if not isinstance(data, dict):
        raise _Bad(f"expected a JSON object, got {type(data).__name__}")
    if not isinstance(data.get("text"), str) and "tokens" not in data:
        raise _Bad("expected a 'text' string or a 'tokens' list")
    if "tokens" not in data:
        return _simple_sentence(data, label_type, span_type, max_tokens)
    tokens = data["tokens"]
    if not isinstance(tokens, list):
        raise _Bad("'tokens' must be a list")
    if len(tokens) > max_tokens:
        raise _Bad(token_cap_message(max_tokens))
    _check_full_form(data)
    _check_spans_and_token_labels(data, len(tokens))
    return Sentence.from_dict(data)


def parse_jsonl_line(
    path: Path,
    line_no: int,
    line: str,
    label_type: str,
    span_type: str,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> Sentence:
    """The sentence of one non-blank line (shared by the whole-file and the per-sentence readers).

    A sentence of more than ``max_sentence_tokens`` tokens raises before its tokens are built, and a
    line with too many values for such a sentence before it is parsed (:mod:`polytag.formats.limits`).
    """
    check_json_size(path, line_no, line, max_sentence_tokens)
    try:
        data = json.loads(line)
        if _SURROGATE_ESCAPE.search(line) is not None:
            _check_encodable(data)
        return _sentence_from_object(data, label_type, span_type, max_sentence_tokens)
    except json.JSONDecodeError as exc:
        raise FormatError(path, line_no, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except _Bad as exc:
        raise FormatError(path, line_no, str(exc)) from None
    except RecursionError:
        raise FormatError(path, line_no, "JSON nested too deeply") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as exc:
        raise FormatError(path, line_no, f"not a sentence object: {type(exc).__name__}: {exc}") from None


def _check_encodable(data: Any) -> None:
    """Raise :class:`_Bad` for a string holding a lone surrogate (escaped in JSON, not valid UTF-8)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad(
            "a string holds a lone UTF-16 surrogate (an escape such as \\ud800 without its pair)"
        ) from None
