"""The data model: Flair's printing (golden), labels in text order, corpus splits and dictionaries."""

from __future__ import annotations

import logging

import pytest

from polytag.data import (
    Corpus,
    Dictionary,
    FlairDatapointDataset,
    MultiCorpus,
    Sentence,
    SentenceDataset,
    Token,
    link_document,
)


def _pos_chunk_sentence() -> Sentence:
    sentence = Sentence("Mr Smith loves New York")
    for token, tag in zip(sentence, ["NNP", "NNP", "VBZ", "NNP", "NNP"]):
        token.add_label("pos", tag)
    sentence[0:2].add_label("np", "NP")
    sentence[2:3].add_label("np", "VP")
    sentence[3:5].add_label("np", "NP")
    return sentence


def test_golden_print_token_and_span_labels() -> None:
    assert str(_pos_chunk_sentence()) == (
        'Sentence[5]: "Mr Smith loves New York" → ["Mr"/NNP, "Mr Smith"/NP, "Smith"/NNP, "loves"/VBZ, '
        '"loves"/VP, "New"/NNP, "New York"/NP, "York"/NNP]'
    )


def test_golden_print_sentence_label() -> None:
    sentence = Sentence("IBM made a lot of profit.")
    sentence[0:1].add_label("ner", "ORG")
    sentence.add_label("topic", "Business", 0.86451)
    assert str(sentence) == 'Sentence[7]: "IBM made a lot of profit." → Business (0.8645) → ["IBM"/ORG]'


def test_tokenization_offsets_and_variants() -> None:
    text = "  Hello, world!  It's 3.5 U.S. dollars."
    sentence = Sentence(text)
    assert [t.text for t in sentence] == [
        "Hello",
        ",",
        "world",
        "!",
        "It",
        "'s",
        "3.5",
        "U.S.",
        "dollars",
        ".",
    ]
    for token in sentence:
        assert text[token.start_position : token.end_position] == token.text
    assert sentence.to_original_text() == "Hello, world!  It's 3.5 U.S. dollars."
    assert [t.text for t in Sentence("a,b c", use_tokenizer=False)] == ["a,b", "c"]
    listed = Sentence(["New", "York", "!"])
    assert listed.to_tokenized_string() == "New York !"
    assert listed[1].idx == 2 and listed.get_token(2) is listed[1]


def test_spans_are_cached_and_labels_sorted_in_text_order() -> None:
    sentence = Sentence("a b c d e")
    sentence[3:5].add_label("ner", "X")
    sentence[0:1].add_label("ner", "Y")
    assert sentence[3:5] is sentence[3:5]
    assert [lab.value for lab in sentence.get_labels("ner")] == ["Y", "X"]
    assert [s.text for s in sentence.get_spans("ner")] == ["a", "d e"]
    sentence[0].add_label("pos", "P", 0.5)
    assert sentence[0].get_label("pos").score == 0.5
    assert sentence[1].get_label("pos").value == "O"
    sentence.remove_labels("ner")
    assert sentence.get_labels("ner") == [] and not sentence[3:5].has_label("ner")
    sentence[0].set_label("pos", "Q")
    assert [lab.value for lab in sentence.get_labels("pos")] == ["Q"]


def test_to_dict_from_dict_round_trip() -> None:
    sentence = _pos_chunk_sentence()
    sentence.add_label("topic", "People", 0.25)
    copy = Sentence.from_dict(sentence.to_dict(lossless=True))
    assert str(copy) == str(sentence)
    assert copy.to_dict(lossless=True) == sentence.to_dict(lossless=True)
    with pytest.raises(ValueError, match="Flair's to_dict"):
        Sentence.from_dict(sentence.to_dict())


def test_document_neighbours() -> None:
    doc = [Sentence("one"), Sentence("two"), Sentence("three")]
    link_document(doc, "d1")
    assert doc[0].previous_sentence() is None and doc[0].next_sentence() is doc[1]
    assert doc[2].previous_sentence() is doc[1] and doc[2].next_sentence() is None
    assert all(s.document_id == "d1" for s in doc)


def _corpus(n: int = 100, with_dev: bool = True) -> Corpus:
    sentences = []
    for i in range(n):
        s = Sentence(f"sentence number {i}")
        s.add_label("topic", "even" if i % 2 == 0 else "odd")
        sentences.append(s)
    dev = sentences[:10] if with_dev else None
    return Corpus(sentences[10:], dev, sentences[:5] if with_dev else None)


def test_missing_dev_is_sampled_seeded_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    sentences = [Sentence(f"s {i}") for i in range(50)]
    with caplog.at_level(logging.INFO, logger="polytag"):
        corpus = Corpus(train=sentences, test=sentences[:3])
    assert len(corpus.dev) == 5 and len(corpus.train) == 45
    assert "no dev split" in caplog.text
    again = Corpus(train=sentences, test=sentences[:3])
    assert [s.text for s in corpus.dev] == [s.text for s in again.dev]
    assert not {id(s) for s in corpus.dev} & {id(s) for s in corpus.train}


def test_downsample_keeps_splits_and_is_seeded() -> None:
    a = _corpus().downsample(0.5)
    b = _corpus().downsample(0.5)
    c = _corpus().downsample(0.5, random_seed=7)
    assert (len(a.train), len(a.dev), len(a.test)) == (45, 5, 2)
    assert [s.text for s in a.train] == [s.text for s in b.train]
    assert [s.text for s in a.train] != [s.text for s in c.train]


def test_make_label_dictionary_honours_add_unk() -> None:
    corpus = _corpus()
    with_unk = corpus.make_label_dictionary("topic", add_unk=True)
    without = corpus.make_label_dictionary("topic", add_unk=False)
    assert with_unk.get_items()[0] == "<unk>" and len(with_unk) == 3
    assert "<unk>" not in without.get_items() and len(without) == 2
    assert with_unk.get_idx_for_item("never-seen") == 0
    with pytest.raises(IndexError):
        without.get_idx_for_item("never-seen")
    with pytest.raises(ValueError, match="no label of type 'ner'"):
        corpus.make_label_dictionary("ner")
    assert Dictionary.from_dict(with_unk.to_dict()) == with_unk


def test_multicorpus_adds_task_ids() -> None:
    first, second = _corpus(20), _corpus(30)
    multi = MultiCorpus([first, second], task_ids=["Task_0", "Task_1"])
    assert len(multi.train) == len(first.train) + len(second.train)
    assert multi.train[0].get_label("multitask_id").value == "Task_0"
    assert multi.train[len(first.train)].get_label("multitask_id").value == "Task_1"


def test_dataset_alias() -> None:
    assert FlairDatapointDataset is SentenceDataset
    ds = FlairDatapointDataset([Sentence("a"), Sentence("b")])
    assert len(ds) == 2 and ds[1].text == "b"
    assert isinstance(ds[0][0], Token)


def test_document_sentences_walks_the_whole_chain_once() -> None:
    from polytag.data import document_sentences, link_document

    a, b, c = (Sentence(t.split()) for t in ("one", "two", "three"))
    assert document_sentences(b) == [b]
    link_document([a, b, c], "d")
    assert document_sentences(b) == [a, b, c] and document_sentences(c) == [a, b, c]
    c._next_sentence = a  # a broken, cyclic chain ends where it would repeat
    assert [s.to_plain_string() for s in document_sentences(b)] == ["one", "two", "three"]
