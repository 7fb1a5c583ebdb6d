"""``polytag serve``'s application over real HTTP on loopback: answers, 4xx for bad requests, batching."""

from __future__ import annotations

import asyncio
import threading

import pytest

from polytag.cli.serve import Limits, MicroBatcher, RequestError, create_app, parse_request
from tests.test_cli_support import ServerThread, build_model, http, one_torch_thread, rig_spans, rig_topic


@pytest.fixture(scope="module")
def model(tiny_encoder_dir):
    model = build_model(tiny_encoder_dir)
    rig_spans(model.tasks["ner"], "PER")
    rig_topic(model.tasks["topic"], "politics")
    return model


@pytest.fixture(scope="module")
def server(model):
    with one_torch_thread():
        app = create_app(
            model, "tiny.pt", max_wait_ms=20, limits=Limits(max_body_bytes=20_000, max_texts=4, max_tokens=50)
        )
        with ServerThread(app) as running:
            yield running


def test_predict_returns_every_layer_with_offsets(server):
    text = "Mr. Smith loves Paris. The man left!"
    status, data = http(server.port, "POST", "/predict", {"text": text})
    assert status == 200
    (result,) = data["results"]
    assert result["text"] == text and len(result["sentences"]) == 2
    second = result["sentences"][1]
    assert text[second["start"] : second["end"]] == "The man left!"
    for token in second["tokens"]:
        assert text[token["start"] : token["end"]] == token["text"]
        assert token["labels"]["pos"]["value"] in ("DT", "NN", "VBD", "NNP", "CC", ".")
        assert 0.0 <= token["labels"]["pos"]["score"] <= 1.0
    # the rigged NER head makes every token a PER span; offsets point into the request's text
    assert [(text[s["start"] : s["end"]], s["value"]) for s in second["spans"]] == [
        ("The", "PER"),
        ("man", "PER"),
        ("left", "PER"),
        ("!", "PER"),
    ]
    assert second["labels"]["topic"][0]["value"] == "politics"
    assert data["tokens"] == 9


def test_many_texts_render_and_no_split(server):
    status, data = http(
        server.port,
        "POST",
        "/predict",
        {"texts": ["One. Two.", "Three"], "split_sentences": False, "render": True},
    )
    assert status == 200
    assert [len(r["sentences"]) for r in data["results"]] == [1, 1]
    assert '<mark class="polytag-span" data-layer="ner" data-label="PER"' in data["results"][1]["html"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"", 400, "empty body"),
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe\xfa", 400, "not"),
        (b"[1, 2]", 422, "JSON object"),
        (b'{"txt": "a"}', 422, "unknown key"),
        (b'{"text": 5}', 422, "'text' must be a string"),
        (b'{"text": "a", "texts": ["b"]}', 422, "exactly one"),
        (b'{"texts": []}', 422, "empty"),
        (b'{"texts": ["a", 1]}', 422, "list of strings"),
        (b'{"text": "a", "render": "yes"}', 422, "true or false"),
        (b'{"texts": ["a", "b", "c", "d", "e"]}', 413, "limit is 4"),
        (b'{"text": "' + b"word " * 60 + b'"}', 413, "60 tokens; the limit is 50"),
        (b'{"text": "' + b"x" * 30_000 + b'"}', 413, "over the limit of 20000 bytes"),
    ],
)
def test_malformed_requests_get_4xx_with_a_message(server, body, status, fragment):
    code, data = http(server.port, "POST", "/predict", body, {"Content-Type": "application/json"})
    assert code == status
    assert fragment in data["detail"]


def test_other_paths_and_methods_are_4xx(server):
    assert http(server.port, "GET", "/nothing")[0] == 404
    assert http(server.port, "GET", "/predict")[0] == 405
    assert http(server.port, "DELETE", "/health")[0] == 405


def test_health_info_and_page(server):
    status, health = http(server.port, "GET", "/health")
    assert status == 200 and health["status"] == "ok"
    status, info = http(server.port, "GET", "/info")
    assert status == 200
    assert [(t["task"], t["kind"]) for t in info["tasks"]] == [
        ("ner", "span"),
        ("pos", "token"),
        ("topic", "sentence"),
    ]
    assert info["tasks"][0]["labels"] == ["PER", "LOC", "ORG"]
    assert info["encoders"][0]["hidden_size"] == 32 and info["limits"]["max_tokens"] == 50
    status, page = http(server.port, "GET", "/")
    assert status == 200 and '<textarea id="text"' in page and '<button id="submit"' in page


def test_concurrent_requests_are_batched(server):
    _, before = http(server.port, "GET", "/health")
    results: list[int] = []

    def client(i: int) -> None:
        status, data = http(server.port, "POST", "/predict", {"text": f"Sentence number {i} is here."})
        results.append(status if data["results"][0]["sentences"][0]["text"].endswith("here.") else -1)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _, after = http(server.port, "GET", "/health")
    assert results == [200] * 16
    calls = after["predict_calls"] - before["predict_calls"]
    assert after["requests"] - before["requests"] == 16
    assert calls < 16  # requests that arrived together shared predict calls
    assert after["largest_batch"] >= 2
    # what the load bench compares offline predict with: sentences per call, time inside predict
    assert after["predicted_sentences"] - before["predicted_sentences"] == 16
    assert after["predict_seconds"] > before["predict_seconds"]


def test_each_predict_call_is_one_encoder_pass(server, model, monkeypatch):
    seen: list[tuple[int, int]] = []
    original = model.predict

    def spy(sentences, mini_batch_size=32, **options):
        seen.append((len(sentences), mini_batch_size))
        return original(sentences, mini_batch_size=mini_batch_size, **options)

    monkeypatch.setattr(model, "predict", spy)
    status, data = http(server.port, "POST", "/predict", {"texts": ["One two. Three four.", "Five six."]})
    assert status == 200 and len(data["results"][0]["sentences"]) == 2
    assert seen == [(3, 3)]  # the call's sentences in one pass, not cut at a fixed mini-batch size


def test_parse_request_unit():
    assert parse_request(b'{"text": "a b"}', Limits()) == (["a b"], True, False)
    with pytest.raises(RequestError) as info:
        parse_request(b'{"texts": ["a", "b"]}', Limits(max_texts=1))
    assert info.value.status == 413


def test_micro_batcher_groups_and_passes_errors_on():
    calls: list[int] = []

    def predict(sentences):
        calls.append(len(sentences))
        if "boom" in sentences:
            raise ValueError("boom")

    async def scenario(enabled: bool) -> list[int]:
        calls.clear()
        batcher = MicroBatcher(predict, enabled=enabled, max_batch_sentences=10, max_wait_ms=30)
        await batcher.start()
        await asyncio.gather(*(batcher.submit([f"s{i}", f"t{i}"]) for i in range(8)))
        with pytest.raises(ValueError, match="boom"):
            await batcher.submit(["boom"])
        await batcher.stop()
        return list(calls)

    batched = asyncio.run(scenario(True))
    assert batched[:-1] and max(batched[:-1]) <= 10 and sum(batched[:-1]) == 16 and len(batched) < 9
    assert asyncio.run(scenario(False)) == [2] * 8 + [1]


def test_micro_batcher_calls_at_once_and_takes_what_queued_meanwhile():
    """Continuous batching: no wait before a call; the next call takes the requests that queued while
    the model was busy, shortest first, up to the cap."""
    calls: list[list[str]] = []
    busy, release = threading.Event(), threading.Event()

    def predict(sentences):
        calls.append(list(sentences))
        busy.set()
        release.wait(timeout=30)

    async def scenario() -> None:
        batcher = MicroBatcher(predict, max_batch_sentences=3, max_wait_ms=0)
        await batcher.start()
        first = asyncio.ensure_future(batcher.submit(["alone"]))
        while not busy.is_set():  # the first call started with the one request there was
            await asyncio.sleep(0.001)
        queued = (("long", 9), ("short", 1), ("mid", 5), ("last", 20))
        rest = [batcher.submit([name], costs=[cost]) for name, cost in queued]
        waiting = asyncio.gather(*rest)
        await asyncio.sleep(0)  # the four are queued while the model is busy
        release.set()
        await asyncio.gather(first, waiting)
        await batcher.stop()

    asyncio.run(scenario())
    assert calls == [["alone"], ["short", "mid", "long"], ["last"]]
