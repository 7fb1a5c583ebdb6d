"""Load test of ``polytag serve`` against the same model's offline ``predict``, interleaved.

    python bench/serve_load.py [--model MODEL.pt] [--clients 16,64] [--requests 1500] [--rounds 3]
                               [--threads 2] [--serve-arg=--max-wait-ms=0 ...] [--json OUT]

Without ``--model`` it builds an untrained two-task model (POS-like token head + a text classifier) on
the shipped all-MiniLM-L6-v2 encoder: weights do not change the cost of a request. ``polytag serve`` runs
as a subprocess on a free loopback port with ``--threads N``; this process sets the same torch threads for
its offline runs. For each client count and round it alternates:

* server: C asyncio clients, each one keep-alive HTTP/1.1 connection written and read raw (no HTTP
  library, so the client takes little of the machine it shares with the server), send ``--requests``
  single-sentence requests; requests/s, p50/p99 latency, and from the server's ``/health`` the mean
  number of sentences per ``predict`` call in that run;
* offline: ``model.predict(sentences, mini_batch_size=B)`` on the same sentences (made as the server
  makes them), B = that run's mean sentences per call, with the server idle.

The ratio of each round is server requests/s over offline sentences/s; the median round is reported
(the lower middle one of an even count).
Beside the figures: the CPU share of the client and of the server with its prediction workers (of the
whole machine) and the load average. The last line printed is one JSON object of all the figures. Exits
1 if any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from git_commit import git_commit  # same folder: bench/ is on sys.path when run as a script

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


def start_server(model: Path, port: int, threads: int, extra: list[str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "polytag", "serve", str(model), "--port", str(port), "-q"]
    command += ["--threads", str(threads), *extra]
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
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    data = json.loads(connection.getresponse().read())
    connection.close()
    return data


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its living children (the server's prediction workers;
    Linux /proc), 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(k) for k in children.read_text().split()]
    except (OSError, ValueError):
        kids = []
    return own + sum(cpu_seconds(k) for k in kids)


def raw_request(text: str) -> bytes:
    body = json.dumps({"text": text}).encode()
    head = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _load(port: int, requests: int, clients: int) -> tuple[list[float], list[str], float]:
    wire = [raw_request(text) for text in SENTENCES]
    latencies: list[float] = []
    errors: list[str] = []
    taken = iter(range(requests))

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for index in taken:
            start = time.perf_counter()
            try:
                writer.write(wire[index % len(wire)])
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                payload = await reader.readexactly(length)
                if status != 200 or b'"sentences":[{' not in payload:
                    raise RuntimeError(f"status {status}: {payload[:200]!r}")
                if index % 97 == 0:  # now and then the whole answer is checked, not just its shape
                    json.loads(payload)["results"][0]["sentences"][0]["tokens"][0]["labels"]
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                errors.append(f"{type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - start)
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - start


def run_load(port: int, requests: int, clients: int, server_pid: int) -> dict:
    """Send ``requests`` POST /predict from ``clients`` connections; throughput, latencies, CPU shares."""
    before = get_json(port, "/health")
    cpu_client, cpu_server = time.process_time(), cpu_seconds(server_pid)
    latencies, errors, wall = asyncio.run(_load(port, requests, clients))
    cpu_client, cpu_server = time.process_time() - cpu_client, cpu_seconds(server_pid) - cpu_server
    load = os.getloadavg()[0]
    after = get_json(port, "/health")
    latencies.sort()

    def pct(p: float) -> float:
        return (
            round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else 0.0
        )

    calls = after["predict_calls"] - before["predict_calls"]
    sentences = after["predicted_sentences"] - before["predicted_sentences"]
    machine = wall * (os.cpu_count() or 1)
    return {
        "ok": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "requests_per_second": round(len(latencies) / wall, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "predict_calls": calls,
        "sentences_per_call": round(sentences / calls, 2) if calls else 0.0,
        "model_busy_share": round((after["predict_seconds"] - before["predict_seconds"]) / wall, 3),
        "client_cpu_share": round(cpu_client / machine, 3),
        "server_cpu_share": round(cpu_server / machine, 3),
        "server_cpu_ms_per_request": round(1000 * cpu_server / max(1, len(latencies)), 2),
        "load_average": round(load, 2),
    }


class Offline:
    """The same model's ``predict`` in this process, on the sentences the server would make."""

    def __init__(self, model_path: Path, threads: int) -> None:
        import torch

        from polytag.cli.inputs import load_model

        torch.set_num_threads(threads)
        self.model = load_model(model_path)
        self.model.eval()

    def sentences_per_second(self, count: int, batch: int, in_order: bool = False) -> tuple[float, float]:
        """Sentences per second, and CPU milliseconds per sentence (what the load average cannot skew).

        ``in_order``: one ``predict`` call per ``batch`` sentences in the order the clients send them, as
        the server gets them; otherwise one call for all (``predict`` sorts them by length first, so its
        batches hardly need padding: a bound no server of requests arriving over time can reach)."""
        from polytag.cli.segment import make_sentences

        sentences = [s for i in range(count) for s in make_sentences(SENTENCES[i % len(SENTENCES)])]
        batch = max(1, batch)
        calls = (
            [sentences[k : k + batch] for k in range(0, len(sentences), batch)] if in_order else [sentences]
        )
        start, cpu = time.perf_counter(), time.process_time()
        for call in calls:
            self.model.predict(call, mini_batch_size=batch)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        return round(len(sentences) / wall, 1), round(1000 * cpu / len(sentences), 2)


def measure(offline: Offline, port: int, pid: int, clients: int, requests: int, rounds: int) -> dict:
    """Rounds of (server run, offline at that run's mean batch); the median round's figures."""
    run_load(port, min(4 * clients, requests), clients, pid)  # warm-up, not counted
    runs = []
    for index in range(rounds):
        server = run_load(port, requests, clients, pid)
        batch = max(1, round(server["sentences_per_call"]))
        load = os.getloadavg()[0]
        rate, cpu_ms = offline.sentences_per_second(requests, batch)
        in_order, _ = offline.sentences_per_second(requests, batch, in_order=True)
        server.update(
            offline_in_order_sentences_per_second=in_order,
            ratio_in_order=round(server["requests_per_second"] / in_order, 3),
            offline_batch=batch,
            offline_sentences_per_second=rate,
            offline_cpu_ms_per_sentence=cpu_ms,
            offline_load_average=round(load, 2),
            ratio=round(server["requests_per_second"] / rate, 3),
        )
        runs.append(server)
        print(
            f"  {clients:>3} clients, round {index + 1}: server {server['requests_per_second']:7.1f} req/s "
            f"(p50 {server['p50_ms']} ms, p99 {server['p99_ms']} ms, "
            f"{server['sentences_per_call']} sentences/call, model busy {server['model_busy_share']:.0%}, "
            f"{server['errors']} errors, client CPU {server['client_cpu_share']:.1%}, "
            f"server CPU {server['server_cpu_share']:.0%} of the machine = "
            f"{server['server_cpu_ms_per_request']} ms per request, load {server['load_average']})  "
            f"offline {rate:7.1f} sent/s at batch {batch} ({cpu_ms} CPU ms each, load {load:.2f}), "
            f"{in_order} in arrival order  ratio {server['ratio']:.2f} "
            f"(in arrival order {server['ratio_in_order']:.2f})",
            flush=True,
        )
    median = sorted(runs, key=lambda r: r["ratio"])[(len(runs) - 1) // 2]  # the lower one of an even count
    return {
        **median,
        "ratios": [r["ratio"] for r in runs],
        "ratios_in_order": [r["ratio_in_order"] for r in runs],
        "errors": sum(r["errors"] for r in runs),
        "first_errors": [e for r in runs for e in r["first_errors"]][:3],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model file to serve (default: build an untrained MiniLM model)")
    parser.add_argument("--clients", default="16,64", help="comma-separated client counts")
    parser.add_argument("--requests", type=int, default=1500, help="requests per server run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved server/offline rounds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, server and offline")
    parser.add_argument(
        "--serve-arg", action="append", default=[], help="an extra `polytag serve` option (repeat)"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    counts = [int(c) for c in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="polytag-serve-load-") as tmp:
        model = Path(args.model) if args.model else build_default_model(Path(tmp))
        offline = Offline(model, args.threads)
        offline.sentences_per_second(64, 16)  # warm-up
        port = free_port()
        process = start_server(model, port, args.threads, args.serve_arg)
        try:
            figures = {
                str(c): measure(offline, port, process.pid, c, args.requests, args.rounds) for c in counts
            }
            info = get_json(port, "/info")["batching"]
        finally:
            stop_server(process)
    print(
        f"commit {git_commit()}, {datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"torch threads {args.threads}, {info}"
    )
    for clients, f in figures.items():
        print(
            f"{clients:>3} clients: server {f['requests_per_second']} req/s, "
            f"offline {f['offline_sentences_per_second']} sent/s at batch {f['offline_batch']}: "
            f"ratio {f['ratio']:.2f} (rounds {f['ratios']}; in arrival order {f['ratios_in_order']}); "
            f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms; {f['errors']} errors; load {f['load_average']}"
        )
    summary = {
        "bench": "serve_load",
        "commit": git_commit(),
        "date": f"{datetime.datetime.now():%Y-%m-%d %H:%M}",
        "threads": args.threads,
        "requests": args.requests,
        "serve_args": args.serve_arg,
        "batching": info,
        "clients": {
            c: {
                "offline_sentences_per_second": f["offline_sentences_per_second"],
                "server_requests_per_second": f["requests_per_second"],
                "ratio": f["ratio"],
                "ratios": f["ratios"],
                "offline_in_order_sentences_per_second": f["offline_in_order_sentences_per_second"],
                "ratio_in_order": f["ratio_in_order"],
                "p50_ms": f["p50_ms"],
                "p99_ms": f["p99_ms"],
                "sentences_per_call": f["sentences_per_call"],
                "model_busy_share": f["model_busy_share"],
                "errors": f["errors"],
                "client_cpu_share": f["client_cpu_share"],
                "server_cpu_share": f["server_cpu_share"],
                "load_average": f["load_average"],
            }
            for c, f in figures.items()
        },
    }
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": summary, "runs": figures}, indent=2), encoding="utf-8"
        )
    errors = sum(f["errors"] for f in figures.values())
    if errors:
        print(
            f"FAILED: {errors} requests failed: {[f['first_errors'] for f in figures.values()]}",
            file=sys.stderr,
        )
    print(json.dumps(summary))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
