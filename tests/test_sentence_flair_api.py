"""Edges of the Flair data-model API: copies and pickles, Span(tokens), context boundaries, stored vectors
(only an explicit ``embed`` stores them, one encoder pass per call), corpus statistics, dictionary files."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Dictionary, Label, Sentence, Span, Token, link_document
from polytag.embeddings import (
    DocumentPoolEmbeddings,
    StackedEmbeddings,
    TransformerWordEmbeddings,
    WordEmbeddings,
)
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.models import TokenClassifier


@pytest.fixture()
def glove(tmp_path: Path) -> WordEmbeddings:
    path = tmp_path / "glove.txt"
    path.write_text("the 1 0 0\nparis 0 2 0\nthing 0 0 3\n", encoding="utf-8")
    return WordEmbeddings(str(path), name="glove")


# -- copies and pickles -----------------------------------------------------------------------------------


def test_copies_keep_deferred_layers_scores_metadata_and_stay_independent() -> None:
    sentence = Sentence.from_tokens(["Paris", "is", "big"])
    sentence.add_token_layer("pos", ["PROPN", "AUX", "ADJ"])  # deferred until first read
    sentence[0:1].add_label("ner", "LOC", 0.5, source="gazetteer")
    sentence.add_metadata("id", 7)
    for duplicate in (copy.deepcopy(sentence), pickle.loads(pickle.dumps(sentence))):
        assert str(duplicate) == str(sentence)
        assert [lab.value for lab in duplicate.get_labels("pos")] == ["PROPN", "AUX", "ADJ"]
        assert duplicate.get_labels("ner")[0].metadata == {"source": "gazetteer"}
        assert duplicate.get_metadata("id") == 7
        assert all(token.sentence is duplicate for token in duplicate)
        duplicate[1].set_label("pos", "VERB")
    assert [lab.value for lab in sentence.get_labels("pos")] == ["PROPN", "AUX", "ADJ"]


def test_labels_without_metadata_share_one_empty_mapping_after_pickling() -> None:
    sentence = Sentence("a b")
    sentence[0].add_label("pos", "X")
    restored = pickle.loads(pickle.dumps(sentence))
    label = restored[0].get_label("pos")
    assert (
        label.metadata == {} and label.metadata is Sentence("c").add_label("t", "v").get_label("t").metadata
    )
    with pytest.raises(TypeError):
        label.metadata["k"] = 1  # type: ignore[index]


def test_label_metadata_prints_as_flair_does() -> None:
    sentence = Sentence("Kirk")
    sentence[0:1].add_label("nel", "James_T._Kirk", 0.99688, kb="wiki")
    label = sentence.get_labels("nel")[0]
    assert str(label) == 'Span[0:1]: "Kirk" → James_T._Kirk/kb=wiki (0.9969)'
    assert repr(label) == "'Span[0:1]: \"Kirk\"'/'James_T._Kirk'/kb=wiki (0.9969)"


def test_pickle_keeps_document_neighbours_and_stored_vectors(glove: WordEmbeddings) -> None:
    document = [Sentence("the thing"), Sentence("paris"), Sentence("the end")]
    link_document(document, "d")
    glove.embed(document)
    middle = pickle.loads(pickle.dumps(document[1]))
    assert middle.previous_sentence().text == "the thing" and middle.next_sentence().text == "the end"
    assert middle.previous_sentence().next_sentence() is middle
    assert middle[0].embedding.tolist() == [0.0, 2.0, 0.0]


def test_a_sentence_of_a_long_document_pickles_and_copies_without_deep_recursion() -> None:
    document = [Sentence(f"line {i} .") for i in range(2000)]  # a file without -DOCSTART- is one chain
    link_document(document, "f#0")
    for duplicate in (pickle.loads(pickle.dumps(document[1000])), copy.deepcopy(document[1000])):
        chain = [duplicate]
        while chain[0].previous_sentence() is not None:
            chain.insert(0, chain[0].previous_sentence())
        while chain[-1].next_sentence() is not None:
            chain.append(chain[-1].next_sentence())
        assert [s.text for s in chain] == [s.text for s in document] and chain[1000] is duplicate
    restored = pickle.loads(pickle.dumps(document))
    assert all(a.next_sentence() is b and b.previous_sentence() is a for a, b in zip(restored, restored[1:]))
    assert restored[0].previous_sentence() is None and restored[-1].document_id == "f#0"


def test_tokens_stay_slotted_sentences_take_attributes() -> None:
    token = Token("word")
    with pytest.raises(AttributeError):
        token.my_id = 3  # type: ignore[attr-defined]  # no __dict__ a token: the corpus memory figure
    sentence = Sentence("a b")
    sentence.my_id = 3
    assert sentence.my_id == 3


# -- metadata, context, spans --------------------------------------------------------------------------------


def test_missing_metadata_is_a_key_error_naming_the_data_point() -> None:
    sentence = Sentence("I love Berlin")
    with pytest.raises(KeyError, match="Berlin.* has no metadata .*wiki"):
        sentence[2].get_metadata("wiki")
    with pytest.raises(KeyError, match="Sentence.* has no metadata .*source"):
        sentence.get_metadata("source")


def test_context_stops_at_document_boundaries_unless_told_not_to() -> None:
    first, docstart, second, third = (
        Sentence("a b"),
        Sentence(["-DOCSTART-"]),
        Sentence("c d"),
        Sentence("e f"),
    )
    link_document([first, docstart, second, third], "d")
    assert docstart.is_document_boundary and not second.is_document_boundary
    assert second.left_context(5) == []
    assert [t.text for t in second.left_context(5, respect_document_boundaries=False)] == [
        "a",
        "b",
        "-DOCSTART-",
    ]
    assert [t.text for t in second.right_context(1)] == ["e"]
    third.document_id = "other"
    assert second.right_context(4) == [] and len(second.right_context(4, False)) == 2
    assert second.left_context(0) == []


def test_context_walk_stops_on_a_cycle() -> None:
    one, two = Sentence("a"), Sentence("b")
    link_document([one, two], "d")
    two._next_sentence = one  # a broken chain must not loop forever
    assert [t.text for t in one.right_context(10)] == ["b"]


def test_span_from_tokens_is_the_sentence_span_and_checks_its_tokens() -> None:
    sentence, other = Sentence("George Washington went home"), Sentence("x y")
    span = Span(sentence.tokens[1:3])
    assert span is sentence[1:3] and (span.start, span.end) == (1, 3)
    with pytest.raises(ValueError, match="non-empty list of Tokens"):
        Span([])
    with pytest.raises(ValueError, match="must be consecutive"):
        Span([sentence[0], sentence[2]])
    with pytest.raises(ValueError, match="must belong to one sentence"):
        Span([sentence[3], other[0]])
    span.add_label("ner", "X")
    restored = pickle.loads(pickle.dumps(sentence))
    assert restored.get_spans("ner")[0] is restored[1:3]


# -- stored vectors ------------------------------------------------------------------------------------------


def test_embed_runs_one_encoder_pass_and_writes_row_views(tiny_encoder_dir: Path) -> None:
    embedding = TransformerWordEmbeddings(str(tiny_encoder_dir), is_document_embedding=True)
    calls = []
    embedding.model.register_forward_hook(lambda *args: calls.append(1))
    batch = [Sentence("The grass is green ."), Sentence("Sky"), Sentence("a b c")]
    assert embedding.embed(batch) == batch
    assert len(calls) == 1
    storage = {t.embedding.untyped_storage().data_ptr() for s in batch for t in s}
    assert len(storage) == 1  # every token vector is a view of the one batch tensor
    assert all(s.embedding.shape == (32,) for s in batch)
    assert not any(t.embedding.requires_grad for s in batch for t in s)
    stored = embedding.get_token_embeddings(batch[0])
    assert stored is not None and torch.equal(stored[2], batch[0][2].embedding)
    batch[0][1].clear_embeddings()
    assert embedding.get_token_embeddings(batch[0]) is None  # a token without its vector
    assert embedding.get_token_embeddings(Sentence("unseen")) is None


def test_training_and_prediction_store_no_vectors(glove: WordEmbeddings) -> None:
    sentences = [Sentence("the paris thing".split()), Sentence("paris the".split())]
    sentences[0][1:2].add_label("ner", "LOC")
    sentences[1][0:1].add_label("ner", "LOC")
    model = TokenClassifier(glove, Corpus(sentences).make_label_dictionary("ner"), "ner")
    model.train()
    loss, _ = model.forward_loss(sentences)
    loss.backward()
    probe = Sentence("the paris".split())
    model.predict(probe)
    for sentence in [*sentences, probe]:
        assert sentence.embedding.numel() == 0
        assert all(token.embedding.numel() == 0 for token in sentence)


def test_stack_and_pool_store_each_member_under_its_position(glove: WordEmbeddings, tmp_path: Path) -> None:
    other_path = tmp_path / "other.txt"
    other_path.write_text("the 5 5\n", encoding="utf-8")
    other = WordEmbeddings(str(other_path), name="glove")  # same name: positions keep them apart
    stack = StackedEmbeddings([glove, other])
    assert stack.store_names() == ["0-glove", "1-glove"]
    sentence = Sentence("the paris".split())
    stack.embed(sentence)
    assert sentence[0].embedding.tolist() == [1.0, 0.0, 0.0, 5.0, 5.0]
    assert stack.get_token_embeddings(sentence).shape == (2, 5)
    assert StackedEmbeddings([glove], overwrite_names=False).store_names() == ["glove"]
    pool = DocumentPoolEmbeddings([glove, other])
    pooled = Sentence("the paris".split())
    pool.embed(pooled)
    assert pooled.embedding.tolist() == pytest.approx([0.5, 1.0, 0.0, 2.5, 2.5])
    assert pooled[1].embedding.tolist() == [0.0, 2.0, 0.0, 0.0, 0.0]
    pooled.clear_embeddings(["0-glove"])
    assert pooled[1].embedding.tolist() == [0.0, 0.0] and pooled.embedding.numel() == 5


# -- corpus helpers and dictionary files ---------------------------------------------------------------


def test_statistics_as_dict_and_vocabulary_cut_by_frequency() -> None:
    train = [Sentence("a a b".split()), Sentence("a c".split())]
    corpus = Corpus(train, None, None, sample_missing_splits=False)
    stats = corpus.obtain_statistics(pretty_print=False)
    assert isinstance(stats, dict) and stats["DEV"] == {} and stats["TRAIN"]["number_of_tokens_per_tag"] == {}
    assert json.loads(json.dumps(stats)) == stats
    assert corpus.make_vocab_dictionary(min_freq=2).get_items() == ["<unk>", "a"]
    assert corpus.make_vocab_dictionary().get_items() == ["<unk>", "a", "b", "c"]
    assert corpus.get_label_distribution() == {}


def test_sentence_to_dict_restricted_to_one_layer() -> None:
    sentence = Sentence("I love Berlin")
    sentence[2:3].add_label("ner", "LOC")
    sentence[1].add_label("pos", "VERB")
    sentence.add_label("topic", "travel")
    only_ner = sentence.to_dict("ner")
    assert only_ner["labels"] == [] and [e["text"] for e in only_ner["entities"]] == ["Berlin"]
    assert all(token["labels"] == [] for token in only_ner["tokens"])
    assert sentence.to_dict()["labels"] == [{"value": "travel", "confidence": 1.0}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "expected a JSON dictionary file"),
        (b'{"items": ["a"]}', '"format": "polytag-dictionary"'),
        (b'{"format": "polytag-dictionary", "version": 9, "items": []}', "version 9, expected 1"),
        (
            b'{"format": "polytag-dictionary", "version": 1, "items": [1]}',
            '"items": expected a list of strings',
        ),
        (
            b'{"format": "polytag-dictionary", "version": 1, "items": ["a"], "add_unk": true}',
            "<unk> at index 0",
        ),
    ],
)
def test_bad_dictionary_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "labels.dict"
    path.write_bytes(content)
    with pytest.raises(FormatError, match="labels.dict") as error:
        Dictionary.load_from_file(path)
    assert message in str(error.value)


def test_dictionary_file_round_trip_keeps_flags(tmp_path: Path) -> None:
    dictionary = Dictionary(add_unk=True)
    for item in ["B-PER", "I-PER", "é"]:
        dictionary.add_item(item)
    dictionary.span_labels = True
    dictionary.save(tmp_path / "d.json")
    loaded = Dictionary.load_from_file(tmp_path / "d.json")
    assert loaded == dictionary and loaded.span_labels and loaded.get_idx_for_item("unseen") == 0
    with pytest.raises(DatasetNotFoundError, match="does not download"):
        Dictionary.load("chars")


def test_label_equality_unchanged_by_rounding() -> None:
    sentence = Sentence("a")
    label = Label(sentence[0], "X", 0.123456, "t")
    assert "(0.1235)" in str(label) and label.score == 0.123456
