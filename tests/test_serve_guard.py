"""``polytag serve`` against issue 14's attacks: subtoken and byte limits, abandoned work, stalled headers,
connection floods, cross-site requests, repeated log lines, and a working ``/openapi.json``."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from polytag.cli.serve import ByteBudget, Limits, RequestError, create_app, prepare, uvicorn_config
from polytag.cli.serve_batcher import MicroBatcher
from polytag.cli.serve_guard import RepeatFilter, host_name
from polytag.cli.serve_limits import SubtokenCounter
from tests.test_cli_support import build_model, free_port, http, one_torch_thread

JSON = {"Content-Type": "application/json"}


@contextmanager
def serving(app: Any, limits: Limits) -> Iterator[int]:
    """The app on uvicorn with polytag serve's own settings (connection guard included); yields the port."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, limits))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline and thread.is_alive(), "the test server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def model(tiny_encoder_dir):
    return build_model(tiny_encoder_dir, tasks=("pos",))


LIMITS = Limits(max_tokens=50, header_timeout_s=1.0, max_connections=8, max_pending_bytes=400_000)


@pytest.fixture(scope="module")
def port(model):
    with one_torch_thread(), serving(create_app(model, "tiny.pt", limits=LIMITS), LIMITS) as running:
        yield running


def test_one_long_word_counts_its_subtokens_and_is_refused_before_prediction(port):
    _, before = http(port, "GET", "/health")
    body = json.dumps({"text": "\u65e5" * 100_000}, ensure_ascii=False).encode()  # one word, 300 kB
    status, data = http(port, "POST", "/predict", body)
    assert status == 413 and "text 0 has a word of 100000 characters at character 0" in data["detail"]
    status, data = http(port, "POST", "/predict", {"text": "\u65e5\u672c" * 30})  # 60 subtokens, one token
    assert status == 413 and "60 encoder subtokens" in data["detail"]
    _, after = http(port, "GET", "/health")
    assert after["predict_calls"] == before["predict_calls"]
    status, data = http(port, "POST", "/predict", {"text": "\u65e5\u672c" * 20})  # 40 subtokens: fine
    assert status == 200 and data["tokens"] == 1


def test_subtokens_are_counted_with_the_encoders_tokenizer(model):
    counter = SubtokenCounter(model)
    limits = Limits(max_tokens=50, max_word_chars=200_000)
    with pytest.raises(RequestError) as error:
        prepare(json.dumps({"text": "\u65e5" * 100_000}).encode(), limits, counter)
    assert error.value.status == 413 and "100000 encoder subtokens; the limit is 50" in error.value.message
    texts, split, render, per_text, costs = prepare(
        b'{"texts": ["Mr Smith left. Bye.", "ab"]}', limits, counter
    )
    assert [len(s) for s in per_text] == [2, 1] and costs == [4, 2, 1]
    long = json.dumps({"text": "tokenization " * 4}).encode()  # over the cheap bound: counted exactly
    assert prepare(long, Limits(max_tokens=10), counter)[4] == [8]  # token ##ization, four times


def test_held_bytes_are_bounded(port):
    body = json.dumps({"text": "a " * 100_000}).encode()  # under the body limit, over the 400 kB held
    status, data = http(port, "POST", "/predict", body + b" " * 250_000)
    assert status == 429 and "request bytes held" in data["detail"]
    _, health = http(port, "GET", "/health")
    assert health["pending_bytes"] == 0


@pytest.mark.parametrize(
    ("headers", "status", "fragment"),
    [
        ({"Host": "evil.example"}, 400, "Host 'evil.example' is not served here"),
        ({"Origin": "http://evil.example"}, 403, "web page at 'http://evil.example'"),
        ({"Content-Type": "text/plain"}, 415, "application/json, got 'text/plain'"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415, "must be application/json"),
        ({"Host": "localhost:8000", "Origin": "http://127.0.0.1:8000"}, 200, None),
        ({"Host": "[::1]:8000", "Content-Type": "application/json; charset=utf-8"}, 200, None),
    ],
)
def test_only_allowed_hosts_and_json_bodies_are_answered(port, headers, status, fragment):
    code, data = http(port, "POST", "/predict", {"text": "Hello there."}, headers)
    assert code == status, data
    if fragment:
        assert fragment in data["detail"]


def test_a_post_without_content_type_is_415(port):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("POST", "/predict", body=b'{"text": "a"}')  # http.client adds no Content-Type
    response = connection.getresponse()
    assert response.status == 415 and b"got 'none'" in response.read()
    connection.close()


def test_openapi_and_docs_are_served(port):
    status, schema = http(port, "GET", "/openapi.json")
    assert status == 200 and schema["info"]["title"] == "polytag" and "/predict" in schema["paths"]
    status, page = http(port, "GET", "/docs")
    assert status == 200 and "openapi.json" in page


def _is_closed(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_stalled_and_trickled_headers_are_closed(port):
    idle = socket.create_connection(("127.0.0.1", port))
    stalled = socket.create_connection(("127.0.0.1", port))
    stalled.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    trickled = socket.create_connection(("127.0.0.1", port))
    for _ in range(6):  # one header byte every 0.3 s: never finishes within the 1 s header timeout
        try:
            trickled.sendall(b"X")
        except OSError:  # already closed by the server
            break
        time.sleep(0.3)
    assert _is_closed(idle, 3) and _is_closed(stalled, 3) and _is_closed(trickled, 3)
    for sock in (idle, stalled, trickled):
        sock.close()
    _, health = http(port, "GET", "/health")
    assert health["closed_slow_connections"] >= 3


def test_a_connection_flood_leaves_health_reachable(port):
    flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(3 * LIMITS.max_connections)]
    try:
        for _ in range(3):  # each new connection closes the longest idle one
            status, health = http(port, "GET", "/health")
            assert status == 200
        assert health["open_connections"] <= health["max_connections"] == LIMITS.max_connections
        assert health["closed_idle_for_room"] >= LIMITS.max_connections
    finally:
        for sock in flood:
            sock.close()


def test_work_of_a_client_that_went_away_is_dropped(tiny_encoder_dir):
    model = build_model(tiny_encoder_dir, tasks=("pos",))
    gate = threading.Event()
    seen: list[str] = []
    original = model.predict

    def gated_predict(sentences, **kwargs):
        seen.extend(s.to_original_text() for s in sentences)
        gate.wait(10)
        return original(sentences, **kwargs)

    model.predict = gated_predict
    limits = Limits()
    with (
        one_torch_thread(),
        serving(create_app(model, "tiny.pt", max_wait_ms=1, limits=limits), limits) as port,
    ):
        first = threading.Thread(
            target=http, args=(port, "POST", "/predict", {"text": "Holding the encoder."})
        )
        first.start()
        while not seen:
            time.sleep(0.02)
        body = b'{"text": "Nobody waits for this."}'
        with socket.create_connection(("127.0.0.1", port)) as sock:  # sends, then hangs up
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            time.sleep(0.5)
        time.sleep(0.3)
        gate.set()
        first.join(10)
        deadline = time.monotonic() + 10  # the worker drops it when it next looks at the queue
        while http(port, "GET", "/health")[1]["abandoned_requests"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        status, health = http(port, "GET", "/health")
        assert health["abandoned_requests"] == 1 and health["queued_sentences"] == 0
        assert seen == ["Holding the encoder."]  # the abandoned request never reached predict


def test_batcher_gives_a_small_request_the_next_chunk_and_drops_abandoned_work():
    calls: list[list[str]] = []
    started = threading.Event()

    def predict(sentences):
        calls.append(list(sentences))
        started.set()
        time.sleep(0.02)

    async def scenario() -> list[str]:
        batcher = MicroBatcher(predict, max_batch_sentences=8, max_wait_ms=0, max_chunk_subtokens=10)
        await batcher.start()
        finished: list[str] = []

        async def request(name: str, sentences: list[str], costs: list[int]) -> None:
            await batcher.submit(sentences, costs)
            finished.append(name)

        big = asyncio.create_task(request("big", [f"b{i}" for i in range(10)], [10] * 10))
        await asyncio.sleep(0.005)
        small = asyncio.create_task(request("small", ["s"], [3]))
        doomed = asyncio.create_task(request("doomed", [f"d{i}" for i in range(5)], [10] * 5))
        await asyncio.sleep(0.05)
        doomed.cancel()
        await asyncio.gather(big, small, return_exceptions=True)
        await batcher.stop()
        assert batcher.queued_sentences == 0 and batcher.queued_subtokens == 0
        assert batcher.abandoned_requests == 1
        return finished

    finished = asyncio.run(scenario())
    assert finished == ["small", "big"]
    assert ["s"] in calls[:3]  # a chunk or two after it came, not after the big request's ten
    assert all(len(call) == 1 for call in calls)  # every chunk within 10 subtokens: one sentence
    predicted = [s for call in calls for s in call]
    assert sorted(s for s in predicted if s[0] == "b") == sorted(f"b{i}" for i in range(10))
    assert len([s for s in predicted if s[0] == "d"]) < 5  # dropped once its client gave up


def test_byte_budget_refuses_over_the_limit_and_gives_back():
    budget = ByteBudget(100)
    with budget.hold() as share:
        budget.take(share, 60)
        with pytest.raises(RequestError) as error, budget.hold() as other:
            budget.take(other, 50)
        assert error.value.status == 429 and budget.held == 60
    assert budget.held == 0


def test_repeat_filter_holds_back_floods_and_says_how_many():
    log_filter = RepeatFilter(burst=5, interval_s=0.2)

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, None)

    passed = [log_filter.filter(record("Too many open files")) for _ in range(100)]
    assert sum(passed) == 5 and log_filter.filter(record("another line"))
    time.sleep(0.25)
    later = record("Too many open files")
    assert log_filter.filter(later) and "95 more like this held back" in later.msg


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost:8000", "localhost"),
        ("[::1]:8000", "[::1]"),
        ("EVIL.example", "evil.example"),
        ("::1", "::1"),
    ],
)
def test_host_name(header, host):
    assert host_name(header) == host


def test_sentence_splitting_of_a_megabyte_stays_linear():
    from polytag.cli.segment import split_sentences

    text = " ".join(f"S{i:04d}" + "x" * 984 + "." for i in range(1000))  # took minutes: a rescan per period
    spans = split_sentences(text)
    assert len(spans) == 1000 and text[spans[-1][0] : spans[-1][1]].startswith("S0999")
    assert split_sentences("He met Mr. Smith. Then J. Doe left.") == [(0, 17), (18, 35)]


def test_serve_options_reach_the_limits(monkeypatch):
    import polytag.cli.serve as serve
    from polytag.cli.main import run

    seen: dict[str, Any] = {}
    monkeypatch.setattr(serve, "run_serve", lambda *args, **kwargs: seen.update(limits=args[7]))
    argv = [
        "serve",
        "m.pt",
        "--max-word-chars",
        "77",
        "--max-pending-bytes",
        "5000",
        "--header-timeout",
        "2.5",
    ]
    assert run([*argv, "--allowed-host", "tagger.example", "--allowed-host", "localhost"]) == 0
    limits = seen["limits"]
    assert (limits.max_word_chars, limits.max_pending_bytes, limits.header_timeout_s) == (77, 5000, 2.5)
    assert limits.allowed_hosts == ("tagger.example", "localhost") and limits.max_tokens == 8192
