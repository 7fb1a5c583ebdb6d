"""The bulk labelling API of Sentence gives exactly what label-by-label filing gives."""

from __future__ import annotations

import pytest

from polytag.data import Sentence

WORDS = ["George", "Washington", "went", "to", "New", "York", "today"]
SPANS = [(0, 2, "PER"), (4, 6, "LOC")]


def _picture(sentence: Sentence) -> list[object]:
    """Everything observable about the labels: per layer, per point, printing, serialisation."""
    return [
        {name: [str(label) for label in labels] for name, labels in sentence.annotation_layers.items()},
        [{k: [str(x) for x in v] for k, v in token.annotation_layers.items()} for token in sentence],
        [str(span) for span in sentence.get_spans()],
        sentence.to_tagged_string(),
        sentence.to_dict(),
    ]


def _eager() -> Sentence:
    sentence = Sentence(WORDS)
    for token, value in zip(sentence, ["NNP", "NNP", "VBD", "TO", "NNP", "NNP", "NN"]):
        token.add_label("pos", value)
    for start, end, value in SPANS:
        sentence.get_span(start, end).add_label("ner", value)
    return sentence


def _bulk() -> Sentence:
    sentence = Sentence(WORDS)
    sentence.add_token_layer("pos", ["NNP", "NNP", "VBD", "TO", "NNP", "NNP", "NN"])
    sentence.add_span_layer("ner", SPANS)
    return sentence


def test_bulk_filing_looks_exactly_like_label_by_label_filing() -> None:
    assert _picture(_bulk()) == _picture(_eager())
    bulk = _bulk()
    assert bulk.get_span(0, 2).get_label("ner").value == "PER" and bulk[1].get_label("pos").value == "NNP"


def test_a_second_call_on_the_same_layer_adds_after_the_first() -> None:
    bulk, eager = _bulk(), _eager()
    bulk.add_span_layer("ner", [(2, 3, "X")])
    bulk.add_token_layer("pos", ["A"] * len(WORDS))
    eager.get_span(2, 3).add_label("ner", "X")
    for token in eager:
        token.add_label("pos", "A")
    assert _picture(bulk) == _picture(eager)


def test_spans_out_of_order_are_still_read_in_text_order() -> None:
    sentence = Sentence(WORDS)
    sentence.add_span_layer("ner", list(reversed(SPANS)))
    assert [label.value for label in sentence.get_labels("ner")] == ["PER", "LOC"]


def test_bad_bulk_input_is_refused() -> None:
    sentence = Sentence(WORDS)
    with pytest.raises(ValueError, match="'pos': 2 values for a sentence of 7 tokens"):
        sentence.add_token_layer("pos", ["A", "B"])
    with pytest.raises(IndexError, match=r"span \[5:9\] is outside a sentence of 7 tokens"):
        sentence.add_span_layer("ner", [(0, 2, "PER"), (5, 9, "X")])
    with pytest.raises(IndexError):
        sentence.add_span_layer("ner", [(3, 3, "X")])  # empty span
    assert not sentence.has_label("ner") and not sentence.has_label("pos")
    assert sentence.get_span(0, 2).annotation_layers == {}  # a refused call files nothing


def test_an_empty_layer_files_nothing() -> None:
    sentence = Sentence([])
    sentence.add_token_layer("pos", [])
    sentence.add_span_layer("ner", [])
    assert sentence.annotation_layers == {}
