"""Span layers as per-token BIOES tags and back: how token heads learn and emit spans."""

from __future__ import annotations

from polytag.data import Dictionary, Sentence, Span
from polytag.formats.tags import decode_tags

OUTSIDE = "O"


def span_types(label_dictionary: Dictionary) -> list[str]:
    """The span types of a label dictionary (``PER``, ``LOC``...), prefixes stripped, ``<unk>`` left out."""
    types: list[str] = []
    for item in label_dictionary.get_items():
        if item in ("<unk>", OUTSIDE):
            continue
        if len(item) > 2 and item[1] == "-" and item[0] in "BIESLU":
            item = item[2:]
        if item not in types:
            types.append(item)
    return types


def make_bioes_dictionary(types: list[str]) -> Dictionary:
    """``O`` then ``S-, B-, E-, I-`` for each type (index 0 is ``O``)."""
    tags = Dictionary(add_unk=False)
    tags.add_item(OUTSIDE)
    for t in types:
        for prefix in ("S-", "B-", "E-", "I-"):
            tags.add_item(prefix + t)
    return tags


def spans_to_tag_ids(sentence: Sentence, label_type: str, tag_dictionary: Dictionary) -> list[int]:
    """Gold tag index of every token; spans of types the dictionary lacks count as ``O``."""
    ids = [0] * len(sentence)
    index = tag_dictionary.item2idx
    for label in sentence.get_labels(label_type):
        span = label.data_point
        if not isinstance(span, Span):
            continue
        start, end = span.start, span.end
        if end - start == 1:
            tag = index.get("S-" + label.value)
            if tag is not None:
                ids[start] = tag
            continue
        b = index.get("B-" + label.value)
        if b is None:
            continue
        ids[start] = b
        inside = index["I-" + label.value]
        for k in range(start + 1, end - 1):
            ids[k] = inside
        ids[end - 1] = index["E-" + label.value]
    return ids


def tags_to_spans(tags: list[str]) -> list[tuple[int, int, str]]:
    """Decode BIOES (or BIO) tags to ``(start, end, type)`` spans with the readers' repair policy
    (``I-X``/``E-X`` without an open span of type X start a new span): one decoder for files and models."""
    return decode_tags(tags, "BIOES")
