"""polytag's lossless dict form of a sentence: what ``to_dict(lossless=True)`` writes and ``from_dict`` reads.

Flair's ``Sentence.to_dict()`` (which :meth:`~polytag.data.Sentence.to_dict` gives by default) drops the
layer names of labels and the spaces after the last token, so it cannot be read back. This form keeps
everything: ``text``, ``tokens`` (``text``, ``start`` offset, ``ws`` spaces after), sentence ``labels``
(per layer, ``value`` and ``score``), ``token_labels`` (per layer, ``[token_index, value, score]``),
``spans`` (``start`` / ``end`` token indices, ``type``, ``value``, ``score``), ``document_id`` and
``metadata``. JSON lines files and the prediction workers use it.
"""

from __future__ import annotations

from typing import Any

from polytag.data.sentence import Sentence, Span, Token

__all__ = ["add_labels", "lossless_dict", "sentence_from_dict"]


def lossless_dict(sentence: Sentence, tag_type: str | None = None) -> dict[str, Any]:
    """The JSON-ready lossless form of ``sentence`` (only layer ``tag_type`` when given)."""
    token_labels: dict[str, list[list[Any]]] = {}
    spans: list[dict[str, Any]] = []
    labels: dict[str, list[dict[str, Any]]] = {}
    layers = [tag_type] if tag_type is not None else list(sentence.annotation_layers)
    for layer in layers:
        for label in sentence.get_labels(layer):
            dp = label.data_point
            if dp is sentence:
                labels.setdefault(layer, []).append({"value": label.value, "score": label.score})
            elif isinstance(dp, Token):
                token_labels.setdefault(layer, []).append([dp.idx - 1, label.value, label.score])
            elif isinstance(dp, Span):
                spans.append(
                    {
                        "start": dp.start,
                        "end": dp.end,
                        "type": layer,
                        "value": label.value,
                        "score": label.score,
                    }
                )
    out: dict[str, Any] = {
        "text": sentence.text,
        "tokens": [
            {"text": t.form, "start": t.start_position, "ws": t.whitespace_after} for t in sentence.tokens
        ],
    }
    if labels:
        out["labels"] = labels
    if token_labels:
        out["token_labels"] = token_labels
    if spans:
        out["spans"] = spans
    if sentence.document_id is not None:
        out["document_id"] = sentence.document_id
    if sentence.metadata:
        out["metadata"] = dict(sentence.metadata)
    return out


def _is_flair_shape(data: dict[str, Any]) -> bool:
    tokens = data.get("tokens")
    return isinstance(data.get("entities"), list) or (
        isinstance(tokens, list) and bool(tokens) and isinstance(tokens[0], dict) and "start_pos" in tokens[0]
    )


def add_labels(sentence: Sentence, data: dict[str, Any]) -> None:
    """Add the ``labels``, ``token_labels`` and ``spans`` of :func:`lossless_dict` output to ``sentence``."""
    for layer, values in data.get("labels", {}).items():
        for v in values:
            sentence.add_label(layer, v["value"], v.get("score", 1.0))
    for layer, entries in data.get("token_labels", {}).items():
        for index, value, score in entries:
            if not 0 <= index < len(sentence.tokens):
                raise IndexError(f"token label index {index} outside a sentence of {len(sentence)} tokens")
            sentence.tokens[index].add_label(layer, value, score)
    for sp in data.get("spans", []):
        sentence.get_span(sp["start"], sp["end"]).add_label(sp["type"], sp["value"], sp.get("score", 1.0))


def sentence_from_dict(cls: type[Sentence], data: dict[str, Any]) -> Sentence:
    """Build a sentence from :func:`lossless_dict` output. Without ``tokens``, ``text`` is tokenized.

    Flair's ``to_dict()`` shape is refused with a ``ValueError`` that says why: its labels have no layer name.
    """
    if _is_flair_shape(data):
        raise ValueError(
            "Sentence.from_dict: this is Flair's to_dict() shape (entities, start_pos); its labels carry no "
            "layer name; write sentences with to_dict(lossless=True) to read them back"
        )
    if "tokens" in data:
        toks = data["tokens"]
        sentence = cls.from_tokens(
            [t["text"] if isinstance(t, dict) else str(t) for t in toks],
            [int(t.get("ws", 1)) if isinstance(t, dict) else 1 for t in toks],
        )
        for tok, t in zip(sentence.tokens, toks):
            if isinstance(t, dict) and "start" in t:
                tok.start_position = int(t["start"])
    else:
        sentence = cls(data["text"])
    add_labels(sentence, data)
    sentence.document_id = data.get("document_id")
    sentence.metadata = dict(data.get("metadata", {}))
    return sentence
