"""Heads on the tiny encoder: learning, prediction, evaluation, save/load and batch independence."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Sentence
from polytag.embeddings import TransformerDocumentEmbeddings, TransformerEmbeddings, TransformerWordEmbeddings
from polytag.errors import ModelFileError
from polytag.models import Model, SequenceTagger, TextClassifier, TokenClassifier

TEXTS = [
    ("George Washington went to Washington", [(0, 2, "PER"), (4, 5, "LOC")], "politics"),
    ("Sam Houston stayed home", [(0, 2, "PER")], "people"),
    ("Paris is in France", [(0, 1, "LOC"), (3, 4, "LOC")], "travel"),
    ("Anna visited Berlin and Rome yesterday", [(0, 1, "PER"), (2, 3, "LOC"), (4, 5, "LOC")], "travel"),
    ("the weather was nice", [], "people"),
]


def make_sentences(repeat: int = 1) -> list[Sentence]:
    out = []
    for _ in range(repeat):
        for text, spans, topic in TEXTS:
            sentence = Sentence(text.split())
            for start, end, kind in spans:
                sentence[start:end].add_label("ner", kind)
            for token in sentence:
                token.add_label("pos", "UP" if token.text[0].isupper() else "LOW")
            sentence.add_label("topic", topic)
            out.append(sentence)
    return out


def make_corpus() -> Corpus:
    return Corpus(make_sentences(4), make_sentences(1), make_sentences(1))


def train_steps(model: Model, sentences: list[Sentence], steps: int = 40, lr: float = 3e-3) -> list[float]:
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss, count = model.forward_loss(sentences)
        optimizer.zero_grad()
        (loss / count).backward()
        optimizer.step()
        losses.append(float(loss.detach()) / count)
    return losses


def train_shuffled(model: Model, sentences: list[Sentence], epochs: int, batch: int, lr: float, rng) -> None:
    """Adam on mini-batches of ``sentences``, reshuffled in place by ``rng`` every epoch (mean loss)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        rng.shuffle(sentences)
        for k in range(0, len(sentences), batch):
            loss, count = model.forward_loss(sentences[k : k + batch])
            optimizer.zero_grad()
            (loss / count).backward()
            optimizer.step()


@pytest.fixture()
def word_embeddings(tiny_encoder_dir: Path) -> TransformerWordEmbeddings:
    torch.manual_seed(0)
    return TransformerWordEmbeddings(str(tiny_encoder_dir))


def test_token_classifier_learns_spans_and_decodes_them(word_embeddings) -> None:
    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("ner"), "ner")
    assert model.predict_spans and "S-PER" in model.tag_dictionary.get_items()
    losses = train_steps(model, list(corpus.train), steps=60)
    assert losses[-1] < losses[0] * 0.3
    result = model.evaluate(list(corpus.test), gold_label_type="ner")
    assert result.main_score > 0.8
    sentence = Sentence("George Washington went to Washington".split())
    model.predict(sentence)
    assert [(lab.data_point.text, lab.value) for lab in sentence.get_labels("ner")][:1] == [
        ("George Washington", "PER")
    ]


def test_pos_token_labels_and_gold_untouched_by_evaluate(word_embeddings) -> None:
    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("pos"), "pos")
    assert not model.predict_spans
    train_steps(model, list(corpus.train), steps=30)
    test = list(corpus.test)
    before = [s.to_dict() for s in test]
    result = model.evaluate(test, gold_label_type="pos")
    assert [s.to_dict() for s in test] == before
    assert result.main_score == pytest.approx(1.0)
    assert result.loss is not None and result.loss >= 0


def test_sequence_tagger_without_options_equals_token_classifier(word_embeddings) -> None:
    corpus = make_corpus()
    labels = corpus.make_label_dictionary("ner")
    plain = TokenClassifier(word_embeddings, labels, "ner")
    tagger = SequenceTagger(
        word_embeddings, labels, "ner", use_crf=False, use_rnn=False, reproject_embeddings=False
    )
    tagger.decoder.load_state_dict(plain.decoder.state_dict())
    sentences = make_sentences()
    plain.eval()
    tagger.eval()
    with torch.no_grad():
        assert torch.allclose(plain.forward_loss(sentences)[0], tagger.forward_loss(sentences)[0])


def test_sequence_tagger_with_crf_and_rnn_learns(word_embeddings) -> None:
    corpus = make_corpus()
    tagger = SequenceTagger(word_embeddings, corpus.make_label_dictionary("ner"), "ner", hidden_size=16)
    losses = train_steps(tagger, list(corpus.train), steps=60, lr=1e-2)
    assert losses[-1] < losses[0] * 0.5
    result = tagger.evaluate(list(corpus.test), gold_label_type="ner")
    assert result.main_score > 0.6


def test_text_classifier_learns(tiny_encoder_dir) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    embeddings = TransformerDocumentEmbeddings(str(tiny_encoder_dir))
    model = TextClassifier(embeddings, corpus.make_label_dictionary("topic"), "topic")
    train_steps(model, list(corpus.train), steps=40)
    result = model.evaluate(list(corpus.test), gold_label_type="topic")
    assert result.main_score == pytest.approx(1.0)
    sentence = Sentence("Paris is in France".split())
    model.predict(sentence, return_probabilities_for_all_classes=True)
    labels = sentence.get_labels("topic")
    assert len(labels) == 3 and labels[0].value == "travel"
    assert sum(lab.score for lab in labels) == pytest.approx(1.0, abs=1e-5)


def test_predictions_do_not_depend_on_the_batch(word_embeddings) -> None:
    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("ner"), "ner")
    train_steps(model, list(corpus.train), steps=20)
    alone = Sentence("Anna visited Berlin and Rome yesterday".split())
    model.predict(alone)
    crowd = make_sentences(3) + [Sentence("Anna visited Berlin and Rome yesterday".split())]
    model.predict(crowd, mini_batch_size=7)
    got = [
        (lab.data_point.unlabeled_identifier, lab.value, round(lab.score, 4))
        for lab in crowd[-1].get_labels("ner")
    ]
    want = [
        (lab.data_point.unlabeled_identifier, lab.value, round(lab.score, 4))
        for lab in alone.get_labels("ner")
    ]
    assert got == want


@pytest.mark.parametrize("head", ["token", "tagger", "text"])
def test_save_load_round_trip_gives_identical_predictions(tiny_encoder_dir, tmp_path, head) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    embeddings = TransformerEmbeddings(str(tiny_encoder_dir), is_document_embedding=True)
    if head == "token":
        model = TokenClassifier(embeddings, corpus.make_label_dictionary("ner"), "ner")
    elif head == "tagger":
        model = SequenceTagger(embeddings, corpus.make_label_dictionary("ner"), "ner", hidden_size=8)
    else:
        model = TextClassifier(embeddings, corpus.make_label_dictionary("topic"), "topic")
    train_steps(model, list(corpus.train), steps=5)
    path = tmp_path / "final-model.pt"
    model.save(path)
    loaded = Model.load(path)
    assert type(loaded) is type(model)
    a, b = make_sentences(), make_sentences()
    model.predict(a)
    loaded.predict(b)
    assert [str(s) for s in a] == [str(s) for s in b]
    with open(path, "rb") as fh:
        assert fh.read(9)[8:9] == b"{"  # a safetensors header, not a zip or pickle


def test_pickle_model_file_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "final-model.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError):
        TokenClassifier.load(path)
    assert not marker.exists()


def test_load_in_bfloat16(word_embeddings, tmp_path) -> None:
    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("pos"), "pos")
    model.save(tmp_path / "m.pt")
    loaded = TokenClassifier.load(tmp_path / "m.pt", dtype=torch.bfloat16)
    assert loaded.decoder.weight.dtype == torch.bfloat16
    sentence = Sentence("Paris is nice".split())
    loaded.predict(sentence)
    assert len(sentence.get_labels("pos")) == 3


def test_int8_quantized_load_predicts_like_fp32(word_embeddings, tmp_path) -> None:
    from polytag.nn.int8 import Int8Linear

    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("ner"), "ner")
    train_steps(model, list(corpus.train), steps=25)
    model.save(tmp_path / "m.pt")
    quantized = TokenClassifier.load(tmp_path / "m.pt", quantize="int8")
    encoder_linears = [
        m for m in quantized.embeddings.modules() if isinstance(m, (Int8Linear, torch.nn.Linear))
    ]
    assert encoder_linears and all(isinstance(m, Int8Linear) for m in encoder_linears)
    assert not any(isinstance(m, Int8Linear) for m in quantized.decoder.modules())  # the head stays float
    a, b = make_sentences(), make_sentences()
    model.predict(a)
    quantized.predict(b)
    same = sum(str(x) == str(y) for x, y in zip(a, b))
    assert same >= len(a) - 1
    with pytest.raises(ValueError, match="int8 model is for inference"):
        quantized.save(tmp_path / "again.pt")


def test_int8_predictions_do_not_depend_on_the_batch(word_embeddings, tmp_path) -> None:
    """Per-token activation scales: a sentence's int8 result is the same alone and in any batch
    (PyTorch's quantize_dynamic shares one scale across the batch and fails this)."""
    corpus = make_corpus()
    model = TokenClassifier(word_embeddings, corpus.make_label_dictionary("ner"), "ner")
    train_steps(model, list(corpus.train), steps=20)
    model.save(tmp_path / "m.pt")
    quantized = TokenClassifier.load(tmp_path / "m.pt", quantize="int8")
    text = "Anna visited Berlin and Rome yesterday".split()
    loud = Sentence(["BERLIN!!!"] * 3 + ["ZZZZQQQQ"] * 40)  # long and unusual: large activations
    alone, crowd = Sentence(text), [loud, *make_sentences(2), Sentence(text)]
    quantized.predict(alone, return_probabilities_for_all_classes=True)
    quantized.predict(crowd, mini_batch_size=16, return_probabilities_for_all_classes=True)

    def labels(sentence: Sentence) -> list[tuple[str, str, float]]:
        return [
            (lab.data_point.unlabeled_identifier, lab.value, lab.score) for lab in sentence.get_labels("ner")
        ]

    got, want = labels(crowd[-1]), labels(alone)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert [g[2] for g in got] == pytest.approx([w[2] for w in want], abs=1e-5)


def test_int8_linear_rows_are_independent_and_close_to_float() -> None:
    from polytag.nn.int8 import Int8Linear

    torch.manual_seed(0)
    linear = torch.nn.Linear(48, 20)
    layer = Int8Linear(linear)
    x = torch.randn(3, 7, 48)
    x[1, 2] *= 50  # an outlier token
    out = layer(x)
    assert out.shape == (3, 7, 20)
    for i in range(3):  # each row alone gives bit-identical results (int32 sums are exact)
        assert torch.equal(layer(x[i : i + 1, 3:5]), out[i : i + 1, 3:5])
    reference = linear(x).detach()
    error = (out - reference).abs().amax(-1) / reference.abs().amax(-1)
    assert float(error.max()) < 0.05  # the outlier token does not spoil its neighbours' scale
    assert torch.allclose(layer.weight, linear.weight, atol=float(linear.weight.detach().abs().max()) / 127)
    assert layer(torch.zeros(0, 48)).shape == (0, 20)


def test_custom_prototypical_decoder_survives_save_and_load(word_embeddings, tmp_path) -> None:
    from polytag.nn import PrototypicalDecoder

    corpus = make_corpus()
    labels = corpus.make_label_dictionary("pos")
    decoder = PrototypicalDecoder(len(labels), word_embeddings.embedding_length, distance_function="cosine")
    model = TokenClassifier(word_embeddings, labels, "pos", decoder=decoder)
    train_steps(model, list(corpus.train), steps=5)
    model.save(tmp_path / "proto.pt")
    loaded = TokenClassifier.load(tmp_path / "proto.pt")
    assert type(loaded.decoder).__name__ == "PrototypicalDecoder"
    a, b = make_sentences(), make_sentences()
    model.predict(a)
    loaded.predict(b)
    assert [str(s) for s in a] == [str(s) for s in b]
