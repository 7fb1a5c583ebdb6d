"""The public head protocol and the one prediction loop that single heads and MultitaskModel share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from polytag.data import Dictionary, Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.models import Classifier, MultitaskModel, SpanClassifier, TextClassifier, TokenClassifier
from polytag.models.head import Head
from polytag.models.prediction import predict_heads


def _dictionary(*items: str, unk: bool = False) -> Dictionary:
    dictionary = Dictionary(add_unk=unk)
    for item in items:
        dictionary.add_item(item)
    return dictionary


@pytest.fixture()
def encoder(tiny_encoder_dir: Path) -> TransformerEmbeddings:
    torch.manual_seed(0)
    return TransformerEmbeddings(str(tiny_encoder_dir), is_token_embedding=True, is_document_embedding=True)


def _sentences() -> list[Sentence]:
    texts = ["The man saw Smith .", "Maria visited Berlin", "Acme", "Jones likes Paris and Berlin ."]
    return [Sentence(t) for t in texts * 3]


def _labels(sentences: list[Sentence], name: str) -> list[list[tuple[str, str, float]]]:
    return [
        [(label.data_point.unlabeled_identifier, label.value, label.score) for label in s.get_labels(name)]
        for s in sentences
    ]


class PublicOnlyHead(Classifier):
    """A head written against the protocol alone; it counts the loop's calls."""

    evaluation_kind = "text"

    def __init__(
        self, embeddings: TransformerEmbeddings, label_dictionary: Dictionary, label_type: str
    ) -> None:
        super().__init__(embeddings, label_dictionary, label_type)
        self.decoder = torch.nn.Linear(embeddings.document_embedding_length, len(label_dictionary))
        self.calls: list[int] = []

    def compute_scores(self, sentences: list[Sentence], batch: EmbeddingBatch) -> torch.Tensor:
        self.calls.append(len(sentences))
        return self.decoder(batch.document_embeddings)

    def compute_loss(
        self, sentences: list[Sentence], scores: Any, batch: EmbeddingBatch
    ) -> tuple[torch.Tensor, int]:
        return scores.sum(), len(sentences)

    def write_predictions(
        self,
        sentences: list[Sentence],
        scores: Any,
        batch: EmbeddingBatch,
        label_name: str,
        return_probabilities_for_all_classes: bool,
    ) -> None:
        for sentence, row in zip(sentences, scores.argmax(dim=-1).tolist()):
            sentence.add_label(label_name, self.label_dictionary.idx2item[row], 1.0)

    def evaluation_items(self, sentences: list[Sentence], label_name: str, offset: int) -> list[tuple]:
        return [
            (i, label.value) for i, s in enumerate(sentences, offset) for label in s.get_labels(label_name)
        ]


def test_a_head_missing_a_hook_cannot_be_built(encoder: TransformerEmbeddings) -> None:
    class NoScores(Classifier):
        def compute_loss(self, *args: Any) -> Any: ...
        def write_predictions(self, *args: Any) -> None: ...
        def evaluation_items(self, *args: Any) -> list[tuple]:
            return []

    with pytest.raises(TypeError, match="compute_scores"):
        NoScores(encoder, _dictionary("a"), "x")  # type: ignore[abstract]
    abstract = {name for name in Head.__abstractmethods__}
    assert abstract == {
        "compute_scores",
        "compute_loss",
        "write_predictions",
        "evaluation_items",
        "get_config",
        "from_config",
    }
    assert all(getattr(Head, name).__doc__ for name in abstract)


def test_multitask_model_runs_a_head_through_its_public_hooks_only(encoder: TransformerEmbeddings) -> None:
    head = PublicOnlyHead(encoder, _dictionary("yes", "no"), "answer")
    tagger = TokenClassifier(encoder, _dictionary("A", "B"), "tag")
    model = MultitaskModel([head, tagger], ["answer", "tag"])
    sentences = _sentences()
    encoded: list[int] = []
    original = encoder.forward_batch

    def counting(batch_sentences: list[Sentence]) -> EmbeddingBatch:
        encoded.append(len(batch_sentences))
        return original(batch_sentences)

    encoder.forward_batch = counting  # type: ignore[method-assign]
    loss, count = model.predict(sentences, mini_batch_size=5, return_loss=True)
    assert encoded == [5, 5, 2]  # one encoder pass per batch for both heads
    assert head.calls == [5, 5, 2]
    assert all(len(s.get_labels("answer")) == 1 for s in sentences)
    assert all(len(s.get_labels("tag")) == len(s) for s in sentences)
    assert count == len(sentences)  # the token head has no gold tags to count
    result = model.evaluate(sentences, mini_batch_size=4)
    assert result.task_results["answer"][1].main_score == 1.0  # its own predictions as gold


@pytest.mark.parametrize("kind", ["token", "text", "span"])
def test_a_head_alone_and_inside_a_multitask_model_predict_the_same(
    encoder: TransformerEmbeddings, kind: str
) -> None:
    if kind == "token":
        head: Classifier = TokenClassifier(encoder, _dictionary("PER", "LOC"), "ner")
    elif kind == "text":
        head = TextClassifier(encoder, _dictionary("a", "b", "c"), "topic")
    else:
        head = SpanClassifier(encoder, _dictionary("Smith", "Berlin", unk=True), "nel")
    alone, inside = _sentences(), _sentences()
    for sentences in (alone, inside):
        for sentence in sentences[::2]:
            sentence[0:1].add_label("nel", "Smith")
    loss_alone = head.predict(
        alone, mini_batch_size=3, return_loss=True, return_probabilities_for_all_classes=True
    )
    multitask = MultitaskModel([head], ["only"])
    loss_inside = multitask.predict(
        inside, mini_batch_size=3, return_loss=True, return_probabilities_for_all_classes=True
    )
    name = head.label_type if kind != "span" else "nel"
    assert _labels(alone, name) == _labels(inside, name)
    assert _labels(alone, name) != [[]] * len(alone)
    assert float(loss_alone[0]) == pytest.approx(loss_inside[0], rel=1e-6)
    assert loss_alone[1] == loss_inside[1]


def test_the_loop_skips_sentences_a_head_does_not_need_and_clears_their_layer(
    encoder: TransformerEmbeddings,
) -> None:
    head = SpanClassifier(encoder, _dictionary("Smith", unk=True), "nel")
    sentences = _sentences()
    sentences[0][3:4].add_label("nel", "Smith")
    sentences[1].add_label("link", "stale")
    encoded: list[int] = []
    original = encoder.forward_batch
    encoder.forward_batch = lambda batch: encoded.append(len(batch)) or original(batch)  # type: ignore[method-assign]
    predict_heads(head, {"t": head}, sentences, {"t": [0, 1, 2]}, {"t": "link"}, mini_batch_size=8)
    assert encoded == [1]  # only the sentence with a span was encoded
    assert sentences[1].get_labels("link") == []
    assert [label.value for label in sentences[0].get_labels("link")] == ["Smith"]
    assert sentences[3].get_labels("link") == []  # not in the rows: untouched (and never labelled)


def test_multitask_model_refuses_no_heads_or_a_multitask_model_as_a_head(
    encoder: TransformerEmbeddings,
) -> None:
    with pytest.raises(ValueError, match="at least one head"):
        MultitaskModel([])
    inner = MultitaskModel([TextClassifier(encoder, _dictionary("a"), "topic")])
    with pytest.raises(ValueError, match="must be a head"):
        MultitaskModel([inner])  # type: ignore[list-item]
