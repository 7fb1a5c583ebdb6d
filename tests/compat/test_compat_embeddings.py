"""Flair's word-embedding tutorial shapes: WordEmbeddings, StackedEmbeddings, DocumentPoolEmbeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from polytag.data import Sentence
from polytag.embeddings import (
    DocumentPoolEmbeddings,
    FlairEmbeddings,
    StackedEmbeddings,
    TransformerWordEmbeddings,
    WordEmbeddings,
)


@pytest.fixture()
def glove_file(tmp_path: Path) -> Path:
    """A GloVe-format file (no header line) with 100-dimensional vectors, like glove.6B.100d.txt."""
    rows = []
    for i, word in enumerate(["the", "grass", "is", "green", "."]):
        rows.append(word + " " + " ".join(str((i + 1) * 0.01) for _ in range(100)))
    path = tmp_path / "glove.6B.100d.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_word_embeddings_tutorial(glove_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    glove_embedding = WordEmbeddings(str(glove_file))
    sentence = Sentence("The grass is green .")
    glove_embedding.embed(sentence)
    vectors = glove_embedding.get_token_embeddings(sentence)  # Flair: token.embedding
    for token, vector in zip(sentence, vectors):
        print(token)
        print(vector.shape)
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == ['Token[0]: "The"', "torch.Size([100])"]
    assert len(lines) == 10
    assert glove_embedding.embedding_length == 100


def test_hub_name_fails_with_guidance() -> None:
    with pytest.raises(FileNotFoundError, match="no local file named 'glove'"):
        WordEmbeddings("glove")


def test_flair_embeddings_line_fails_clearly() -> None:
    with pytest.raises(NotImplementedError, match="FlairEmbeddings is not supported by polytag"):
        FlairEmbeddings("news-forward")


def test_stacked_embeddings_tutorial(glove_file: Path, tiny_encoder_dir: Path) -> None:
    glove_embedding = WordEmbeddings(str(glove_file))
    transformer = TransformerWordEmbeddings(str(tiny_encoder_dir))
    stacked_embeddings = StackedEmbeddings([glove_embedding, transformer])
    sentence = Sentence("The grass is green .")
    stacked_embeddings.embed(sentence)
    vectors = stacked_embeddings.get_token_embeddings(sentence)
    assert stacked_embeddings.embedding_length == 100 + 32
    assert tuple(vectors.shape) == (5, 132)
    assert torch.allclose(vectors[0, :100], torch.full((100,), 0.01))


def test_document_pool_embeddings_tutorial(glove_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document_embeddings = DocumentPoolEmbeddings([WordEmbeddings(str(glove_file))])
    sentence = Sentence("The grass is green . And the sky is blue .")
    document_embeddings.embed(sentence)
    print(document_embeddings.get_document_embedding(sentence).shape)  # Flair: sentence.embedding
    assert capsys.readouterr().out.strip() == "torch.Size([100])"


def test_sequence_tagger_trains_on_stacked_embeddings(
    glove_file: Path, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    from polytag.data import Corpus
    from polytag.models import SequenceTagger
    from polytag.trainers import ModelTrainer

    def sentences() -> list[Sentence]:
        out = []
        for text, start in [("the grass is green", 1), ("green is the grass", 3)] * 3:
            sentence = Sentence(text)
            sentence[start : start + 1].add_label("ner", "PLANT")
            out.append(sentence)
        return out

    corpus = Corpus(sentences(), sentences(), sentences())
    torch.manual_seed(0)
    embeddings = StackedEmbeddings(
        [WordEmbeddings(str(glove_file)), TransformerWordEmbeddings(str(tiny_encoder_dir))]
    )
    tagger = SequenceTagger(
        hidden_size=16,
        embeddings=embeddings,
        tag_dictionary=corpus.make_label_dictionary(label_type="ner"),
        tag_type="ner",
    )
    trainer = ModelTrainer(tagger, corpus)
    # saving a model whose encoder is a stack is not supported yet, so this run keeps no model file
    result = trainer.train(
        tmp_path / "run",
        learning_rate=0.1,
        mini_batch_size=2,
        max_epochs=2,
        save_final_model=False,
        param_selection_mode=True,
        create_file_logs=False,
        plot_training_curves=False,
        progress_bar=False,
        seed=1,
    )
    assert len(result["train_loss_history"]) == 2
    assert result["train_loss_history"][-1] < result["train_loss_history"][0]
