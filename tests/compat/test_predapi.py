"""Flair's prediction tutorials (how-predictions-work, tagging entities / parts of speech, tagging sentiment)
in their documented shape, on tiny models trained here instead of hub models."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from polytag.data import Sentence
from polytag.embeddings import (
    DocumentPoolEmbeddings,
    StackedEmbeddings,
    TransformerWordEmbeddings,
    WordEmbeddings,
)
from polytag.models import MultitaskModel, SequenceTagger, TextClassifier, TokenClassifier
from polytag.nn import Classifier

from ..test_models import make_corpus, train_steps

SCORE = r"\(\d\.\d{1,4}\)"


@pytest.fixture(scope="module")
def ner_tagger_file(tiny_encoder_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny NER tagger that has learned the test corpus, saved as Flair's tutorials load one."""
    corpus = make_corpus()
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir))
    tagger = SequenceTagger(embeddings, corpus.make_label_dictionary("ner"), "ner", use_rnn=False)
    train_steps(tagger, list(corpus.train), steps=60, lr=1e-2)
    path = tmp_path_factory.mktemp("ner") / "final-model.pt"
    tagger.save(path)
    return path


@pytest.fixture()
def glove_file(tmp_path: Path) -> Path:
    words = "george washington went to sam houston stayed home paris is in france anna visited berlin and"
    words += " rome yesterday the weather was nice"
    torch.manual_seed(3)
    rows = [w + " " + " ".join(f"{v:.3f}" for v in torch.randn(10).tolist()) for w in words.split()]
    path = tmp_path / "glove.6B.10d.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_how_predictions_work(ner_tagger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tagger = Classifier.load(ner_tagger_file)
    sentence = Sentence("George Washington went to Washington")
    tagger.predict(sentence)
    print(sentence)
    for label in sentence.get_labels():
        print(label)
        print(f'label.value is: "{label.value}"')
        print(f'the text of label.data_point is: "{label.data_point.text}"')
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r'Sentence\[5\]: "George Washington went to Washington" → \[.*"/[A-Z]+.*\]', lines[0])
    assert re.fullmatch(r'Span\[\d:\d\]: "[A-Za-z ]+" → [A-Z]+ ' + SCORE, lines[1])
    assert re.fullmatch(r'label.value is: "[A-Z]+"', lines[2])


def test_classifier_load_reads_a_multitask_model(
    tiny_encoder_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus()
    shared = TransformerWordEmbeddings(str(tiny_encoder_dir))
    pos = TokenClassifier(shared, corpus.make_label_dictionary("pos"), "pos")
    ner = TokenClassifier(shared, corpus.make_label_dictionary("ner"), "ner")
    MultitaskModel([pos, ner]).save(tmp_path / "multitask.pt")
    tagger = Classifier.load(tmp_path / "multitask.pt")
    sentence = Sentence("Paris is in France")
    tagger.predict(sentence)
    print(sentence.to_tagged_string("pos"))
    out = capsys.readouterr().out.strip()
    assert re.fullmatch(
        r'Sentence\[4\]: "Paris is in France" → \["Paris"/\w+, "is"/\w+, "in"/\w+, "France"/\w+\]', out
    )


def test_pos_tagger_with_all_class_probabilities(
    tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    tagger = SequenceTagger(
        TransformerWordEmbeddings(str(tiny_encoder_dir)),
        corpus.make_label_dictionary("pos"),
        "pos",
        use_rnn=False,
    )
    train_steps(tagger, list(corpus.train), steps=30, lr=1e-2)
    sentence = Sentence("Paris is in France")
    tagger.predict(sentence, return_probabilities_for_all_classes=True)
    for token in sentence:
        print(token)
        print(token.get_tags_proba_dist("pos"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Token[0]: "Paris" → UP ' + lines[0].rsplit(" ", 1)[1]  # the prediction, only
    # Flair's Label repr in a list: 'Token[0]: "Paris"'/'UP' (0.9989), one per class in dictionary order
    one = r"'Token\[0\]: \"Paris\"'/'(UP|LOW)' \(\d\.\d+\)"
    assert re.fullmatch(rf"\[{one}, {one}\]", lines[1])
    assert lines[2].startswith('Token[1]: "is" → LOW (')


def test_ner_tagger_with_all_class_probabilities(
    ner_tagger_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tagger = SequenceTagger.load(ner_tagger_file)
    sentence = Sentence("George Washington went to Washington")
    tagger.predict(sentence, return_probabilities_for_all_classes=True)
    print(sentence)
    print([label.value for label in sentence[0].get_tags_proba_dist("ner")])
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r'Sentence\[5\]: "George Washington went to Washington" → \[.*"/[A-Z]+.*\]', lines[0])
    assert "B-PER" in lines[1] and "S-LOC" in lines[1] and "'O'" in lines[1]


def test_force_token_predictions(ner_tagger_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tagger = SequenceTagger.load(ner_tagger_file)
    sentence = Sentence("Anna visited Berlin and Rome yesterday")
    tagger.predict(sentence, force_token_predictions=True)
    print(sentence.get_token(3).text)
    print(sentence.get_token(3).tag)
    assert capsys.readouterr().out.splitlines() == ["Berlin", "S-LOC"]


def test_predict_keywords_of_the_api_docs(ner_tagger_file: Path) -> None:
    tagger = Classifier.load(ner_tagger_file)
    sentences = [Sentence("Sam Houston stayed home"), Sentence("Paris is in France")]
    sentences[0][0:2].add_label("ner", "PER")
    loss, count = tagger.predict(
        sentences, mini_batch_size=1, verbose=True, label_name="guess", return_loss=True
    )
    assert count > 0 and float(loss) >= 0.0
    assert sentences[1].get_labels("guess") and sentences[0].get_labels("ner")[0].value == "PER"
    with pytest.warns(UserWarning, match="embedding_storage_mode='gpu'"):
        tagger.predict(sentences, embedding_storage_mode="gpu")


def test_classic_sequence_tagger_trains_saves_and_loads(
    glove_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    embeddings = StackedEmbeddings([WordEmbeddings(str(glove_file))])
    tagger = SequenceTagger(
        hidden_size=16,
        embeddings=embeddings,
        tag_dictionary=corpus.make_label_dictionary("ner"),
        tag_type="ner",
    )
    train_steps(tagger, list(corpus.train), steps=60, lr=1e-2)
    tagger.save(tmp_path / "final-model.pt")
    loaded = SequenceTagger.load(tmp_path / "final-model.pt")
    sentence = Sentence("Paris is in France")
    loaded.predict(sentence)
    print(sentence)
    assert (
        capsys.readouterr().out.strip() == 'Sentence[4]: "Paris is in France" → ["Paris"/LOC, "France"/LOC]'
    )


def test_document_pool_text_classifier_saves_and_loads(
    glove_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    document_embeddings = DocumentPoolEmbeddings(
        [WordEmbeddings(str(glove_file))], fine_tune_mode="nonlinear"
    )
    classifier = TextClassifier(
        document_embeddings, label_dictionary=corpus.make_label_dictionary("topic"), label_type="topic"
    )
    train_steps(classifier, list(corpus.train), steps=60, lr=1e-2)
    classifier.save(tmp_path / "final-model.pt")
    classifier = TextClassifier.load(tmp_path / "final-model.pt")
    sentence = Sentence("Paris is in France")
    classifier.predict(sentence)
    print(sentence)
    classifier.predict(sentence, return_probabilities_for_all_classes=True)
    print(len(sentence.labels))
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r'Sentence\[4\]: "Paris is in France" → travel ' + SCORE, lines[0])
    assert lines[1] == "3"
