"""Load test of ``polytag serve``: N requests from C concurrent clients on loopback, batched vs one-at-a-time.

    python bench/serve_load.py [--model MODEL.pt] [--requests 2000] [--clients 16] [--json OUT]

Without ``--model`` it builds an untrained two-task model (POS-like token head + a text classifier) on
the shipped all-MiniLM-L6-v2 encoder: weights do not change the cost of a request, so the figures are
those of a real model of that size. The server is started twice as a subprocess on a free loopback
port, once with micro-batching and once with ``--no-batching``; each time the clients (threads with
keep-alive connections) send the same requests, one sentence each. It prints requests per second,
latency percentiles and the server's mean batch size for both, and exits with 1 if any request failed
or batching was not faster.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SENTENCES = [
    "Mr Smith loves New York.",
    "The European Commission said on Thursday it disagreed with German advice to consumers.",
    "Peter Blackburn reported from Brussels.",
    "Germany's representative to the European Union's veterinary committee spoke at length.",
    "Rare Hendrix song draft sells for almost $17,000.",
    "The cat sat on the mat.",
    "Shares of the company rose 3 percent after the announcement.",
    "She flew from Paris to Tokyo last week to meet the new partners.",
    "Barack Obama was born in Hawaii.",
    "The match ended in a draw after ninety minutes of football.",
    "Apple unveiled a new phone at its annual event in California.",
    "Heavy rain caused flooding in several towns along the river.",
    "The committee will meet again next month to discuss the budget.",
    "Scientists discovered a new species of frog in the rainforest.",
    "He said the talks had been constructive but no agreement was reached.",
    "The orchestra performed Beethoven's ninth symphony to a full house.",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_default_model(folder: Path) -> Path:
    """An untrained POS + topic model on the shipped MiniLM (training does not change a request's cost)."""
    import torch

    from polytag.data import Dictionary
    from polytag.embeddings import TransformerEmbeddings
    from polytag.models import MultitaskModel, TextClassifier, TokenClassifier

    torch.manual_seed(0)
    encoder = TransformerEmbeddings(is_token_embedding=True, is_document_embedding=True)
    tags = Dictionary(add_unk=False)
    for tag in "NN NNS NNP VB VBD VBZ JJ RB IN DT PRP CC CD . ,".split():
        tags.add_item(tag)
    topics = Dictionary(add_unk=False)
    for topic in ("World", "Sports", "Business", "Sci/Tech"):
        topics.add_item(topic)
    model = MultitaskModel(
        [TokenClassifier(encoder, tags, "pos"), TextClassifier(encoder, topics, "topic")], ["pos", "topic"]
    )
    path = folder / "bench-model.pt"
    model.save(path)
    return path


def start_server(model: Path, port: int, batching: bool, threads: int | None) -> subprocess.Popen:
    command = [sys.executable, "-m", "polytag", "serve", str(model), "--port", str(port), "-q"]
    if not batching:
        command.append("--no-batching")
    if threads:
        command += ["--threads", str(threads)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stdout.read()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                connection.close()
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not answer /health within 180 s")


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def get_json(port: int, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    data = json.loads(connection.getresponse().read())
    connection.close()
    return data


def run_load(port: int, requests: int, clients: int) -> dict:
    """Send ``requests`` POST /predict from ``clients`` threads; returns throughput, latencies, errors."""
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    errors: list[str] = []

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                index = state["next"]
                if index >= requests:
                    break
                state["next"] += 1
            body = json.dumps({"text": SENTENCES[index % len(SENTENCES)]})
            start = time.perf_counter()
            try:
                connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                ok = response.status == 200 and json.loads(payload)["results"][0]["sentences"]
                if not ok:
                    raise RuntimeError(f"status {response.status}: {payload[:200]!r}")
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                continue
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else 0.0
        )

    return {
        "requests": requests,
        "clients": clients,
        "ok": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:5],
        "seconds": round(wall, 2),
        "requests_per_second": round(len(latencies) / wall, 1),
        "latency_ms": {
            "p50": pct(0.5),
            "p95": pct(0.95),
            "p99": pct(0.99),
            "mean": round(1000 * statistics.fmean(latencies), 1) if latencies else 0.0,
        },
    }


def measure(model: Path, batching: bool, requests: int, clients: int, threads: int | None) -> dict:
    port = free_port()
    process = start_server(model, port, batching, threads)
    try:
        run_load(port, min(50, requests), clients)  # warm-up, not counted
        before = get_json(port, "/health")
        result = run_load(port, requests, clients)
        after = get_json(port, "/health")
    finally:
        stop_server(process)
    calls = after["predict_calls"] - before["predict_calls"]
    result["predict_calls"] = calls
    result["mean_batch_requests"] = round(result["ok"] / calls, 2) if calls else None
    result["batching"] = batching
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file to serve (default: build an untrained MiniLM model)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the server")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with tempfile.TemporaryDirectory(prefix="polytag-serve-load-") as tmp:
        model = Path(args.model) if args.model else build_default_model(Path(tmp))
        figures = {}
        for batching in (True, False):
            name = "batched" if batching else "one_at_a_time"
            figures[name] = measure(model, batching, args.requests, args.clients, args.threads)
            f = figures[name]
            print(
                f"{name:>14}: {f['requests_per_second']:8.1f} requests/s  "
                f"({f['ok']} ok, {f['errors']} errors, {f['seconds']} s; "
                f"latency p50 {f['latency_ms']['p50']} ms, "
                f"p95 {f['latency_ms']['p95']} ms; {f['predict_calls']} predict calls, "
                f"{f['mean_batch_requests']} requests per call)",
                flush=True,
            )
    speedup = figures["batched"]["requests_per_second"] / max(
        figures["one_at_a_time"]["requests_per_second"], 1e-9
    )
    figures["speedup"] = round(speedup, 2)
    print(f"batching speed-up: {speedup:.2f}x ({args.requests} requests, {args.clients} concurrent clients)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2), encoding="utf-8")
    failed = figures["batched"]["errors"] + figures["one_at_a_time"]["errors"]
    if failed:
        print(f"FAILED: {failed} requests failed", file=sys.stderr)
        return 1
    if speedup <= 1.0:
        print("FAILED: batching was not faster than one-at-a-time", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
