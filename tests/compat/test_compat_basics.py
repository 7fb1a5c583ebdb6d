"""Flair's basics tutorial (tutorial-basics/basic-types.md), block by block, renamed to polytag.

Each test is one documented block; the expected lines are the printout Flair 0.15.1 gives for it.
Where the docs' printout predates 0.15.1 (``Sentence: "..."`` without the token count) the test
asserts what 0.15.1 prints.
"""

from __future__ import annotations

import pytest

from polytag.data import Label, Sentence


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_make_and_print_a_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    print(sentence)
    assert printed(capsys) == ['Sentence[5]: "The grass is green."']


def test_iterate_over_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    for token in sentence:
        print(token)
    assert printed(capsys) == [
        'Token[0]: "The"',
        'Token[1]: "grass"',
        'Token[2]: "is"',
        'Token[3]: "green"',
        'Token[4]: "."',
    ]


def test_access_a_token_by_id_and_by_index(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    print(sentence.get_token(4))  # token ids count from 1
    print(sentence[3])
    assert printed(capsys) == ['Token[3]: "green"', 'Token[3]: "green"']


def test_default_tokenization_is_segtok() -> None:
    sentence = Sentence("The grass isn't green, Mr. Smith.")
    assert [t.text for t in sentence] == ["The", "grass", "is", "n't", "green", ",", "Mr.", "Smith", "."]


def test_label_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence[3].add_label("ner", "color")
    print(sentence)
    assert printed(capsys) == ['Sentence[5]: "The grass is green." → ["green"/color]']


def test_iterate_tokens_after_labelling(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence[3].add_label("ner", "color")
    for token in sentence:
        print(token)
    # Flair 0.15.1 prints a data point's own labels with four decimals (the docs show "(1.0)")
    assert printed(capsys) == [
        'Token[0]: "The"',
        'Token[1]: "grass"',
        'Token[2]: "is"',
        'Token[3]: "green" → color (1.0)',
        'Token[4]: "."',
    ]


def test_label_a_whole_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence.add_label("sentiment", "POSITIVE")
    print(sentence)
    assert printed(capsys) == ['Sentence[5]: "The grass is green." → POSITIVE (1.0)']


def test_multiple_labels_on_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence.add_label("sentiment", "POSITIVE")
    sentence[3].add_label("ner", "color")
    print(sentence)
    assert printed(capsys) == ['Sentence[5]: "The grass is green." → POSITIVE (1.0) → ["green"/color]']


def test_get_labels_returns_sentence_and_token_labels() -> None:
    sentence = Sentence("The grass is green.")
    sentence.add_label("sentiment", "POSITIVE")
    sentence[3].add_label("ner", "color")
    labels = sentence.get_labels()
    assert all(isinstance(label, Label) for label in labels)
    assert [(label.data_point.text, label.value) for label in labels] == [
        ("The grass is green.", "POSITIVE"),
        ("green", "color"),
    ]
    assert [label.value for label in sentence.get_labels("ner")] == ["color"]


def test_print_labels_as_flair_documents(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence.add_label("sentiment", "POSITIVE")
    sentence[3].add_label("ner", "color")
    for label in sentence.get_labels():
        print(label)
    assert printed(capsys) == [
        'Sentence[5]: "The grass is green." → POSITIVE (1.0)',
        'Token[3]: "green" → color (1.0)',
    ]


def test_label_value_score_and_data_point(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence[3].add_label("ner", "color")
    for label in sentence.get_labels():
        print(f'"{label.data_point.text}" is classified as "{label.value}" with score {label.score}')
    assert printed(capsys) == ['"green" is classified as "color" with score 1.0']


def test_label_a_span_by_slicing(capsys: pytest.CaptureFixture[str]) -> None:
    # the span tutorial's create_sentence: sentence[start:end+1].add_label(...) on a token list
    sentence = Sentence(["George", "Washington", "went", "to", "Washington"])
    sentence[0:2].add_label("ner", "PER")
    sentence[4:5].add_label("ner", "LOC")
    print(sentence)
    print(sentence.get_spans("ner"))
    assert printed(capsys) == [
        'Sentence[5]: "George Washington went to Washington" → ["George Washington"/PER, "Washington"/LOC]',
        '[Span[0:2]: "George Washington" → PER (1.0), Span[4:5]: "Washington" → LOC (1.0)]',
    ]


def test_token_with_two_layers_prints_once(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("Mr Smith loves New York")
    sentence[0].add_label("pos", "NNP")
    sentence[0].add_label("lemma", "mr")
    sentence[0:2].add_label("np", "NP")
    print(sentence)
    assert printed(capsys) == ['Sentence[5]: "Mr Smith loves New York" → ["Mr"/NNP/mr, "Mr Smith"/NP]']


def test_to_tagged_string_for_one_layer(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("Mr Smith loves New York")
    sentence[0].add_label("pos", "NNP")
    sentence[0].add_label("lemma", "mr")
    print(sentence.to_tagged_string("pos"))
    assert printed(capsys) == ['Sentence[5]: "Mr Smith loves New York" → ["Mr"/NNP]']


def test_labelled_sentence_pickles_and_copies() -> None:
    import copy
    import pickle

    sentence = Sentence("The grass is green.")
    sentence.add_label("sentiment", "POSITIVE")
    sentence[0:2].add_label("ner", "PLANT")
    for clone in (pickle.loads(pickle.dumps(sentence)), copy.deepcopy(sentence)):
        assert str(clone) == str(sentence)


def test_sentence_metadata() -> None:
    sentence = Sentence("The grass is green.")
    sentence.add_metadata("source", "tutorial")
    assert sentence.get_metadata("source") == "tutorial"
