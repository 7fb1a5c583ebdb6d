"""``polytag serve`` under hostile traffic: 64 concurrent clients mixing valid and malformed requests get only
200s and 4xx, memory stays flat, slow clients time out with 408, overload is a 429, and a request that makes
the model fail cannot fail the requests batched with it.

``HOSTILE_BODIES`` and ``send_mix`` are shared with ``bench/robustness.py``.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from polytag.cli.serve import Limits, MicroBatcher, RequestError, create_app, parse_request
from tests.test_cli_support import ServerThread, build_model, http, one_torch_thread

LIMITS = Limits(max_body_bytes=200_000, max_texts=8, max_tokens=400, read_timeout_s=1.0, queue_timeout_s=20.0)

VALID_BODIES: list[bytes] = [
    b'{"text": "Mr. Smith visited Paris. The team won!"}',
    b'{"texts": ["One short text.", "And another one here."], "render": true}',
    b'{"text": "no sentence splitting at all here", "split_sentences": false}',
    json.dumps({"text": "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \U0001f600 \u0000 tab\there"}).encode(),
    json.dumps({"text": "x" * 900}).encode(),  # one long token, under the 1,000 characters of a word
    b'{"text": "   "}',  # nothing to tag
]

# (body, the status it must get)
HOSTILE_BODIES: list[tuple[bytes, int]] = [
    (b"", 400),
    (b"{", 400),
    (b"\xff\xfe\x00garbage", 400),
    (b"[" * 50_000 + b"]" * 50_000, 400),  # deep nesting: json's recursion limit
    (b'{"text": ' + b"1" * 6000 + b"}", 400),  # an integer longer than Python converts
    (b'{"text": "\\ud800 lone surrogate"}', 422),
    (b"[1, 2, 3]", 422),
    (b'{"text": null}', 422),
    (b'{"texts": "not a list"}', 422),
    (b'{"texts": [["nested"]]}', 422),
    (b'{"text": "a", "extra": 1}', 422),
    (b'{"text": "a", "render": 1}', 422),
    (json.dumps({"texts": ["a"] * 9}).encode(), 413),
    (json.dumps({"text": "word " * 401}).encode(), 413),
    (b'{"text": "' + b"y" * 210_000 + b'"}', 413),
    (json.dumps({"text": "a " + "z" * 1001}).encode(), 413),  # a word over max_word_chars
]


def send_mix(port: int, clients: int, rounds: int, seed: int = 0) -> Counter:
    """``clients`` threads, each sending ``rounds`` requests drawn from the valid and hostile bodies;
    a Counter of status codes (0 for a request that got no HTTP answer at all)."""
    statuses: Counter = Counter()
    wrong: list[str] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        for _ in range(rounds):
            if rng.random() < 0.5:
                body, expected = rng.choice(VALID_BODIES), 200
            else:
                body, expected = rng.choice(HOSTILE_BODIES)
            try:
                status, data = http(port, "POST", "/predict", body, {"Content-Type": "application/json"})
            except OSError as error:  # noqa: PERF203 - a refused or reset connection is a result too
                status, data = 0, str(error)
            with lock:
                statuses[status] += 1
                if status != expected:
                    wrong.append(f"{body[:60]!r}: {status} {str(data)[:200]} (expected {expected})")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses["wrong"] = len(wrong)
    if wrong:
        statuses["examples"] = wrong[:5]  # type: ignore[assignment]
    return statuses


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def server(tiny_encoder_dir):
    with one_torch_thread():
        model = build_model(tiny_encoder_dir, tasks=("ner", "pos"))
        app = create_app(model, "tiny.pt", max_wait_ms=5, limits=LIMITS)
        with ServerThread(app) as running:
            yield running


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read memory use")
def test_64_concurrent_clients_with_hostile_bodies_get_only_200_and_4xx(server):
    warm_up = send_mix(server.port, clients=64, rounds=2, seed=1)
    assert warm_up["wrong"] == 0, warm_up
    before = rss_mb()
    statuses = send_mix(server.port, clients=64, rounds=3, seed=2)
    after = rss_mb()
    assert statuses["wrong"] == 0, statuses
    codes = {code for code in statuses if isinstance(code, int) and code}
    assert statuses[0] == 0 and all(code == 200 or 400 <= code < 500 for code in codes), statuses
    assert statuses[200] > 0 and sum(statuses[c] for c in codes if c != 200) > 0
    assert after - before < 50, f"memory grew from {before:.0f} MB to {after:.0f} MB"
    _, health = http(server.port, "GET", "/health")
    assert health["failed_requests"] == 0 and health["queued_sentences"] == 0


POST = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def _raw(port: int, data: bytes, pause_after: float = 0.0, more: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if pause_after:
            time.sleep(pause_after)
            try:
                sock.sendall(more)
            except OSError:
                pass
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_client_that_stalls_mid_body_gets_408(server):
    head = POST + b"Content-Length: 40\r\n\r\n"
    started = time.monotonic()
    answer = _raw(server.port, head + b'{"text": "sl', pause_after=LIMITS.read_timeout_s + 1.0, more=b"ow")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive within 1 seconds" in answer
    assert time.monotonic() - started < LIMITS.read_timeout_s + 5


def test_broken_http_and_dropped_connections_do_not_hurt_the_server(server):
    answer = _raw(server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:100]
    lying = POST + b"Content-Length: 99999999999\r\n\r\n{}"
    assert _raw(server.port, lying).startswith(b"HTTP/1.1 413")
    # a client that goes away in the middle of its body
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(POST + b'Content-Length: 100\r\n\r\n{"te')
    status, data = http(server.port, "POST", "/predict", {"text": "Still here."})
    assert status == 200 and data["results"][0]["sentences"][0]["text"] == "Still here."


def test_overload_is_a_429_with_retry_after(tiny_encoder_dir):
    gate = threading.Event()
    model = build_model(tiny_encoder_dir, tasks=("pos",))
    original = model.predict

    def blocked_predict(*args, **kwargs):
        gate.wait(10)
        return original(*args, **kwargs)

    model.predict = blocked_predict
    limits = Limits(max_queued_sentences=2, queue_timeout_s=0.5)
    with (
        one_torch_thread(),
        ServerThread(create_app(model, "tiny.pt", max_wait_ms=1, limits=limits)) as running,
    ):
        from http.client import HTTPConnection

        connection = HTTPConnection("127.0.0.1", running.port, timeout=10)
        connection.request(
            "POST", "/predict", json.dumps({"text": "First. Second."}), {"Content-Type": "application/json"}
        )
        status, data = http(running.port, "POST", "/predict", {"text": "Third one."})  # 2 queued already
        assert status == 429 and "busy" in data["detail"]
        first = connection.getresponse()
        assert first.status == 429 and first.getheader("Retry-After") == "5"  # waited 0.5 s in vain
        connection.close()
        gate.set()
        deadline = time.monotonic() + 10  # the abandoned request's chunk finishes, then the queue is empty
        while http(running.port, "GET", "/health")[1]["queued_sentences"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http(running.port, "POST", "/predict", {"text": "Fine now."})[0] == 200


def test_a_poisoned_request_does_not_fail_its_batch():
    predicted: list[str] = []

    def predict(sentences):
        if "poison" in sentences:
            raise ValueError("the model failed")
        predicted.extend(sentences)

    async def scenario() -> tuple[list, int]:
        batcher = MicroBatcher(predict, enabled=True, max_batch_sentences=100, max_wait_ms=20)
        await batcher.start()
        requests = [[f"a{i}", f"b{i}"] for i in range(6)] + [["poison"]]
        results = await asyncio.gather(*(batcher.submit(r) for r in requests), return_exceptions=True)
        await batcher.stop()
        return results, batcher.failed_requests

    results, failed = asyncio.run(scenario())
    assert [r is None for r in results] == [True] * 6 + [False]
    assert isinstance(results[-1], ValueError) and failed == 1
    assert sorted(predicted) == sorted(f"{x}{i}" for i in range(6) for x in "ab")


@pytest.mark.parametrize(("body", "status"), HOSTILE_BODIES[:12])
def test_parse_request_refuses_hostile_bodies(body: bytes, status: int):
    with pytest.raises(RequestError) as error:
        parse_request(body, LIMITS)
    assert error.value.status == status and error.value.message
