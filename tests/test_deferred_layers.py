"""Token columns a reader hands over whole are built into labels on first use, invisibly.

The reference for every assertion is the same sentence filed eagerly with ``token.add_label``.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from polytag.data import Label, Sentence
from polytag.formats import read_column_file, read_conllu_file

COLUMNS = {"lemma": ["I", "do", "know"], "upos": ["PRON", "AUX", "VERB"], "pos": ["PRP", "VBP", "VB"]}

CONLLU = """# sent_id = a
1	I	I	PRON	PRP	_	3	nsubj	_	_
2	do	do	AUX	VBP	_	3	aux	_	_
3	know	know	VERB	VB	_	0	root	_	SpaceAfter=No

# sent_id = b
1	Yes	yes	INTJ	UH	_	0	root	_	_
"""


def eager() -> Sentence:
    sentence = Sentence(["I", "do", "know"])
    for layer, values in COLUMNS.items():
        for token, value in zip(sentence, values):
            token.add_label(layer, value)
    return sentence


def deferred() -> Sentence:
    sentence = Sentence(["I", "do", "know"])
    for layer, values in COLUMNS.items():
        sentence.add_token_layer(layer, values)
    return sentence


def snapshot(sentence: Sentence) -> tuple:
    """Everything observable about the labels, including the order of the layers."""
    return (
        str(sentence),
        sentence.to_dict(),
        [[(lab.typename, lab.value) for lab in token.labels] for token in sentence],
        [token.tag for token in sentence],
        list(sentence.annotation_layers),
        [list(token.annotation_layers) for token in sentence],
    )


def test_deferred_layers_look_exactly_like_eager_ones() -> None:
    assert snapshot(deferred()) == snapshot(eager())


def test_using_one_layer_first_keeps_the_layer_order() -> None:
    sentence = deferred()
    assert [lab.value for lab in sentence.get_labels("pos")] == COLUMNS["pos"]
    assert sentence[0].get_label("upos").value == "PRON"
    assert snapshot(sentence) == snapshot(eager())


def _second_pos_column(sentence: Sentence) -> None:
    sentence.add_token_layer("pos", ["A", "B", "C"])


def _second_pos_labels(sentence: Sentence) -> None:
    for token, value in zip(sentence, ["A", "B", "C"]):
        token.add_label("pos", value)


SAME_CHANGES = [
    lambda s: s[1].set_label("upos", "VERB"),
    lambda s: s[1].add_label("pos", "MD"),
    lambda s: s.remove_labels("upos"),
    lambda s: s[1].remove_labels("lemma"),
    lambda s: s[0:2].add_label("ner", "X"),
    lambda s: s.add_label("topic", "T"),
    lambda s: (s.remove_labels("lemma"), s[2].add_label("lemma", "K")),
]


@pytest.mark.parametrize(
    "on_deferred, on_eager", [(c, c) for c in SAME_CHANGES] + [(_second_pos_column, _second_pos_labels)]
)
def test_changes_to_deferred_layers_match_eager_filing(on_deferred, on_eager) -> None:
    lazy, reference = deferred(), eager()
    on_deferred(lazy)
    on_eager(reference)
    assert snapshot(lazy) == snapshot(reference)


def test_reading_builds_only_the_layers_that_are_used(tmp_path: Path) -> None:
    path = tmp_path / "x.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    gc.collect()
    before = sum(type(o) is Label for o in gc.get_objects())
    sentences = read_conllu_file(path)
    assert [t.get_label("pos").value for t in sentences[0]] == ["PRP", "VBP", "VB"]
    assert sentences[1].has_label("pos")
    built = sum(type(o) is Label for o in gc.get_objects()) - before
    assert built == 4  # the pos labels of 4 tokens; lemma, upos, head and deprel are not built yet
    # and once asked for, everything is there, in the reader's column order
    assert list(sentences[0][0].annotation_layers) == ["lemma", "upos", "pos", "head", "deprel", "dependency"]
    assert sentences[0][2].get_label("deprel").value == "root"


def test_column_reader_keeps_token_and_span_layers_in_column_order(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("EU NNP B-ORG\nrejects VBZ O\nit PRP O\n\n", encoding="utf-8")
    (sentence,) = read_column_file(path, {0: "text", 1: "pos", 2: "ner"})
    assert [s.text for s in sentence.get_spans("ner")] == ["EU"]
    reference = Sentence(["EU", "rejects", "it"])
    for token, value in zip(reference, ["NNP", "VBZ", "PRP"]):
        token.add_label("pos", value)
    reference[0:1].add_label("ner", "ORG")
    assert list(sentence.annotation_layers) == list(reference.annotation_layers) == ["pos", "ner"]
    assert {**sentence.to_dict(), "document_id": None} == {**reference.to_dict(), "document_id": None}


def test_sentence_labels_leave_token_layers_deferred() -> None:
    lazy, reference = deferred(), eager()
    for sentence in (lazy, reference):
        sentence.add_label("multitask_id", "Task_0")
        sentence.set_label("topic", "Sports")
        sentence.remove_labels("topic")
        sentence.add_label("topic", "World")
    assert lazy._pending is not None and set(lazy._pending) == set(COLUMNS)  # no token label built yet
    assert snapshot(lazy) == snapshot(reference)
