"""Flair's everyday data-model API in the shape its docs use: printing, copying, metadata, context, spans,
``embed`` then ``token.embedding`` / ``sentence.embedding``, corpus statistics and dictionaries."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Dictionary, Sentence, Span, link_document
from polytag.embeddings import (
    DocumentPoolEmbeddings,
    StackedEmbeddings,
    TransformerDocumentEmbeddings,
    TransformerWordEmbeddings,
    WordEmbeddings,
)
from polytag.errors import FormatError


@pytest.fixture()
def glove_file(tmp_path: Path) -> Path:
    """GloVe-format vectors of width 100 (no header line), like glove.6B.100d.txt."""
    rows = [
        word + " " + " ".join(str((i + 1) * 0.01) for _ in range(100))
        for i, word in enumerate(["the", "grass", "is", "green", "."])
    ]
    path = tmp_path / "glove.6B.100d.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def out_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# -- printing labels (basics tutorial) ------------------------------------------------------------------


def test_token_label_prints_like_flair(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence[3].add_label("ner", "color")
    print(sentence[3])
    assert out_lines(capsys) == ['Token[3]: "green" → color (1.0)']


def test_sentence_label_prints_like_flair(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green.")
    sentence.add_label("sentiment", "POSITIVE")
    sentence[3].add_label("ner", "color")
    print(sentence)
    assert out_lines(capsys) == ['Sentence[5]: "The grass is green." → POSITIVE (1.0) → ["green"/color]']


def test_label_prints_score_rounded_to_four_places(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("George Washington went to Washington")
    sentence[0:2].add_label("ner", "PER", 0.998886227607727)
    for label in sentence.get_labels("ner"):
        print(label)
        print(f'label.score is: "{label.score}"')
    assert out_lines(capsys) == [
        'Span[0:2]: "George Washington" → PER (0.9989)',
        'label.score is: "0.998886227607727"',
    ]


# -- copies, pickles, user attributes -------------------------------------------------------------------


def test_deepcopy_of_a_labelled_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("The grass is green .")
    sentence.add_label("sentiment", "POSITIVE")
    sentence[3].add_label("ner", "color")
    duplicate = copy.deepcopy(sentence)
    duplicate[3].set_label("ner", "hue")
    print(sentence)
    print(duplicate)
    assert out_lines(capsys) == [
        'Sentence[5]: "The grass is green ." → POSITIVE (1.0) → ["green"/color]',
        'Sentence[5]: "The grass is green ." → POSITIVE (1.0) → ["green"/hue]',
    ]


def test_pickle_of_a_labelled_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("I love Berlin .")
    sentence[2:3].add_label("ner", "LOC", 0.75)
    restored = pickle.loads(pickle.dumps(sentence))
    print(restored)
    print(restored.get_labels("ner")[0])
    assert out_lines(capsys) == [
        'Sentence[4]: "I love Berlin ." → ["Berlin"/LOC]',
        'Span[2:3]: "Berlin" → LOC (0.75)',
    ]


def test_custom_attribute_on_a_sentence() -> None:
    sentence = Sentence("I love Berlin .")
    sentence.my_id = 3
    assert pickle.loads(pickle.dumps(sentence)).my_id == 3
    assert copy.deepcopy(sentence).my_id == 3


def test_metadata_on_sentence_and_token() -> None:
    sentence = Sentence("I love Berlin .")
    sentence.add_metadata("source", "news")
    sentence[2].add_metadata("wiki", "Berlin")
    assert sentence.get_metadata("source") == "news" and sentence.has_metadata("source")
    assert sentence[2].get_metadata("wiki") == "Berlin"
    assert not sentence.has_metadata("author") and not sentence[0].has_metadata("wiki")


# -- document context and spans ---------------------------------------------------------------------------


def test_left_and_right_context(capsys: pytest.CaptureFixture[str]) -> None:
    document = [Sentence("It rained ."), Sentence("We stayed in ."), Sentence("Then it stopped .")]
    link_document(document, "doc-1")
    print(document[1].left_context(2))
    print(document[1].right_context(2))
    assert out_lines(capsys) == ['[Token[1]: "rained", Token[2]: "."]', '[Token[0]: "Then", Token[1]: "it"]']


def test_span_from_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("George Washington went to Washington .")
    span = Span(sentence.tokens[0:2])
    span.add_label("ner", "PER")
    print(span)
    print(sentence.get_spans("ner"))
    assert out_lines(capsys) == [
        'Span[0:2]: "George Washington" → PER (1.0)',
        '[Span[0:2]: "George Washington" → PER (1.0)]',
    ]


# -- embeddings (embeddings tutorials) -------------------------------------------------------------------


def test_word_embeddings_fill_token_embedding(glove_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    glove_embedding = WordEmbeddings(str(glove_file))
    sentence = Sentence("The grass is green .")
    glove_embedding.embed(sentence)
    for token in sentence:
        print(token)
        print(token.embedding.shape)
    lines = out_lines(capsys)
    assert lines[:4] == ['Token[0]: "The"', "torch.Size([100])", 'Token[1]: "grass"', "torch.Size([100])"]
    assert len(lines) == 10
    assert torch.allclose(sentence[1].embedding, torch.full((100,), 0.02))


def test_transformer_word_embeddings_fill_token_embedding(
    tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    embedding = TransformerWordEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    for token in sentence:
        print(token.embedding.shape)
    assert out_lines(capsys) == ["torch.Size([32])"] * 5


def test_transformer_document_embeddings_fill_sentence_embedding(
    tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    embedding = TransformerDocumentEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    print(sentence.embedding.shape)
    print(sentence[0].embedding)
    assert out_lines(capsys) == ["torch.Size([32])", "tensor([])"]


def test_stacked_embeddings_fill_token_embedding(
    glove_file: Path, tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stacked_embeddings = StackedEmbeddings(
        [WordEmbeddings(str(glove_file)), TransformerWordEmbeddings(str(tiny_encoder_dir))]
    )
    sentence = Sentence("The grass is green .")
    stacked_embeddings.embed(sentence)
    for token in sentence:
        print(token.embedding.size())
    assert out_lines(capsys) == ["torch.Size([132])"] * 5
    assert torch.allclose(sentence[0].embedding[:100], torch.full((100,), 0.01))


def test_document_pool_embeddings_fill_sentence_embedding(
    glove_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document_embeddings = DocumentPoolEmbeddings([WordEmbeddings(str(glove_file))])
    sentence = Sentence("The grass is green . And the sky is blue .")
    document_embeddings.embed(sentence)
    print(sentence.embedding.shape)
    assert out_lines(capsys) == ["torch.Size([100])"]


def test_clear_embeddings(glove_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    glove_embedding = WordEmbeddings(str(glove_file))
    sentence = Sentence("The grass is green .")
    glove_embedding.embed(sentence)
    sentence[0].clear_embeddings()
    print(sentence[0].embedding)
    print(sentence[1].embedding.shape)
    sentence.clear_embeddings()
    print(sentence[1].embedding)
    assert out_lines(capsys) == ["tensor([])", "torch.Size([100])", "tensor([])"]


def test_get_embedding_by_name(glove_file: Path, tiny_encoder_dir: Path) -> None:
    glove_embedding = WordEmbeddings(str(glove_file), name="glove")
    transformer = TransformerWordEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    glove_embedding.embed(sentence)
    transformer.embed(sentence)
    token = sentence[1]
    assert token.get_embedding(["glove"]).shape == (100,)
    assert token.get_embedding().shape == (132,)
    assert [v.shape[0] for v in token.get_each_embedding()] == [100, 32]  # sorted by name, as in Flair
    assert token.get_embedding(["nothing"]).numel() == 0


# -- corpus helpers and dictionaries ---------------------------------------------------------------------


def _tagged(text: str, tags: str, topic: str) -> Sentence:
    sentence = Sentence(text.split())
    for token, tag in zip(sentence, tags.split()):
        token.add_label("pos", tag)
    sentence.add_label("topic", topic)
    return sentence


@pytest.fixture()
def small_corpus() -> Corpus:
    train = [_tagged("the cat sat", "DET NOUN VERB", "animals"), _tagged("the dog", "DET NOUN", "animals")]
    dev = [_tagged("a cat", "DET NOUN", "animals")]
    return Corpus(train, dev, [], sample_missing_splits=False)


def test_obtain_statistics(small_corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    print(small_corpus.obtain_statistics(label_type="pos"))
    stats = json.loads(capsys.readouterr().out)
    assert list(stats) == ["TRAIN", "TEST", "DEV"]
    assert stats["TEST"] == {}
    assert stats["TRAIN"] == {
        "dataset": "TRAIN",
        "total_number_of_documents": 2,
        "number_of_documents_per_class": {"DET": 2, "NOUN": 2, "VERB": 1, "animals": 2},
        "number_of_tokens_per_tag": {"DET": 2, "NOUN": 2, "VERB": 1},
        "number_of_tokens": {"total": 5, "min": 2, "max": 3, "avg": 2.5},
    }


def test_make_vocab_dictionary(small_corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    vocab = small_corpus.make_vocab_dictionary(max_tokens=2, min_freq=1)
    print(vocab.get_items())
    assert out_lines(capsys) == ["['<unk>', 'the', 'cat']"]


def test_get_label_distribution(small_corpus: Corpus) -> None:
    distribution = small_corpus.get_label_distribution()
    assert distribution["animals"] == 2 and distribution["NOUN"] == 2 and distribution["VERB"] == 1


def test_dictionary_save_and_load(small_corpus: Corpus, tmp_path: Path) -> None:
    label_dictionary = small_corpus.make_label_dictionary(label_type="pos")
    label_dictionary.save(tmp_path / "pos.dict")
    loaded = Dictionary.load_from_file(tmp_path / "pos.dict")
    assert loaded.get_items() == label_dictionary.get_items() == ["DET", "NOUN", "VERB"]
    assert Dictionary.load(str(tmp_path / "pos.dict")) == label_dictionary


def test_flair_pickled_dictionary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flair.dict"
    path.write_bytes(pickle.dumps({"idx2item": [b"O"], "item2idx": {b"O": 0}}))
    with pytest.raises(FormatError, match="flair.dict: a pickle file"):
        Dictionary.load_from_file(path)


def test_to_dict_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    sentence = Sentence("I love Berlin .")
    sentence[2:3].add_label("ner", "LOC")
    sentence[1].add_label("pos", "VERB")
    print(sentence[2:3].to_dict())
    print(sentence[1].to_dict())
    print(list(sentence.to_dict()))
    assert out_lines(capsys) == [
        "{'text': 'Berlin', 'start_pos': 7, 'end_pos': 13, 'labels': [{'value': 'LOC', 'confidence': 1.0}]}",
        "{'text': 'love', 'start_pos': 2, 'end_pos': 6, 'labels': [{'value': 'VERB', 'confidence': 1.0}]}",
        "['text', 'labels', 'entities', 'relations', 'tokens']",
    ]
