"""Flair's prediction tutorials (tutorial-basics: how-predictions-work, tagging-entities, tagging-sentiment,
part-of-speech-tagging, other-models, how-to-tag-corpus) with tiny models trained here in place of hub models.

The module trains three small models once (an NER tagger, a POS tagger, a sentiment classifier) on the
tutorials' own sentences and loads them with ``Classifier.load(path)`` as the tutorials load ``'ner'``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Sentence
from polytag.embeddings import TransformerDocumentEmbeddings, TransformerWordEmbeddings
from polytag.errors import ModelFileError
from polytag.models import SequenceTagger, TextClassifier
from polytag.nn import Classifier
from polytag.splitter import SegtokSentenceSplitter
from polytag.trainers import ModelTrainer

QUIET = {"progress_bar": False, "plot_training_curves": False, "create_file_logs": False, "seed": 1}
SCORE = r"\(\d\.\d{1,4}\)"

NER = [
    ("George Washington went to Washington.", [(0, 2, "PER"), (4, 5, "LOC")]),
    ("Sam Houston stayed home.", [(0, 2, "PER")]),
    ("This is a sentence.", []),
    ("I love Berlin.", [(2, 3, "LOC")]),
]
POS = [
    ("Dirk went to the store.", "NNP VBD IN DT NN ."),
    ("George returned to Berlin to return his hat.", "NNP VBD IN NNP TO VB PRP$ NN ."),
    ("The quick brown fox jumps over the lazy dog.", "DT JJ JJ NN VBZ IN DT JJ NN ."),
]
SENTIMENT = [
    ("This movie is not at all bad.", "POSITIVE"),
    ("This movie is very bad.", "NEGATIVE"),
    ("I love this film.", "POSITIVE"),
    ("What a terrible plot.", "NEGATIVE"),
]


def ner_sentences() -> list[Sentence]:
    out = []
    for text, spans in NER:
        sentence = Sentence(text)
        for start, end, tag in spans:
            sentence[start:end].add_label("ner", tag)
        out.append(sentence)
    return out


def pos_sentences() -> list[Sentence]:
    out = []
    for text, tags in POS:
        sentence = Sentence(text)
        for token, tag in zip(sentence, tags.split()):
            token.add_label("pos", tag)
        out.append(sentence)
    return out


def sentiment_sentences() -> list[Sentence]:
    out = []
    for text, value in SENTIMENT:
        sentence = Sentence(text)
        sentence.add_label("sentiment", value)
        out.append(sentence)
    return out


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path) -> dict[str, Path]:
    """Train the three stand-ins for Flair's 'ner', 'pos' and 'sentiment' hub models once."""
    root = tmp_path_factory.mktemp("predictions")
    torch.manual_seed(0)
    ner = ner_sentences
    corpus = Corpus(ner() * 4, ner(), ner())
    tagger = SequenceTagger(
        hidden_size=16,
        embeddings=TransformerWordEmbeddings(str(tiny_encoder_dir), layers="-1", fine_tune=True),
        tag_dictionary=corpus.make_label_dictionary(label_type="ner", add_unk=False),
        tag_type="ner",
        use_crf=False,
        use_rnn=False,
        reproject_embeddings=False,
    )
    ModelTrainer(tagger, corpus).fine_tune(
        root / "ner", learning_rate=5e-3, mini_batch_size=4, max_epochs=6, **QUIET
    )

    corpus = Corpus(pos_sentences() * 4, pos_sentences(), pos_sentences())
    pos_tagger = SequenceTagger(
        hidden_size=16,
        embeddings=TransformerWordEmbeddings(str(tiny_encoder_dir), layers="-1", fine_tune=True),
        tag_dictionary=corpus.make_label_dictionary(label_type="pos"),
        tag_type="pos",
        use_crf=False,
        use_rnn=False,
        reproject_embeddings=False,
    )
    ModelTrainer(pos_tagger, corpus).fine_tune(
        root / "pos", learning_rate=5e-3, mini_batch_size=4, max_epochs=6, **QUIET
    )

    corpus = Corpus(sentiment_sentences() * 4, sentiment_sentences(), sentiment_sentences())
    classifier = TextClassifier(
        TransformerDocumentEmbeddings(str(tiny_encoder_dir), fine_tune=True),
        label_dictionary=corpus.make_label_dictionary(label_type="sentiment"),
        label_type="sentiment",
    )
    ModelTrainer(classifier, corpus).fine_tune(
        root / "sentiment", learning_rate=5e-3, mini_batch_size=4, max_epochs=6, **QUIET
    )
    return {name: root / name / "final-model.pt" for name in ("ner", "pos", "sentiment")}


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_tagging_entities_with_classifier_load(
    model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    tagger = Classifier.load(model_files["ner"])
    sentence = Sentence("George Washington went to Washington.")
    tagger.predict(sentence)
    print(sentence)
    assert printed(capsys) == [
        'Sentence[6]: "George Washington went to Washington." → ["George Washington"/PER, "Washington"/LOC]'
    ]


def test_getting_the_predictions(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tagger = Classifier.load(model_files["ner"])
    sentence = Sentence("George Washington went to Washington.")
    tagger.predict(sentence)
    for label in sentence.get_labels():
        print(label)
    lines = printed(capsys)
    assert len(lines) == 2
    assert re.fullmatch(r'Span\[0:2\]: "George Washington" → PER ' + SCORE, lines[0])
    assert re.fullmatch(r'Span\[4:5\]: "Washington" → LOC ' + SCORE, lines[1])


def test_values_for_each_prediction(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tagger = Classifier.load(model_files["ner"])
    sentence = Sentence("George Washington went to Washington.")
    tagger.predict(sentence)
    for label in sentence.get_labels():
        print(f'label.value is: "{label.value}"')
        print(f'label.score is: "{label.score}"')
        print(f'the text of label.data_point is: "{label.data_point.text}"\n')
    lines = printed(capsys)
    assert lines[0] == 'label.value is: "PER"'
    assert re.fullmatch(r'label\.score is: "0\.\d+"', lines[1])
    assert lines[2] == 'the text of label.data_point is: "George Washington"'
    assert lines[4] == 'label.value is: "LOC"'
    assert lines[6] == 'the text of label.data_point is: "Washington"'
    assert all(0.0 < label.score <= 1.0 for label in sentence.get_labels())


def test_loading_through_the_model_class(model_files: dict[str, Path]) -> None:
    # Flair: SequenceTagger.load(...) and Classifier.load(...) give the same model
    tagger = SequenceTagger.load(model_files["ner"])
    assert isinstance(tagger, SequenceTagger) and isinstance(tagger, Classifier)
    assert tagger.label_type == "ner"
    # polytag keeps the span types here; Flair's SequenceTagger keeps the BIOES-expanded tags
    assert sorted(tagger.label_dictionary.get_items()) == ["LOC", "PER"]


def test_tag_a_whole_corpus(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    text = "This is a sentence. This is another sentence. I love Berlin."
    sentences = SegtokSentenceSplitter().split(text)
    tagger = Classifier.load(model_files["ner"])
    tagger.predict(sentences, mini_batch_size=2)
    for sentence in sentences:
        print(sentence)
    lines = printed(capsys)
    assert lines[0].startswith('Sentence[5]: "This is a sentence."')
    assert lines[1].startswith('Sentence[5]: "This is another sentence."')
    assert lines[2] == 'Sentence[4]: "I love Berlin." → ["Berlin"/LOC]'


def test_predictions_do_not_depend_on_mini_batch_size(model_files: dict[str, Path]) -> None:
    tagger = Classifier.load(model_files["ner"])
    texts = ["George Washington went to Washington.", "I love Berlin.", "Sam Houston stayed home."]
    one, many = [Sentence(t) for t in texts], [Sentence(t) for t in texts]
    tagger.predict(one, mini_batch_size=1)
    tagger.predict(many, mini_batch_size=32)
    assert [str(s) for s in one] == [str(s) for s in many]
    assert [[round(lab.score, 4) for lab in s.get_labels()] for s in one] == [
        [round(lab.score, 4) for lab in s.get_labels()] for s in many
    ]


def test_chunk_style_span_listing(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # other-models.md 'chunk': for chunk in sentence.get_labels(): print(chunk)
    tagger = Classifier.load(model_files["ner"])
    sentence = Sentence("Sam Houston stayed home.")
    tagger.predict(sentence)
    for chunk in sentence.get_labels():
        print(chunk)
    assert [re.sub(SCORE, "(S)", line) for line in printed(capsys)] == ['Span[0:2]: "Sam Houston" → PER (S)']


def test_tagging_parts_of_speech(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tagger = Classifier.load(model_files["pos"])
    sentence = Sentence("Dirk went to the store.")
    tagger.predict(sentence)
    print(sentence)
    assert printed(capsys) == [
        'Sentence[6]: "Dirk went to the store." → '
        '["Dirk"/NNP, "went"/VBD, "to"/IN, "the"/DT, "store"/NN, "."/.]'
    ]


def test_frame_style_token_printout(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # other-models.md 'frame': for token in sentence: print(token) shows each predicted tag and score
    tagger = Classifier.load(model_files["pos"])
    sentence = Sentence("George returned to Berlin to return his hat.")
    tagger.predict(sentence)
    for token in sentence:
        print(token)
    lines = printed(capsys)
    assert len(lines) == 9
    assert re.fullmatch(r'Token\[1\]: "returned" → VBD ' + SCORE, lines[1])
    assert all(re.fullmatch(r'Token\[\d\]: "[^"]+" → \S+ ' + SCORE, line) for line in lines)


def test_tagging_sentiment(model_files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    tagger = Classifier.load(model_files["sentiment"])
    sentence = Sentence("This movie is not at all bad.")
    tagger.predict(sentence)
    print(sentence)
    sentence = Sentence("This movie is very bad.")
    tagger.predict(sentence)
    print(sentence)
    lines = printed(capsys)
    assert re.fullmatch(r'Sentence\[8\]: "This movie is not at all bad\." → POSITIVE ' + SCORE, lines[0])
    assert re.fullmatch(r'Sentence\[6\]: "This movie is very bad\." → NEGATIVE ' + SCORE, lines[1])


def test_text_classifier_load_and_labels(model_files: dict[str, Path]) -> None:
    # how-to-train-text-classifier.md: TextClassifier.load(...); predict; print(sentence.labels)
    classifier = TextClassifier.load(model_files["sentiment"])
    sentence = Sentence("I love this film.")
    classifier.predict(sentence)
    assert len(sentence.labels) == 1
    assert re.fullmatch(
        r"\['Sentence\[5\]: \"I love this film\.\"'/'POSITIVE' " + SCORE + r"\]", str(sentence.labels)
    )


def test_probabilities_for_all_classes_on_a_tagger(model_files: dict[str, Path]) -> None:
    tagger = Classifier.load(model_files["pos"])
    sentence = Sentence("Dirk went to the store.")
    tagger.predict(sentence, return_probabilities_for_all_classes=True)
    assert sentence[0].get_label("pos").value == "NNP"
    distribution = sentence[0].get_tags_proba_dist("pos")
    assert len(distribution) == len(tagger.label_dictionary)
    assert sum(label.score for label in distribution) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("hub_name", ["ner", "sentiment"])
def test_hub_model_names_fail_with_the_name(
    hub_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no local file or folder of that name
    with pytest.raises(ModelFileError, match=rf"\b{hub_name}\b"):
        Classifier.load(hub_name)
