"""Flair's embeddings tutorials (tutorial-embeddings: embeddings, transformer-embeddings,
classic-word-embeddings, flair-embeddings, other-embeddings), with the tiny encoder for 'bert-base-uncased'.

The tiny encoder has 2 layers of width 32, so Flair's documented sizes 768 / 1536 / 9984 (13 layers of
BERT-base) become 32 / 64 / 96 (3 layers).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Sentence
from polytag.embeddings import (
    BytePairEmbeddings,
    CharacterEmbeddings,
    DocumentPoolEmbeddings,
    DocumentRNNEmbeddings,
    ELMoEmbeddings,
    FastTextEmbeddings,
    FlairEmbeddings,
    OneHotEmbeddings,
    PooledFlairEmbeddings,
    StackedEmbeddings,
    TransformerDocumentEmbeddings,
    TransformerEmbeddings,
    TransformerWordEmbeddings,
    WordEmbeddings,
)


@pytest.fixture()
def glove_file(tmp_path: Path) -> Path:
    words = ["the", "grass", "is", "green", ".", "and", "sky", "blue"]
    rows = [
        w + " " + " ".join(f"{(i + 1) * 0.01 + j * 0.001:.4f}" for j in range(100))
        for i, w in enumerate(words)
    ]
    path = tmp_path / "glove.6B.100d.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


# -- embeddings.md --------------------------------------------------------------------------------


def test_embed_words_and_read_token_embedding(
    tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    embedding = TransformerWordEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    for token in sentence:
        print(token)
        print(token.embedding.shape)
    assert printed(capsys)[:2] == ['Token[0]: "The"', "torch.Size([32])"]


def test_embed_words_polytag_way(tiny_encoder_dir: Path) -> None:
    embedding = TransformerWordEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    vectors = embedding.get_token_embeddings(sentence)
    assert tuple(vectors.shape) == (5, embedding.embedding_length) == (5, 32)
    assert not torch.equal(vectors[0], vectors[1])  # contextual: one vector per token


def test_embed_a_document_and_read_sentence_embedding(tiny_encoder_dir: Path) -> None:
    embedding = TransformerDocumentEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    assert tuple(sentence.embedding.shape) == (32,)


def test_embed_a_document_polytag_way(tiny_encoder_dir: Path) -> None:
    embedding = TransformerDocumentEmbeddings(str(tiny_encoder_dir))
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    assert tuple(embedding.get_document_embedding(sentence).shape) == (32,)


def test_embed_a_list_of_sentences(tiny_encoder_dir: Path) -> None:
    embedding = TransformerWordEmbeddings(str(tiny_encoder_dir))
    sentences = [Sentence("The grass is green ."), Sentence("The sky is blue and wide .")]
    embedding.embed(sentences)
    assert [tuple(embedding.get_token_embeddings(s).shape) for s in sentences] == [(5, 32), (7, 32)]


def test_stacked_embeddings_token_embedding(glove_file: Path, tiny_encoder_dir: Path) -> None:
    stacked_embeddings = StackedEmbeddings(
        [WordEmbeddings(str(glove_file)), TransformerWordEmbeddings(str(tiny_encoder_dir))]
    )
    sentence = Sentence("The grass is green .")
    stacked_embeddings.embed(sentence)
    assert [tuple(token.embedding.shape) for token in sentence] == [(132,)] * 5


# -- transformer-embeddings.md ----------------------------------------------------------------------


@pytest.mark.parametrize(("layers", "length"), [("-1", 32), ("-1,-2", 64), ("all", 96)])
def test_layers_concatenate_without_layer_mean(tiny_encoder_dir: Path, layers: str, length: int) -> None:
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), layers=layers, layer_mean=False)
    sentence = Sentence("The grass is green.")
    embeddings.embed(sentence)
    assert embeddings.embedding_length == length
    assert tuple(embeddings.get_token_embeddings(sentence)[0].size()) == (length,)


def test_layers_block_with_clear_embeddings(
    tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sentence = Sentence("The grass is green.")
    for layers in ("-1", "-1,-2", "all"):
        embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), layers=layers, layer_mean=False)
        embeddings.embed(sentence)
        print(sentence[0].embedding.size())
        sentence.clear_embeddings()
    assert printed(capsys) == ["torch.Size([32])", "torch.Size([64])", "torch.Size([96])"]


def test_first_last_subtoken_pooling_doubles_the_size(tiny_encoder_dir: Path) -> None:
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), subtoken_pooling="first_last")
    sentence = Sentence("The puppeteer is green.")
    embeddings.embed(sentence)
    assert tuple(embeddings.get_token_embeddings(sentence)[1].size()) == (64,)


@pytest.mark.parametrize("pooling", ["first", "last", "mean"])
def test_other_subtoken_poolings_keep_the_size(tiny_encoder_dir: Path, pooling: str) -> None:
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), subtoken_pooling=pooling)
    sentence = Sentence("The puppeteer is green.")
    embeddings.embed(sentence)
    assert tuple(embeddings.get_token_embeddings(sentence).shape) == (5, 32)


def test_layer_mean_keeps_one_layer_size(tiny_encoder_dir: Path) -> None:
    embedding = TransformerWordEmbeddings(str(tiny_encoder_dir), layers="all", layer_mean=True)
    sentence = Sentence("The Oktoberfest is the world's largest Volksfest .")
    embedding.embed(sentence)
    assert embedding.embedding_length == 32
    assert tuple(embedding.get_token_embeddings(sentence).shape) == (len(sentence), 32)


@pytest.mark.xfail(strict=True, reason="no token.embedding, and embed() with fine_tune=True gives no grad_fn")
def test_fine_tuneable_embedding_has_a_gradient_function(tiny_encoder_dir: Path) -> None:
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=True, layers="-1")
    sentence = Sentence("The grass is green.")
    embeddings.embed(sentence)
    assert sentence[0].embedding.grad_fn is not None


def test_token_and_document_embeddings_from_one_transformer(tiny_encoder_dir: Path) -> None:
    # multitask tutorial, example 2: one TransformerEmbeddings that is both a word and a document embedding
    shared = TransformerEmbeddings(
        str(tiny_encoder_dir), fine_tune=True, is_token_embedding=True, is_document_embedding=True
    )
    sentence = Sentence("IBM made a lot of profit.")
    shared.embed(sentence)
    assert tuple(shared.get_token_embeddings(sentence).shape) == (7, 32)
    assert tuple(shared.get_document_embedding(sentence).shape) == (32,)


# -- classic-word-embeddings.md ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["glove", "en", "de", "de-crawl"])
def test_word_embedding_ids_fail_without_downloading(name: str) -> None:
    with pytest.raises(FileNotFoundError, match=rf"WordEmbeddings\('{name}'\).*local file"):
        WordEmbeddings(name)


def test_custom_gensim_path_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "path" / "to" / "your" / "custom" / "embeddings.gensim"
    with pytest.raises(FileNotFoundError, match="no such local file"):
        WordEmbeddings(str(missing))


def test_word2vec_text_file_with_header(tmp_path: Path) -> None:
    # the tutorial's fastText/word2vec text file, read directly instead of converting it to gensim
    path = tmp_path / "embeddings.txt"
    path.write_text("2 3\ngrass 0.1 0.2 0.3\ngreen 0.4 0.5 0.6\n", encoding="utf-8")
    embedding = WordEmbeddings(str(path))
    sentence = Sentence("The grass is green")
    embedding.embed(sentence)
    vectors = embedding.get_token_embeddings(sentence)
    assert embedding.embedding_length == 3
    assert torch.allclose(vectors[1], torch.tensor([0.1, 0.2, 0.3]))
    assert torch.equal(vectors[0], torch.zeros(3))  # unknown words get zeros, as in Flair


def test_fasttext_embeddings_point_to_the_vec_file() -> None:
    with pytest.raises(NotImplementedError, match=r"FastTextEmbeddings is not supported.*WordEmbeddings"):
        FastTextEmbeddings("/path/to/cc.en.300.bin")


# -- flair-embeddings.md -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["news-forward", "de-forward", "bg-backward", "multi-forward"])
def test_flair_embeddings_fail_with_the_replacement(name: str) -> None:
    with pytest.raises(NotImplementedError, match="TransformerWordEmbeddings"):
        FlairEmbeddings(name)


def test_recommended_flair_stack_fails_at_the_flair_member(glove_file: Path) -> None:
    with pytest.raises(NotImplementedError, match="FlairEmbeddings is not supported"):
        StackedEmbeddings([WordEmbeddings(str(glove_file)), FlairEmbeddings("news-forward")])


def test_pooled_flair_embeddings_fail_with_the_replacement() -> None:
    with pytest.raises(NotImplementedError, match="use_context=True"):
        PooledFlairEmbeddings("news-forward")


# -- other-embeddings.md -------------------------------------------------------------------------------


def test_one_hot_embeddings_from_corpus_fail_clearly() -> None:
    corpus = Corpus([Sentence("The grass is green .")], [], [])
    with pytest.raises(NotImplementedError, match="OneHotEmbeddings is not supported"):
        OneHotEmbeddings.from_corpus(corpus)


def test_one_hot_embeddings_fail_clearly() -> None:
    with pytest.raises(
        NotImplementedError, match="OneHotEmbeddings is not supported.*TransformerWordEmbeddings"
    ):
        OneHotEmbeddings(Corpus([Sentence("The grass is green .")], [], []))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"language": "en"},
        {"language": "multi"},
        {"model_file_path": "m.model", "embedding_file_path": "w2v.txt"},
    ],
)
def test_byte_pair_embeddings_fail_clearly(kwargs: dict[str, str]) -> None:
    with pytest.raises(NotImplementedError, match="BytePairEmbeddings is not supported"):
        BytePairEmbeddings(**kwargs)


@pytest.mark.parametrize("factory", [CharacterEmbeddings, ELMoEmbeddings])
def test_character_and_elmo_embeddings_fail_clearly(factory: type) -> None:
    with pytest.raises(NotImplementedError, match="is not supported by polytag.*TransformerWordEmbeddings"):
        factory()


def test_document_pool_embeddings_min_pooling(glove_file: Path) -> None:
    glove_embedding = WordEmbeddings(str(glove_file))
    document_embeddings = DocumentPoolEmbeddings([glove_embedding], pooling="min")
    sentence = Sentence("The grass is green . And the sky is blue .")
    document_embeddings.embed(sentence)
    pooled = document_embeddings.get_document_embedding(sentence)
    glove_embedding.embed(sentence)
    expected = glove_embedding.get_token_embeddings(sentence).min(dim=0).values
    assert tuple(pooled.shape) == (100,)
    assert torch.allclose(pooled, expected)


@pytest.mark.parametrize("mode", ["linear", "nonlinear", "none"])
def test_document_pool_fine_tune_modes(glove_file: Path, mode: str) -> None:
    document_embeddings = DocumentPoolEmbeddings([WordEmbeddings(str(glove_file))], fine_tune_mode=mode)
    sentence = Sentence("The grass is green .")
    document_embeddings.embed(sentence)
    assert document_embeddings.embedding_length == 100
    assert tuple(document_embeddings.get_document_embedding(sentence).shape) == (100,)


@pytest.mark.parametrize("kwargs", [{}, {"rnn_type": "LSTM"}])
def test_document_rnn_embeddings_fail_with_the_replacement(glove_file: Path, kwargs: dict[str, str]) -> None:
    with pytest.raises(NotImplementedError, match="TransformerDocumentEmbeddings"):
        DocumentRNNEmbeddings([WordEmbeddings(str(glove_file))], **kwargs)
