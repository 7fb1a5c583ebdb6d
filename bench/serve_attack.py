"""Replays issue 14's attacks on ``polytag serve`` (points 2, 3, 4 and 12) against a real server subprocess,
while a victim client sends one small request every 0.25 s, and checks what docs/serving.md promises.

    python bench/serve_attack.py [--model MODEL.pt] [--seconds 20] [--nofile 256] [--json OUT]

Attacks, all at once:

- point 2: one-word texts of 100,000 CJK characters (100,000 subtokens), and valid requests at the
  subtoken limit (8,192 subtokens each) from several clients;
- point 3: requests of ~1 MB, in one sentence and in 1,000 sentences of 990-character words (one
  subtoken each, so only the byte, character and queue limits hold them);
- point 4: hundreds of sockets that stay idle, stall mid-headers or trickle header bytes, under an
  open-file limit of ``--nofile`` descriptors;
- point 12: a cross-site request (``Host: evil.example``, ``Origin: http://evil.example``,
  ``Content-Type: text/plain``).

Passes (exit 0) when every victim request answers 200 within 2 s, ``/health`` answers throughout, no
answer is a 5xx, the server's peak RSS stays within ``--rss-bound-mb`` of its RSS after warm-up, and its
log stays small. Without ``--model`` it builds a tiny untrained BERT model (tests/conftest.py).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

VICTIM = b'{"text": "Mr Smith loves New York. The team won!"}'
VICTIM_LIMIT_S = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def post(
    port: int, body: bytes, headers: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, float]:
    """Status (0 when there was no HTTP answer) and seconds taken, on a fresh connection."""
    import http.client

    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/predict", body, {"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = 0
    finally:
        connection.close()
    return status, time.monotonic() - started


def get(port: int, path: str, timeout: float = 10) -> tuple[int, Any]:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, raw.decode("utf-8", "replace")


def tiny_model(workdir: Path) -> Path:
    """A tiny untrained model (NER, POS and topic heads) saved under ``workdir``."""
    from tests.conftest import build_tiny_encoder
    from tests.test_cli_support import build_model

    path = workdir / "tiny-model.pt"
    if not path.exists():
        build_model(build_tiny_encoder(workdir / "tiny-encoder")).save(path)
    return path


def start_server(
    model: Path, workdir: Path, nofile: int, extra: list[str]
) -> tuple[subprocess.Popen, int, Path]:
    """``polytag serve`` in a subprocess under an open-file limit of ``nofile``; waits until it answers."""
    port = free_port()
    log_path = workdir / "serve.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed when the process ends

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    command = [
        sys.executable,
        "-m",
        "polytag",
        "serve",
        str(model),
        "--port",
        str(port),
        "--threads",
        "1",
        *extra,
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log, preexec_fn=limit_files)
    log.close()
    deadline = time.monotonic() + 120
    while True:
        try:
            if get(port, "/health")[0] == 200:
                return process, port, log_path
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def observe(port: int, pid: int, seconds: float, results: Any) -> None:
    """The victim (one small request every 0.25 s, from 1 s into the attack) and a watcher of /health
    and the server's memory; puts (victim statuses and latencies, /health failures, peak RSS) on
    ``results``."""
    stop = threading.Event()
    victim: list[tuple[int, float]] = []
    watched = {"failures": 0, "peak": 0.0}

    def watch() -> None:
        while not stop.is_set():
            watched["peak"] = max(watched["peak"], rss_mb(pid))
            try:
                if get(port, "/health", timeout=2)[0] != 200:
                    watched["failures"] += 1
            except OSError:
                watched["failures"] += 1
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    ends = time.monotonic() + seconds
    time.sleep(1.0)  # the attack is under way
    while time.monotonic() < ends:
        victim.append(post(port, VICTIM, timeout=30))
        time.sleep(0.25)
    stop.set()
    watcher.join()
    results.put((victim, watched["failures"], watched["peak"]))


class Attack:
    """Runs the attackers and the victim in threads and records every status and the victim's latencies."""

    def __init__(self, port: int, pid: int, seconds: float, sockets: int) -> None:
        self.port, self.pid, self.seconds, self.sockets = port, pid, seconds, sockets
        self.statuses: Counter = Counter()
        self.by_attack: dict[str, Counter] = {}
        self.victim: list[tuple[int, float]] = []
        self.health_failures = 0
        self.peak_rss = 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def record(self, attack: str, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1
            self.by_attack.setdefault(attack, Counter())[status] += 1

    def repeat(self, attack: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        while not self.stop.is_set():
            status, _ = post(self.port, body, headers)
            self.record(attack, status)

    def slow_sockets(self) -> None:
        """Idle, stalled and trickling sockets, reopened as the server closes them."""
        open_sockets: list[tuple[socket.socket, bytes]] = []
        kinds = [b"", b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n", b"G"]
        while not self.stop.is_set():
            while len(open_sockets) < self.sockets:
                try:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=2)
                except OSError:
                    break
                first = kinds[len(open_sockets) % 3]
                if first:
                    sock.sendall(first)
                open_sockets.append((sock, first))
            kept = []
            for sock, first in open_sockets:
                try:
                    if first == b"G":
                        sock.sendall(b"E")  # a trickle: one header byte now and then
                    kept.append((sock, first))
                except OSError:
                    sock.close()
                    self.record("slow sockets closed by the server", -1)
            open_sockets = kept
            time.sleep(0.5)
        for sock, _ in open_sockets:
            sock.close()

    def run(self) -> None:
        huge_word = json.dumps({"text": "\u65e5" * 100_000}, ensure_ascii=False).encode()
        at_limit = json.dumps(
            {"text": " ".join(f"w{i % 97}" for i in range(2500))}
        ).encode()  # ~7,400 subtokens
        # ~1 MB in one sentence (refused in milliseconds by max_sentence_chars), and ~1 MB in 1,000
        # sentences of 990 characters (let in until the byte and subtoken limits hold them)
        one_sentence = json.dumps({"text": " ".join(f"{i:04d}" + "x" * 986 for i in range(1000))}).encode()
        sentences = json.dumps(
            {"text": " ".join(f"S{i:04d}" + "x" * 984 + "." for i in range(1000))}
        ).encode()
        cross_site = {"Host": "evil.example", "Origin": "http://evil.example", "Content-Type": "text/plain"}
        attackers = [
            ("2: 100,000-subtoken word", huge_word, None, 4),
            ("2: requests at the subtoken limit", at_limit, None, 3),
            ("3: 1 MB one-sentence requests", one_sentence, None, 8),
            ("3: 1 MB requests of 1,000 sentences", sentences, None, 16),
            ("12: cross-site request", VICTIM, cross_site, 1),
        ]
        workers = [
            threading.Thread(target=self.repeat, args=(name, body, headers))
            for name, body, headers, clients in attackers
            for _ in range(clients)
        ]
        workers.append(threading.Thread(target=self.slow_sockets))
        # the victim and the watcher run in a process of their own: the attackers' threads must not
        # slow the victim's client down (they share one interpreter lock)
        results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
        observer = multiprocessing.get_context("spawn").Process(
            target=observe, args=(self.port, self.pid, self.seconds, results)
        )
        observer.start()
        for worker in workers:
            worker.start()
        time.sleep(self.seconds)
        self.stop.set()
        self.victim, self.health_failures, self.peak_rss = results.get(timeout=120)
        observer.join(timeout=30)
        for worker in workers:
            worker.join(timeout=150)


def attack(
    model: Path, workdir: Path, seconds: float = 20, nofile: int = 256, sockets: int = 400
) -> dict[str, Any]:
    """Start a server, warm it up, attack it for ``seconds``; every figure the checks need."""
    process, port, log_path = start_server(model, workdir, nofile, [])
    try:
        for _ in range(5):
            post(port, VICTIM)
        rss_before = rss_mb(process.pid)
        run = Attack(port, process.pid, seconds, sockets)
        run.run()
        _, health = get(port, "/health")
        cross_site = {
            name: post(port, VICTIM, headers)[0]
            for name, headers in (
                ("Host: evil.example", {"Host": "evil.example"}),
                ("Origin: http://evil.example", {"Origin": "http://evil.example"}),
                ("Content-Type: text/plain", {"Content-Type": "text/plain"}),
            )
        }
        openapi_status, openapi = get(port, "/openapi.json")
        docs_status, _ = get(port, "/docs")
        alive = process.poll() is None
    finally:
        stop_server(process)
    log_text = log_path.read_text(errors="replace")
    latencies = [seconds for _, seconds in run.victim]
    return {
        "victim_requests": len(run.victim),
        "victim_ok": sum(status == 200 for status, _ in run.victim),
        "victim_max_s": round(max(latencies), 3) if latencies else None,
        "health_failures": run.health_failures,
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "by_attack": {name: {str(k): v for k, v in sorted(c.items())} for name, c in run.by_attack.items()},
        "5xx": sum(v for k, v in run.statuses.items() if k >= 500),
        "rss_before_mb": round(rss_before, 1),
        "rss_peak_mb": round(max(run.peak_rss, rss_before), 1),
        "log_bytes": len(log_text.encode()),
        # asyncio's record for a failed accept (its traceback says "Too many open files")
        "too_many_open_files": log_text.count("out of system resource"),
        "health_after": health,
        "cross_site": cross_site,
        "openapi_ok": openapi_status == 200
        and isinstance(openapi, dict)
        and "/predict" in openapi.get("paths", {}),
        "docs_status": docs_status,
        "alive_after": alive,
    }


def verdicts(figures: dict[str, Any], rss_bound_mb: float) -> list[tuple[str, bool]]:
    """Each promise of docs/serving.md with whether the figures keep it."""
    rss_growth = figures["rss_peak_mb"] - figures["rss_before_mb"]
    victim = figures["victim_requests"] > 0 and figures["victim_ok"] == figures["victim_requests"]
    return [
        (f"victim: {figures['victim_ok']}/{figures['victim_requests']} answered 200, slowest "
         f"{figures['victim_max_s']} s (limit {VICTIM_LIMIT_S:g} s)",
         victim and figures["victim_max_s"] < VICTIM_LIMIT_S),
        (f"/health failures during the attack: {figures['health_failures']}",
         figures["health_failures"] == 0),
        (f"5xx answers: {figures['5xx']}", figures["5xx"] == 0),
        (f"RSS {figures['rss_before_mb']} MB -> peak {figures['rss_peak_mb']} MB "
         f"(bound +{rss_bound_mb:g} MB)", rss_growth < rss_bound_mb),
        (f"server log {figures['log_bytes']} bytes, 'Too many open files' "
         f"{figures['too_many_open_files']} times",
         figures["log_bytes"] < 100_000 and figures["too_many_open_files"] <= 5),
        (f"alive after, /openapi.json valid, /docs {figures['docs_status']}",
         figures["alive_after"] and figures["openapi_ok"] and figures["docs_status"] == 200),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="model file (default: a tiny untrained one)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the attack lasts")
    parser.add_argument("--nofile", type=int, default=256, help="the server's open-file limit")
    parser.add_argument("--sockets", type=int, default=400, help="slow sockets held open")
    parser.add_argument("--rss-bound-mb", type=float, default=400.0, help="most RSS growth allowed")
    parser.add_argument("--json", type=Path, help="write every figure here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model = args.model or tiny_model(workdir)
        figures = attack(model, workdir, args.seconds, args.nofile, args.sockets)
    checks = verdicts(figures, args.rss_bound_mb)
    for name, counts in figures["by_attack"].items():
        print(f"{name:<40} {counts}")
    print(f"/health after: {json.dumps(figures['health_after'])}")
    for line, ok in checks:
        print(f"{'ok ' if ok else 'NO '} {line}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
