"""ONNX export: onnxruntime predictions equal PyTorch's (identical labels, scores within 1e-4).

Every case trains a head briefly on the tiny encoder (so that labels are not all "O"), exports it, and
predicts a few dozen sentences (one long enough to be cut into encoder windows) with both runtimes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polytag.data import Dictionary, Sentence, link_document
from polytag.embeddings import TransformerDocumentEmbeddings, TransformerEmbeddings, TransformerWordEmbeddings
from polytag.models import MultitaskModel, SequenceTagger, SpanClassifier, TextClassifier, TokenClassifier

from .test_models import make_corpus, make_sentences, train_steps

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from polytag.export import ExportError, OnnxPredictor, compare_predictions, export_onnx  # noqa: E402

WINDOW = 24  # small encoder window, so that the long sentence is cut into several windows
LONG = ("Anna visited Berlin and Rome yesterday while George Washington stayed home in Paris ." * 6).split()


def evaluation_sentences() -> list[Sentence]:
    """About three dozen sentences of varied length, one of them longer than the encoder window."""
    sentences = make_sentences(6)
    sentences.append(Sentence(LONG))
    sentences.append(Sentence(["Washington"]))
    sentences.append(Sentence("Sam Houston went to France and Anna stayed in Berlin".split()))
    return sentences


def assert_same_predictions(model, folder: Path, sentences: list[Sentence], **options) -> int:
    """Both runtimes label ``sentences``; returns how many labels the reference has."""
    predictor = OnnxPredictor(folder, threads=1)
    model.predict(sentences, label_name="torch", mini_batch_size=8, **options)
    predictor.predict(sentences, label_name="onnx", mini_batch_size=8, **options)
    heads = list(model.tasks) if isinstance(model, MultitaskModel) else [None]
    torch_names = ["torch" if t is None else f"torch_{t}" for t in heads]
    onnx_names = ["onnx" if t is None else f"onnx_{t}" for t in heads]
    agreement = compare_predictions(sentences, torch_names, onnx_names)
    assert agreement.label_agreement == 1.0, agreement.examples
    assert agreement.labels_equal == agreement.labels_reference
    assert agreement.max_score_difference <= 1e-4
    return agreement.labels_reference


def span_labels(sentences: list[Sentence], name: str) -> int:
    return sum(1 for s in sentences for label in s.get_labels(name) if label.data_point is not s)


@pytest.fixture()
def corpus():
    return make_corpus()


@pytest.mark.parametrize(
    "pooling, layers",
    [("first", {}), ("mean", {"layers": "-1,-2"}), ("first_last", {"layers": "all", "layer_mean": True})],
)
def test_token_classifier_spans_match(tiny_encoder_dir, corpus, tmp_path, pooling, layers) -> None:
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(
        str(tiny_encoder_dir), model_max_length=WINDOW, subtoken_pooling=pooling, **layers
    )
    model = TokenClassifier(embeddings, corpus.make_label_dictionary("ner"), "ner")
    train_steps(model, list(corpus.train), steps=25, lr=1e-2)
    export_onnx(model, tmp_path / "onnx")
    sentences = evaluation_sentences()
    assert embeddings.subtoken_lengths([sentences[-3]])[0] > WINDOW  # the long one really is windowed
    assert assert_same_predictions(model, tmp_path / "onnx", sentences) > 0
    assert span_labels(sentences, "onnx") > 0  # BIOES decoding produced spans


def test_token_labels_with_all_probabilities_and_document_context(tiny_encoder_dir, corpus, tmp_path) -> None:
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), use_context=8, model_max_length=64)
    model = TokenClassifier(embeddings, corpus.make_label_dictionary("pos"), "pos")
    train_steps(model, list(corpus.train), steps=10)
    export_onnx(model, tmp_path / "onnx")
    sentences = evaluation_sentences()
    link_document(sentences[:12], "doc-1")  # neighbours become context
    count = assert_same_predictions(
        model, tmp_path / "onnx", sentences, return_probabilities_for_all_classes=True
    )
    assert count == sum(len(s) for s in sentences)  # the prediction; every class's probability apart:
    for token in (t for s in sentences for t in s):
        want, got = token.get_tags_proba_dist("torch"), token.get_tags_proba_dist("onnx")
        assert [x.value for x in got] == [x.value for x in want] and len(want) == len(model.tag_dictionary)
        assert [x.score for x in got] == pytest.approx([x.score for x in want], abs=1e-4)


@pytest.mark.parametrize("rnn_type, layers", [("LSTM", 1), ("GRU", 2)])
def test_sequence_tagger_with_crf_and_rnn_matches(
    tiny_encoder_dir, corpus, tmp_path, rnn_type, layers
) -> None:
    torch.manual_seed(0)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), model_max_length=WINDOW)
    model = SequenceTagger(
        embeddings,
        corpus.make_label_dictionary("ner"),
        "ner",
        hidden_size=16,
        rnn_layers=layers,
        rnn_type=rnn_type,
    )
    train_steps(model, list(corpus.train), steps=60, lr=1e-2)
    export_onnx(model, tmp_path / "onnx")
    settings = json.loads((tmp_path / "onnx" / "polytag-onnx.json").read_text())
    assert settings["heads"][0]["crf"] is not None and settings["heads"][0]["output"] == "main.emissions"
    sentences = evaluation_sentences()
    assert assert_same_predictions(model, tmp_path / "onnx", sentences) > 0
    assert span_labels(sentences, "onnx") > 0


@pytest.mark.parametrize("cls_pooling, multi_label", [("cls", False), ("mean", False), ("max", True)])
def test_text_classifier_matches(tiny_encoder_dir, corpus, tmp_path, cls_pooling, multi_label) -> None:
    torch.manual_seed(0)
    embeddings = TransformerDocumentEmbeddings(
        str(tiny_encoder_dir), cls_pooling=cls_pooling, model_max_length=WINDOW
    )
    model = TextClassifier(
        embeddings, corpus.make_label_dictionary("topic"), "topic", multi_label=multi_label
    )
    train_steps(model, list(corpus.train), steps=20)
    export_onnx(model, tmp_path / "onnx")
    sentences = evaluation_sentences()
    assert assert_same_predictions(model, tmp_path / "onnx", sentences) > 0
    options = {"return_probabilities_for_all_classes": True}
    assert assert_same_predictions(model, tmp_path / "onnx", evaluation_sentences(), **options) > 0


def test_multitask_model_is_one_graph_with_one_output_per_head(tiny_encoder_dir, corpus, tmp_path) -> None:
    import onnx

    torch.manual_seed(0)
    shared = TransformerEmbeddings(str(tiny_encoder_dir), is_document_embedding=True, model_max_length=WINDOW)
    ner = SequenceTagger(shared, corpus.make_label_dictionary("ner"), "ner", hidden_size=16)
    pos = TokenClassifier(shared, corpus.make_label_dictionary("pos"), "pos")
    topic = TextClassifier(shared, corpus.make_label_dictionary("topic"), "topic")
    model = MultitaskModel([ner, pos, topic])
    train_steps(model, list(corpus.train), steps=40, lr=1e-2)
    export_onnx(model, tmp_path / "onnx")
    graph = onnx.load(str(tmp_path / "onnx" / "model.onnx")).graph
    assert [o.name for o in graph.output] == ["Task_0.emissions", "Task_1.probs", "Task_2.probs"]
    vocabulary = len(shared.tokenizer)
    word_tables = [i for i in graph.initializer if list(i.dims) == [vocabulary, 32]]
    assert len(word_tables) == 1  # the shared encoder is in the graph once
    sentences = evaluation_sentences()
    assert assert_same_predictions(model, tmp_path / "onnx", sentences) > 0
    # without label_name every head writes its own label type, as MultitaskModel.predict does
    fresh = evaluation_sentences()
    OnnxPredictor(tmp_path / "onnx").predict(fresh)
    assert all(s.get_labels("pos") and s.get_labels("topic") for s in fresh)


def test_predictor_needs_no_model_file_and_rejects_other_folders(tiny_encoder_dir, corpus, tmp_path) -> None:
    from polytag.errors import ModelFileError

    torch.manual_seed(0)
    model = TokenClassifier(
        TransformerWordEmbeddings(str(tiny_encoder_dir)), corpus.make_label_dictionary("pos"), "pos"
    )
    folder = export_onnx(model, tmp_path / "onnx")
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "polytag-onnx.json", "tokenizer"]
    predictor = OnnxPredictor(folder)
    assert predictor.label_types == ["pos"]
    sentence = Sentence("Paris is nice".split())
    predictor.predict(sentence)
    assert [t.get_label("pos").value in ("UP", "LOW") for t in sentence] == [True, True, True]
    with pytest.raises(ModelFileError, match="not an exported polytag ONNX folder"):
        OnnxPredictor(tmp_path)


def test_span_classifier_is_refused_with_a_clear_error(tiny_encoder_dir, tmp_path) -> None:
    dictionary = Dictionary(add_unk=False)
    for entity in ("George_Washington", "Paris"):
        dictionary.add_item(entity)
    model = SpanClassifier(TransformerWordEmbeddings(str(tiny_encoder_dir)), dictionary)
    with pytest.raises(ExportError, match="SpanClassifier cannot be exported"):
        export_onnx(model, tmp_path / "onnx")
    assert not (tmp_path / "onnx" / "model.onnx").exists()


def test_cli_export_end_to_end(tiny_encoder_dir, corpus, tmp_path, capsys) -> None:
    from polytag.cli.main import run

    torch.manual_seed(0)
    model = TokenClassifier(
        TransformerWordEmbeddings(str(tiny_encoder_dir), model_max_length=WINDOW),
        corpus.make_label_dictionary("ner"),
        "ner",
    )
    train_steps(model, list(corpus.train), steps=25, lr=1e-2)
    model.save(tmp_path / "model.pt")
    assert run(["export", str(tmp_path / "model.pt"), "--onnx", str(tmp_path / "out")]) == 0
    report = capsys.readouterr()
    assert "agreement" in report.err and "100.0 %" in report.err
    assert assert_same_predictions(model, tmp_path / "out", evaluation_sentences()) > 0
