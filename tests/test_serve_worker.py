"""``polytag serve``'s worker process: the same labels as ``predict`` in the server process, context
included, and a dead worker costs one chunk, not the server."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from polytag.cli.results import model_layers, sentence_result, uses_context
from polytag.cli.segment import make_sentences
from polytag.cli.serve import Limits, create_app
from polytag.cli.serve_worker import PredictProcess
from polytag.data import Dictionary
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models import Model, TokenClassifier
from tests.test_cli_support import ServerThread, build_model, http, one_torch_thread

TEXT = "Mr. Smith loves Paris. The man left! Anna met Bob in Rome."


def results(model, sentences) -> list[dict]:
    return [sentence_result(s, model_layers(model)) for s in sentences]


def close(a: list[dict], b: list[dict]) -> None:
    """Equal up to float noise in the scores (the worker's process may sum in another order)."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        xs, ys = str(x), str(y)
        if xs != ys:  # same structure and values, scores within 1e-5
            torch.testing.assert_close(_scores(x), _scores(y), atol=1e-5, rtol=0)
            assert _values(x) == _values(y)


def _scores(tree) -> torch.Tensor:
    found: list[float] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "score":
                    found.append(float(value))
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(tree)
    return torch.tensor(found)


def _values(tree) -> str:
    if isinstance(tree, dict):
        return "{" + ",".join(f"{k}:{_values(v)}" for k, v in sorted(tree.items()) if k != "score") + "}"
    if isinstance(tree, list):
        return "[" + ",".join(_values(v) for v in tree) + "]"
    return repr(tree)


@pytest.fixture(scope="module")
def saved(tiny_encoder_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("worker") / "multi.pt"
    build_model(tiny_encoder_dir, seed=3).save(path)
    return path


@pytest.fixture(scope="module")
def worker(saved):
    model = Model.load(saved)
    layers = [layer.label_type for layer in model_layers(model)]
    process = PredictProcess(str(saved), layers, uses_context(model), threads=1)
    yield model, process
    process.close()


def test_the_worker_writes_the_labels_predict_writes(worker) -> None:
    model, process = worker
    here, there = make_sentences(TEXT), make_sentences(TEXT)
    with one_torch_thread():
        model.predict(here, mini_batch_size=len(here))
    for sentence in there:  # a stale layer is replaced, not added to
        sentence.add_label("topic", "stale")
    process(there)
    assert all(s.get_labels("ner") or s.get_labels("pos") for s in there)
    close(results(model, there), results(model, here))


def test_a_served_request_through_the_worker_matches_the_thread(worker, saved) -> None:
    model, process = worker
    answers = []
    with one_torch_thread():
        for predictor in (None, process):
            app = create_app(model, saved, limits=Limits(max_tokens=200), predictor=predictor)
            with ServerThread(app) as running:
                status, data = http(running.port, "POST", "/predict", {"text": TEXT})
            assert status == 200
            answers.append(data["results"][0]["sentences"])
    close(answers[1], answers[0])


def test_a_dead_worker_fails_one_call_and_is_replaced(worker) -> None:
    model, process = worker
    conn, child = process._workers[0]
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    with pytest.raises(RuntimeError, match="prediction process stopped"):
        process(make_sentences("Anna met Bob."))
    again = make_sentences("Anna met Bob.")
    process(again)
    assert again[0].get_labels("pos")


def test_context_models_get_the_neighbouring_sentences(tiny_encoder_dir, tmp_path) -> None:
    torch.manual_seed(0)
    tags = Dictionary(add_unk=False)
    for value in ("A", "B", "C"):
        tags.add_item(value)
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), use_context=8)
    TokenClassifier(embeddings, tags, "tag").save(tmp_path / "context.pt")
    model = Model.load(tmp_path / "context.pt")
    assert uses_context(model)
    process = PredictProcess(str(tmp_path / "context.pt"), ["tag"], True, threads=1)
    try:
        middle = make_sentences(TEXT)[1]
        alone = make_sentences("The man left!")[0]
        worked = make_sentences(TEXT)[1]
        with one_torch_thread():
            model.predict([middle])
            model.predict([alone])
        process([worked])  # only the middle sentence is sent to be labelled; its document goes along
    finally:
        process.close()
    score = [t.get_label("tag").score for t in middle.tokens]
    assert score != [t.get_label("tag").score for t in alone.tokens]  # context changes the scores
    torch.testing.assert_close(
        torch.tensor([t.get_label("tag").score for t in worked.tokens]), torch.tensor(score)
    )


def test_two_calls_in_flight_and_a_request_finished_out_of_order() -> None:
    """With concurrency 2 a second call starts while the first runs; a request cut into two chunks is
    answered when both are done, whichever finishes first."""
    import asyncio
    import threading

    from polytag.cli.serve_batcher import MicroBatcher

    started: list[list[str]] = []
    gates = {"a0": threading.Event(), "b0": threading.Event()}
    both_running = threading.Barrier(2, timeout=10)

    def predict(sentences):
        started.append(list(sentences))
        both_running.wait()  # fails (BrokenBarrierError) unless two calls run at once
        if sentences[0] == "a0":
            gates["b0"].wait(10)  # the later chunk finishes first
        else:
            gates["b0"].set()

    async def scenario() -> None:
        batcher = MicroBatcher(predict, max_batch_sentences=2, concurrency=2)
        await batcher.start()
        await asyncio.wait_for(batcher.submit(["a0", "a1", "b0", "b1"]), 10)
        await batcher.stop()
        assert batcher.predict_calls == 2 and batcher.queued_sentences == 0

    asyncio.run(scenario())
    assert sorted(started) == [["a0", "a1"], ["b0", "b1"]]


def test_a_worker_that_cannot_load_the_model_says_why(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="could not start: .*not found"):
        PredictProcess(str(tmp_path / "missing.pt"), ["pos"], False, threads=1, workers=2)
