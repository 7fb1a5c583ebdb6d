"""WordEmbeddings (local vector files), StackedEmbeddings, DocumentPoolEmbeddings, unsupported kinds."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Sentence
from polytag.embeddings import (
    DocumentPoolEmbeddings,
    EmbeddingConfigError,
    EmbeddingFileNotFoundError,
    FlairEmbeddings,
    StackedEmbeddings,
    TransformerDocumentEmbeddings,
    TransformerWordEmbeddings,
    UnsupportedEmbeddingError,
    WordEmbeddings,
)
from polytag.embeddings.unsupported import UNSUPPORTED_EMBEDDINGS
from polytag.errors import FormatError
from polytag.models import TextClassifier, TokenClassifier
from polytag.tokenization import MissingDependencyError

VECTORS = {"the": [1.0, 0.0, 0.0], "berlin": [0.0, 2.0, 0.0], "##": [0.0, 0.0, 3.0], "Paris": [4.0, 4.0, 4.0]}


def write_text(path: Path, header: bool = True, vectors: dict[str, list[float]] = VECTORS) -> Path:
    lines = [f"{len(vectors)} 3"] if header else []
    lines += [f"{word} {' '.join(str(v) for v in vec)}" for word, vec in vectors.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_binary(path: Path) -> Path:
    with open(path, "wb") as out:
        out.write(f"{len(VECTORS)} 3\n".encode())
        for word, vector in VECTORS.items():
            out.write(word.encode() + b" " + struct.pack("<3f", *vector) + b"\n")
    return path


def vectors_of(embeddings: WordEmbeddings, text: str) -> list[list[float]]:
    sentence = Sentence(text.split())
    embeddings.embed(sentence)
    stored = embeddings.get_token_embeddings(sentence)
    assert stored is not None
    return stored.tolist()


@pytest.mark.parametrize("kind", ["word2vec-text", "glove", "binary", "gzip"])
def test_every_vector_format_gives_the_same_vectors(tmp_path: Path, kind: str) -> None:
    if kind == "word2vec-text":
        path = write_text(tmp_path / "vectors.txt")
    elif kind == "glove":
        path = write_text(tmp_path / "glove.6B.3d.txt", header=False)
    elif kind == "binary":
        path = write_binary(tmp_path / "vectors.bin")
    else:
        text = write_text(tmp_path / "plain.txt").read_bytes()
        path = tmp_path / "vectors.txt.gz"
        path.write_bytes(gzip.compress(text))
    embeddings = WordEmbeddings(str(path))
    assert embeddings.embedding_length == 3 and len(embeddings.vocab) == 4
    assert vectors_of(embeddings, "the Berlin 42 Paris unknownword") == [
        [1.0, 0.0, 0.0],  # as is
        [0.0, 2.0, 0.0],  # lower-cased
        [0.0, 0.0, 3.0],  # digits as '#'
        [4.0, 4.0, 4.0],
        [0.0, 0.0, 0.0],  # <unk>
    ]


def test_glove_words_with_spaces_keep_them(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("the 1 2\n. . . 3 4\n", encoding="utf-8")
    assert WordEmbeddings(path).vocab == {"the": 0, ". . .": 1}


def test_no_header_reads_a_two_number_first_line_as_a_word(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_text("7 1\n8 2\n", encoding="utf-8")
    assert WordEmbeddings(path, no_header=True).vocab == {"7": 0, "8": 1}


@pytest.mark.parametrize("name", ["glove", "en", "de", "en-crawl", "de-wiki"])
def test_a_flair_hub_name_fails_at_once_saying_how_to_use_a_local_file(name: str) -> None:
    with pytest.raises(EmbeddingFileNotFoundError) as info:
        WordEmbeddings(name)
    message = str(info.value)
    assert f"no local file named {name!r}" in message and "does not download" in message
    assert "WordEmbeddings('/path/to/vectors.txt')" in message
    assert isinstance(info.value, FileNotFoundError)


def test_a_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingFileNotFoundError, match="no such local file"):
        WordEmbeddings(str(tmp_path / "nope.txt"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("2 3\nthe 1 2 3\n", "announces 2 vectors"),
        ("2 3\nthe 1 2 3\nberlin 1 2\n", "line 3: expected a word and 3 numbers"),
        ("the 1 2 3\nberlin 1 x 3\n", "line 2: expected 3 numbers after the word 'berlin'"),
        ("", "no word vectors"),
    ],
)
def test_malformed_text_files_name_the_line(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FormatError, match=problem):
        WordEmbeddings(str(path))


def test_truncated_binary_file_is_reported(tmp_path: Path) -> None:
    path = write_binary(tmp_path / "vectors.bin")
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(FormatError, match="truncated"):
        WordEmbeddings(str(path))


def test_gensim_pickle_needs_gensim(tmp_path: Path) -> None:
    path = tmp_path / "glove.gensim"
    path.write_bytes(pickle.dumps({"not": "loaded"}))
    import importlib.util

    if importlib.util.find_spec("gensim"):  # pragma: no cover - not installed in the test environment
        pytest.skip("gensim is installed here")
    with pytest.raises(MissingDependencyError, match="save_word2vec_format"):
        WordEmbeddings(str(path))


def test_field_embeds_a_label_instead_of_the_word(tmp_path: Path) -> None:
    embeddings = WordEmbeddings(write_text(tmp_path / "v.txt"), field="lemma")
    sentence = Sentence(["Berlins"])
    sentence[0].add_label("lemma", "berlin")
    assert embeddings.forward_batch([sentence]).token_embeddings.tolist() == [[[0.0, 2.0, 0.0]]]


def test_padding_is_zero_and_the_mask_marks_tokens(tmp_path: Path) -> None:
    embeddings = WordEmbeddings(write_text(tmp_path / "v.txt"), fine_tune=True)
    with torch.no_grad():
        embeddings.embedding.weight.fill_(1.0)
    batch = embeddings.forward_batch([Sentence(["the"]), Sentence(["the", "Paris"]), Sentence([])])
    assert batch.token_embeddings.shape == (3, 2, 3)
    assert batch.token_embeddings[0, 1].abs().sum() == 0 and batch.token_embeddings[2].abs().sum() == 0
    assert batch.mask.tolist() == [[True, False], [True, True], [False, False]]
    assert batch.lengths.tolist() == [1, 2, 0]


def test_frozen_vectors_get_no_gradient(tmp_path: Path) -> None:
    frozen = WordEmbeddings(write_text(tmp_path / "v.txt"))
    assert not any(p.requires_grad for p in frozen.parameters())
    assert WordEmbeddings(write_text(tmp_path / "v.txt"), fine_tune=True).embedding.weight.requires_grad


def test_stable_adds_a_layer_norm(tmp_path: Path) -> None:
    embeddings = WordEmbeddings(write_text(tmp_path / "v.txt"), stable=True)
    vector = embeddings.forward_batch([Sentence(["Paris", "the"])]).token_embeddings[0, 1]
    assert float(vector.mean()) == pytest.approx(0.0, abs=1e-5)


@pytest.fixture()
def glove(tmp_path: Path) -> WordEmbeddings:
    return WordEmbeddings(write_text(tmp_path / "glove.txt", header=False))


@pytest.fixture()
def transformer(tiny_encoder_dir: Path) -> TransformerWordEmbeddings:
    torch.manual_seed(0)
    return TransformerWordEmbeddings(str(tiny_encoder_dir))


def test_stack_concatenates_in_order(glove: WordEmbeddings, transformer: TransformerWordEmbeddings) -> None:
    stack = StackedEmbeddings([glove, transformer])
    assert stack.embedding_length == 3 + transformer.embedding_length
    sentences = [Sentence("the Paris".split()), Sentence("Berlin".split())]
    batch = stack.forward_batch(sentences)
    alone = transformer.forward_batch(sentences).token_embeddings
    assert batch.token_embeddings.shape == (2, 2, stack.embedding_length)
    assert (
        batch.token_embeddings[:, :, :3].tolist() == glove.forward_batch(sentences).token_embeddings.tolist()
    )
    assert torch.allclose(batch.token_embeddings[:, :, 3:], alone, atol=1e-6)
    assert str(stack) == f"StackedEmbeddings [{glove.name},{transformer.name}]"


def test_stack_rejects_what_is_not_a_token_embedding(tiny_encoder_dir: Path, glove: WordEmbeddings) -> None:
    with pytest.raises(EmbeddingConfigError, match="at least one"):
        StackedEmbeddings([])
    with pytest.raises(TypeError, match="entry 1 is a str"):
        StackedEmbeddings([glove, "glove"])
    with pytest.raises(EmbeddingConfigError, match="entry 0 .*is_token_embedding=False"):
        StackedEmbeddings([TransformerDocumentEmbeddings(str(tiny_encoder_dir))])


def _ner_sentences() -> list[Sentence]:
    out = []
    for text, span in [("the Paris thing", (1, 2)), ("Berlin the end", (0, 1)), ("the end", None)] * 3:
        sentence = Sentence(text.split())
        if span:
            sentence[span[0] : span[1]].add_label("ner", "LOC")
        sentence.add_label("topic", "city" if span else "none")
        out.append(sentence)
    return out


def test_a_stack_trains_in_a_token_classifier(tmp_path: Path, transformer: TransformerWordEmbeddings) -> None:
    words = WordEmbeddings(write_text(tmp_path / "v.txt"), fine_tune=True)
    stack = StackedEmbeddings([words, transformer])
    sentences = _ner_sentences()
    model = TokenClassifier(stack, Corpus(sentences).make_label_dictionary("ner"), "ner")
    before = words.embedding.weight.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    for _ in range(15):
        loss, count = model.forward_loss(sentences)
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
        losses.append(float(loss.detach()) / count)
    assert losses[-1] < losses[0] * 0.5
    assert not torch.equal(before, words.embedding.weight)  # gradients reached the word vectors
    probe = Sentence("the Paris thing".split())
    model.predict(probe)
    assert [(s.text, s.tag) for s in probe.get_spans("ner")] == [("Paris", "LOC")]


def test_document_pool_is_the_mean_of_the_token_vectors(glove: WordEmbeddings) -> None:
    pool = DocumentPoolEmbeddings([glove])
    assert pool.embedding_length == 3
    sentence = Sentence("the Berlin nothing".split())
    pool.embed(sentence)
    assert pool.get_document_embedding(sentence).tolist() == pytest.approx([1 / 3, 2 / 3, 0.0])
    maximum = DocumentPoolEmbeddings(glove, pooling="max").forward_batch([sentence, Sentence([])])
    assert maximum.document_embeddings.tolist() == [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    with pytest.raises(EmbeddingConfigError, match="pooling"):
        DocumentPoolEmbeddings([glove], pooling="median")


def test_document_pool_trains_in_a_text_classifier(glove: WordEmbeddings) -> None:
    pool = DocumentPoolEmbeddings([glove], fine_tune_mode="linear")
    sentences = _ner_sentences()
    model = TextClassifier(pool, Corpus(sentences).make_label_dictionary("topic"), "topic")
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-2)
    for _ in range(30):
        loss, count = model.forward_loss(sentences)
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
    probe = Sentence("Berlin the end".split())
    model.predict(probe)
    assert probe.get_label("topic").value == "city"


@pytest.mark.parametrize("name", sorted(UNSUPPORTED_EMBEDDINGS))
def test_unsupported_kinds_import_and_say_what_to_use(name: str) -> None:
    import polytag.embeddings as embeddings

    cls = getattr(embeddings, name)
    with pytest.raises(UnsupportedEmbeddingError) as info:
        cls("news-forward", fine_tune=True)
    message = str(info.value)
    assert message.startswith(f"{name} is not supported by polytag") and "Use " in message
    assert "\n" not in message
    assert isinstance(info.value, NotImplementedError)


def test_flair_embeddings_point_to_transformers() -> None:
    with pytest.raises(UnsupportedEmbeddingError, match="TransformerWordEmbeddings"):
        FlairEmbeddings("news-forward")
