"""Prediction as Flair documents it: all-class probabilities, forced token tags, Classifier.load of a
multitask file, Flair's predict keywords, and saving models over classic (non-transformer) embeddings."""

from __future__ import annotations

import warnings
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
from polytag.errors import ModelFileError
from polytag.io import inspect_model_file
from polytag.models import Model, MultitaskModel, SequenceTagger, TextClassifier, TokenClassifier
from polytag.nn import Classifier

from .test_models import make_corpus, train_steps

TEXT = "Anna visited Berlin and Rome yesterday"


@pytest.fixture()
def encoder(tiny_encoder_dir: Path) -> TransformerWordEmbeddings:
    torch.manual_seed(0)
    return TransformerWordEmbeddings(str(tiny_encoder_dir))


@pytest.fixture()
def vectors_file(tmp_path: Path) -> Path:
    """A GloVe-style text file (no header) covering the test sentences' words, lower-cased."""
    words = "george washington went to sam houston stayed home paris is in france anna visited berlin and"
    words += " rome yesterday the weather was nice"
    torch.manual_seed(1)
    lines = [f"{w} " + " ".join(f"{v:.4f}" for v in torch.randn(6).tolist()) for w in words.split()]
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def labels(sentence: Sentence, name: str) -> list[tuple[str, str, float]]:
    return [
        (label.data_point.text, label.value, round(label.score, 6)) for label in sentence.get_labels(name)
    ]


# -- return_probabilities_for_all_classes -----------------------------------------------------------------


@pytest.mark.parametrize("use_crf", [False, True])
def test_token_tagger_keeps_its_prediction_and_stores_the_distribution(encoder, use_crf: bool) -> None:
    corpus = make_corpus()
    dictionary = corpus.make_label_dictionary("pos")
    tagger = SequenceTagger(encoder, dictionary, "pos", use_crf=use_crf, use_rnn=False, hidden_size=8)
    train_steps(tagger, list(corpus.train), steps=8)
    plain, full = Sentence(TEXT.split()), Sentence(TEXT.split())
    tagger.predict(plain)
    tagger.predict(full, return_probabilities_for_all_classes=True)
    assert labels(full, "pos") == labels(plain, "pos")  # one label per token: the predicted one
    for token in full:
        distribution = token.get_tags_proba_dist("pos")
        assert [label.value for label in distribution] == dictionary.get_items()
        assert all(label.data_point is token for label in distribution)
        assert sum(label.score for label in distribution) == pytest.approx(1.0, abs=1e-5)
        best = max(distribution, key=lambda label: label.score)
        assert token.get_label("pos").value == best.value or use_crf  # a CRF decodes the best path
    assert plain[0].get_tags_proba_dist("pos") == []


def test_span_tagger_adds_spans_and_a_bioes_distribution_per_token(encoder) -> None:
    corpus = make_corpus()
    tagger = TokenClassifier(encoder, corpus.make_label_dictionary("ner"), "ner")
    train_steps(tagger, list(corpus.train), steps=30)
    plain, full = Sentence(TEXT.split()), Sentence(TEXT.split())
    tagger.predict(plain)
    tagger.predict(full, return_probabilities_for_all_classes=True)
    assert labels(full, "ner") == labels(plain, "ner") and labels(plain, "ner")
    for token in full:
        distribution = token.get_tags_proba_dist("ner")
        assert [label.value for label in distribution] == tagger.tag_dictionary.get_items()
        assert sum(label.score for label in distribution) == pytest.approx(1.0, abs=1e-5)


def test_distributions_do_not_depend_on_the_batch(encoder) -> None:
    corpus = make_corpus()
    tagger = TokenClassifier(encoder, corpus.make_label_dictionary("pos"), "pos")
    train_steps(tagger, list(corpus.train), steps=5)
    alone = Sentence(TEXT.split())
    crowd = [Sentence(("word " * 30).split()), Sentence("Paris".split()), Sentence(TEXT.split())]
    tagger.predict(alone, return_probabilities_for_all_classes=True)
    tagger.predict(crowd, mini_batch_size=2, return_probabilities_for_all_classes=True)
    for a, b in zip(alone, crowd[-1]):
        got = [(label.value, label.score) for label in b.get_tags_proba_dist("pos")]
        want = [(label.value, label.score) for label in a.get_tags_proba_dist("pos")]
        assert [g[0] for g in got] == [w[0] for w in want]
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-5)


def test_text_classifier_gives_every_class_best_first(tiny_encoder_dir: Path) -> None:
    from polytag.embeddings import TransformerDocumentEmbeddings

    corpus = make_corpus()
    torch.manual_seed(0)
    dictionary = corpus.make_label_dictionary("topic")
    model = TextClassifier(TransformerDocumentEmbeddings(str(tiny_encoder_dir)), dictionary, "topic")
    train_steps(model, list(corpus.train), steps=10)
    plain, full = Sentence(TEXT.split()), Sentence(TEXT.split())
    model.predict(plain)
    model.predict(full, return_probabilities_for_all_classes=True)
    values = [label.value for label in full.get_labels("topic")]
    assert sorted(values) == sorted(dictionary.get_items())
    assert full.get_label("topic").value == plain.get_label("topic").value
    assert sum(label.score for label in full.get_labels("topic")) == pytest.approx(1.0, abs=1e-5)


# -- force_token_predictions and the other predict keywords ------------------------------------------------


def test_force_token_predictions_puts_bioes_tags_on_tokens(encoder) -> None:
    corpus = make_corpus()
    tagger = SequenceTagger(encoder, corpus.make_label_dictionary("ner"), "ner", use_rnn=False)
    train_steps(tagger, list(corpus.train), steps=40, lr=1e-2)
    spans, tags = Sentence(TEXT.split()), Sentence(TEXT.split())
    tagger.predict(spans)
    tagger.predict(tags, force_token_predictions=True)
    assert all(label.data_point in list(tags) for label in tags.get_labels("ner"))
    assert {label.value[:2] for label in tags.get_labels("ner")} <= {"B-", "I-", "E-", "S-"}
    assert [label.value for label in tags.get_labels("ner")]  # something was tagged
    span_types = sorted(label.value for label in spans.get_labels("ner"))
    singles = sorted(label.value[2:] for label in tags.get_labels("ner") if label.value[0] in "SB")
    assert singles == span_types
    assert tagger.force_token_predictions_once is False  # only for that call


def test_multitask_predict_passes_force_token_predictions_to_its_taggers(encoder) -> None:
    corpus = make_corpus()
    ner = TokenClassifier(encoder, corpus.make_label_dictionary("ner"), "ner")
    train_steps(ner, list(corpus.train), steps=30)
    pos = TokenClassifier(encoder, corpus.make_label_dictionary("pos"), "pos")
    model = MultitaskModel([ner, pos])
    sentence = Sentence(TEXT.split())
    model.predict(sentence, force_token_predictions=True)
    tags = [label.value for label in sentence.get_labels("ner")]
    assert tags and all(label.data_point in list(sentence) for label in sentence.get_labels("ner"))
    assert len(sentence.get_labels("pos")) == len(sentence)
    assert ner.force_token_predictions_once is False
    model.predict(sentence)
    assert all(label.data_point not in list(sentence) for label in sentence.get_labels("ner"))


def test_force_token_predictions_changes_nothing_on_a_token_layer(encoder) -> None:
    corpus = make_corpus()
    tagger = TokenClassifier(encoder, corpus.make_label_dictionary("pos"), "pos")
    a, b = Sentence(TEXT.split()), Sentence(TEXT.split())
    tagger.predict(a)
    tagger.predict(b, force_token_predictions=True)
    assert labels(a, "pos") == labels(b, "pos")


def test_flair_predict_keywords(encoder) -> None:
    corpus = make_corpus()
    tagger = TokenClassifier(encoder, corpus.make_label_dictionary("pos"), "pos")
    sentence = Sentence(TEXT.split())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, count = tagger.predict(
            [sentence], verbose=False, label_name="guess", return_loss=True, embedding_storage_mode="none"
        )
    assert count == 0 and float(loss) == 0.0  # no gold "pos" labels on the sentence
    assert len(sentence.get_labels("guess")) == len(sentence)
    with pytest.warns(UserWarning, match="embedding_storage_mode='cpu'.*ignored"):
        tagger.predict(sentence, embedding_storage_mode="cpu")
    with pytest.raises(ValueError, match="embedding_storage_mode must be one of"):
        tagger.predict(sentence, embedding_storage_mode="disk")


# -- Classifier.load reads a multitask file ----------------------------------------------------------------


def test_classifier_load_reads_a_multitask_file(encoder, tmp_path: Path) -> None:
    corpus = make_corpus()
    pos = TokenClassifier(encoder, corpus.make_label_dictionary("pos"), "pos")
    ner = TokenClassifier(encoder, corpus.make_label_dictionary("ner"), "ner")
    MultitaskModel([pos, ner]).save(tmp_path / "multi.pt")
    loaded = Classifier.load(tmp_path / "multi.pt")
    assert isinstance(loaded, MultitaskModel) and list(loaded.tasks) == ["Task_0", "Task_1"]
    sentence = Sentence(TEXT.split())
    loaded.predict(sentence)
    assert len(sentence.get_labels("pos")) == len(sentence)
    assert isinstance(Model.load(tmp_path / "multi.pt"), MultitaskModel)
    with pytest.raises(ModelFileError, match="holds a MultitaskModel, not a TextClassifier"):
        TextClassifier.load(tmp_path / "multi.pt")
    pos.save(tmp_path / "pos.pt")
    with pytest.raises(ModelFileError, match="holds a TokenClassifier, not a MultitaskModel"):
        MultitaskModel.load(tmp_path / "pos.pt")


# -- saving models over classic embeddings ------------------------------------------------------------------


def _same_after_load(model: Model, path: Path, name: str, **options) -> Model:
    model.eval()
    model.save(path)
    inspect_model_file(path, check_config=True)
    loaded = Model.load(path)
    assert type(loaded) is type(model)
    assert all(not t.is_meta for t in (*loaded.parameters(), *loaded.buffers()))
    before, after = Sentence(TEXT.split()), Sentence(TEXT.split())
    model.predict(before, **options)
    loaded.predict(after, **options)
    assert labels(before, name) == labels(after, name) and labels(before, name)
    return loaded


@pytest.mark.parametrize("stable, fine_tune", [(False, False), (True, True)])
def test_tagger_over_word_embeddings_saves_and_loads(
    vectors_file: Path, tmp_path: Path, stable, fine_tune
) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    words = WordEmbeddings(str(vectors_file), stable=stable, fine_tune=fine_tune)
    tagger = SequenceTagger(words, corpus.make_label_dictionary("ner"), "ner", hidden_size=8)
    train_steps(tagger, list(corpus.train), steps=5)
    loaded = _same_after_load(tagger, tmp_path / "words.pt", "ner", return_probabilities_for_all_classes=True)
    restored = loaded.embeddings
    assert isinstance(restored, WordEmbeddings)
    assert restored.vocab == words.vocab and restored.name == "vectors.txt"  # no local path in the file
    assert restored.embedding.weight.requires_grad == fine_tune
    assert (restored.layer_norm is not None) == stable


def test_tagger_over_a_stack_of_words_and_a_transformer_saves_and_loads(
    vectors_file: Path, encoder, tmp_path: Path
) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    stack = StackedEmbeddings([WordEmbeddings(str(vectors_file)), encoder])
    tagger = TokenClassifier(stack, corpus.make_label_dictionary("pos"), "pos")
    train_steps(tagger, list(corpus.train), steps=3)
    loaded = _same_after_load(tagger, tmp_path / "stack.pt", "pos")
    members = loaded.embeddings.members()
    assert [type(m).__name__ for m in members] == ["WordEmbeddings", "TransformerWordEmbeddings"]
    from polytag.cli.info import describe  # `polytag info` checks the transformer inside the stack

    assert describe(tmp_path / "stack.pt", verify=True)["problems"] == []


def test_text_classifier_over_document_pool_saves_and_loads(vectors_file: Path, tmp_path: Path) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    pool = DocumentPoolEmbeddings([WordEmbeddings(str(vectors_file))], fine_tune_mode="linear", pooling="max")
    model = TextClassifier(pool, corpus.make_label_dictionary("topic"), "topic")
    train_steps(model, list(corpus.train), steps=5)
    loaded = _same_after_load(model, tmp_path / "pool.pt", "topic")
    assert loaded.embeddings.pooling == "max" and loaded.embeddings.fine_tune_mode == "linear"


def test_word_embedding_file_with_a_damaged_vocabulary_is_refused(vectors_file: Path, tmp_path: Path) -> None:
    from polytag.io import load_model_file, save_model_file

    corpus = make_corpus()
    tagger = TokenClassifier(WordEmbeddings(str(vectors_file)), corpus.make_label_dictionary("pos"), "pos")
    path = tmp_path / "words.pt"
    tagger.save(path)
    config, tensors = load_model_file(path)
    config["embeddings"]["0"]["vocab"].append("extra")  # one row more than the stored table
    save_model_file(tmp_path / "longer.pt", config, tensors)
    with pytest.raises(ModelFileError, match="longer.pt.*embedding.weight"):
        Model.load(tmp_path / "longer.pt")
    config["embeddings"]["0"]["vocab"] = "not a list"
    save_model_file(tmp_path / "bad.pt", config, tensors)
    with pytest.raises(ModelFileError, match="bad.pt.*'vocab': expected a list of words"):
        Model.load(tmp_path / "bad.pt")
    config["embeddings"]["0"] = {"class": "StackedEmbeddings", "embeddings": [{"class": "os.system"}]}
    save_model_file(tmp_path / "hostile.pt", config, tensors)
    with pytest.raises(ModelFileError, match="unknown member class 'os.system'"):
        Model.load(tmp_path / "hostile.pt")


def test_an_embedding_that_cannot_describe_itself_is_a_clear_save_error(encoder, tmp_path: Path) -> None:
    class Private(torch.nn.Module):
        is_token_embedding = True
        is_document_embedding = False
        embedding_length = 4

        def forward_batch(self, sentences):  # pragma: no cover - never run
            raise AssertionError

    corpus = make_corpus()
    tagger = TokenClassifier(Private(), corpus.make_label_dictionary("pos"), "pos")  # type: ignore[arg-type]
    with pytest.raises(ModelFileError, match="cannot save a model over Private"):
        tagger.save(tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
