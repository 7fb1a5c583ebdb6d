"""MultitaskModel: one encoder pass for aligned sentences, sharing that survives load, routing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polytag.data import Sentence
from polytag.embeddings import TransformerEmbeddings, TransformerWordEmbeddings
from polytag.models import Model, MultitaskModel, TextClassifier, TokenClassifier
from polytag.nn.multitask import make_multitask_model_and_corpus

from .test_models import make_corpus, make_sentences, train_steps


def _two_token_heads(tiny_encoder_dir: Path):
    corpus = make_corpus()
    torch.manual_seed(0)
    shared = TransformerWordEmbeddings(str(tiny_encoder_dir))
    pos = TokenClassifier(shared, corpus.make_label_dictionary("pos"), "pos")
    ner = TokenClassifier(shared, corpus.make_label_dictionary("ner"), "ner")
    return corpus, shared, pos, ner


def _count_encoder_calls(embeddings: TransformerEmbeddings) -> list[int]:
    calls = [0]

    def hook(*_):
        calls[0] += 1

    embeddings.model.register_forward_hook(hook)
    return calls


def test_make_multitask_model_and_corpus_assigns_task_ids(tiny_encoder_dir) -> None:
    corpus, _, pos, ner = _two_token_heads(tiny_encoder_dir)
    other = make_corpus()
    model, multi = make_multitask_model_and_corpus([(pos, corpus), (ner, other)])
    assert list(model.tasks) == ["Task_0", "Task_1"]
    assert multi.train[0].get_label("multitask_id").value == "Task_0"
    assert multi.train[len(corpus.train)].get_label("multitask_id").value == "Task_1"
    model2, _ = make_multitask_model_and_corpus((pos, make_corpus()), (ner, make_corpus()))
    assert list(model2.tasks) == ["Task_0", "Task_1"]


def test_aligned_sentence_costs_one_encoder_pass(tiny_encoder_dir) -> None:
    _, shared, pos, ner = _two_token_heads(tiny_encoder_dir)
    model = MultitaskModel([pos, ner])
    sentences = make_sentences()
    for s in sentences:
        s.add_label("multitask_id", "Task_0")
        s.add_label("multitask_id", "Task_1")
    calls = _count_encoder_calls(shared)
    loss, count = model.forward_loss(sentences)
    assert calls[0] == 1 and count == len(sentences) and loss.requires_grad
    calls[0] = 0
    fresh = make_sentences()
    model.predict(fresh, mini_batch_size=100)
    assert calls[0] == 1
    assert all(s.get_labels("pos") for s in fresh)


def test_routing_by_task_id_and_use_all_tasks(tiny_encoder_dir) -> None:
    _, shared, pos, ner = _two_token_heads(tiny_encoder_dir)
    model = MultitaskModel([pos, ner])
    rows = model.task_rows([Sentence("a").add_label("multitask_id", "Task_1"), Sentence("b")])
    assert rows == {"Task_0": [1], "Task_1": [0, 1]}
    everything = MultitaskModel([pos, ner], use_all_tasks=True)
    unlabeled = make_sentences()  # no multitask_id labels at all: all heads train on all sentences
    losses = train_steps(everything, unlabeled, steps=15)
    assert losses[-1] < losses[0]


def test_shared_encoder_saved_once_and_still_shared_after_load(tiny_encoder_dir, tmp_path) -> None:
    corpus, shared, pos, ner = _two_token_heads(tiny_encoder_dir)
    model = MultitaskModel([pos, ner])
    train_steps(model, make_sentences(), steps=3)
    model.save(tmp_path / "multi.pt")
    pos.save(tmp_path / "pos.pt")
    ner.save(tmp_path / "ner.pt")
    # one encoder = its tensors plus its config (encoder settings and tokenizer files)
    encoder_bytes = sum(t.numel() * t.element_size() for t in shared.state_dict().values())
    encoder_bytes += len(json.dumps(shared.to_config()))
    multi_size = (tmp_path / "multi.pt").stat().st_size
    singles = (tmp_path / "pos.pt").stat().st_size + (tmp_path / "ner.pt").stat().st_size
    assert singles - multi_size == pytest.approx(encoder_bytes, rel=0.05)

    loaded = Model.load(tmp_path / "multi.pt")
    assert isinstance(loaded, MultitaskModel)
    heads = list(loaded.tasks.values())
    assert heads[0].embeddings is heads[1].embeddings
    n_params = sum(p.numel() for p in loaded.parameters())
    assert n_params == sum(p.numel() for p in model.parameters())
    a, b = make_sentences(), make_sentences()
    model.predict(a)
    loaded.predict(b)
    assert [str(s) for s in a] == [str(s) for s in b]
    # change the shared weights through the first head: the second head's output changes too
    probe = make_sentences()[:2]
    with torch.no_grad():
        before_change = heads[1].compute_scores(probe, heads[1].embed(probe)).clone()
    with torch.no_grad():
        heads[0].embeddings.model.embeddings.word_embeddings.weight.add_(1.0)
    assert heads[1].embeddings.model.embeddings.word_embeddings.weight.data_ptr() == (
        heads[0].embeddings.model.embeddings.word_embeddings.weight.data_ptr()
    )
    with torch.no_grad():
        after_change = heads[1].compute_scores(probe, heads[1].embed(probe))
    assert not torch.allclose(before_change, after_change)
    assert torch.equal(
        heads[0].embeddings.model.embeddings.word_embeddings.weight,
        heads[1].embeddings.model.embeddings.word_embeddings.weight,
    )


def test_evaluate_reports_each_task_and_their_mean(tiny_encoder_dir) -> None:
    corpus = make_corpus()
    torch.manual_seed(0)
    shared = TransformerEmbeddings(str(tiny_encoder_dir), is_document_embedding=True)
    topic = TextClassifier(shared, corpus.make_label_dictionary("topic"), "topic")
    ner = TokenClassifier(shared, corpus.make_label_dictionary("ner"), "ner")
    model, multi = make_multitask_model_and_corpus([(topic, make_corpus()), (ner, make_corpus())])
    train_steps(model, list(multi.train), steps=25)
    dev = list(multi.dev)
    before = [s.to_dict() for s in dev]
    result = model.evaluate(dev)
    assert [s.to_dict() for s in dev] == before
    assert set(result.task_results) == {"Task_0", "Task_1"}
    scores = [r.main_score for _, r in result.task_results.values()]
    assert result.main_score == pytest.approx(sum(scores) / 2)
    assert result.task_results["Task_0"][0] == "TextClassifier"
    sentence = Sentence("Anna visited Berlin and Rome yesterday".split())
    model.predict(sentence)
    assert sentence.get_labels("topic") and all(lab.value for lab in sentence.get_labels("ner"))


def test_task_sampling_weights(tiny_encoder_dir) -> None:
    _, _, pos, ner = _two_token_heads(tiny_encoder_dir)
    data = [Sentence("a").add_label("multitask_id", "Task_0") for _ in range(90)]
    data += [Sentence("b").add_label("multitask_id", "Task_1") for _ in range(10)]
    assert MultitaskModel([pos, ner]).sample_weights(data) is None
    uniform = MultitaskModel([pos, ner], task_sampling="uniform").sample_weights(data)
    assert sum(uniform[:90]) == pytest.approx(sum(uniform[90:]))
    temp = MultitaskModel([pos, ner], task_sampling="temperature", sampling_temperature=2.0).sample_weights(
        data
    )
    share = sum(temp[:90]) / sum(temp)
    assert 0.5 < share < 0.9
