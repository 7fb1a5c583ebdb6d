"""Robustness benchmark: one table for hostile inputs, damaged model files, killed training and hostile HTTP.

    python bench/robustness.py [--quick] [--trials 20] [--rounds 10] [--clients 64] [--json OUT]

- reader suite: ``bench/robustness_inputs.py`` (malformed corpus files through every reader), when present;
- model files: every kind of damage of ``tests/test_untrusted_model_files.damaged_model_files`` must be
  refused by ``Model.load`` with a ModelFileError naming the problem, and ``polytag info`` must exit 1;
- kill-and-resume: ``bench/kill_resume_trials.py`` (SIGKILL at random moments, resume, same weights);
- server: ``polytag serve`` in a subprocess on a free loopback port, 64 concurrent clients sending a mix of
  valid and malformed bodies (``tests/test_serve_hostile``); every answer must be 200 or 4xx, and the
  server's resident memory is measured after a warm-up round and at the end.

- trust boundary (issue 14): one row per point from ``bench/robustness_<area>.py`` (encoder, heads, server,
  formats, config, training, edges), each ``run(workdir)`` returning
  ``{"point", "check", "expected", "observed", "ok"}``; ``--only-trust`` runs just these.

``--quick`` runs 3 kill trials and 2 rounds per client. Exit code 1 when any row is not as expected.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))


def reader_suite(workdir: Path) -> dict | None:
    try:
        import robustness_inputs  # type: ignore[import-not-found]
    except ImportError:
        return None
    return robustness_inputs.run(workdir)


TRUST_AREAS = ("encoder", "heads", "server", "formats", "config", "training", "edges")


def trust_rows(workdir: Path) -> list[dict]:
    """Every issue-14 row of the area benches, by point; a bench that crashes is one failed row."""
    import importlib

    rows = []
    for area in TRUST_AREAS:
        print(f"trust boundary: {area} ...", file=sys.stderr)
        try:
            module = importlib.import_module(f"robustness_{area}")
        except ImportError:
            continue
        try:
            rows += [{**row, "area": area} for row in module.run(workdir / f"trust-{area}")]
        except Exception as error:  # noqa: BLE001  (a crashing bench is a failed row, not a lost table)
            rows.append({"point": 0, "area": area, "check": "bench ran", "expected": "rows",
                         "observed": repr(error)[:200], "ok": False})  # fmt: skip
    return sorted(rows, key=lambda row: (row["point"], row["area"]))


def print_trust(rows: list[dict]) -> None:
    print(f"{'point':>5}  {'area':<9}  {'check':<60}  ok")
    print("-" * 82)
    for row in rows:
        verdict = "yes" if row["ok"] else "NO"
        print(f"{row['point']:>5}  {row['area']:<9}  {str(row['check'])[:60]:<60}  {verdict}")
        if not row["ok"]:
            print(f"{'':18}expected: {row['expected']}\n{'':18}observed: {row['observed']}")


def model_files(workdir: Path, encoder_dir: Path) -> dict:
    from polytag.cli.info import run_info
    from tests.test_cli_support import build_model
    from tests.test_untrusted_model_files import damaged_model_files, load_refusal

    good = workdir / "good-model.pt"
    build_model(encoder_dir, tasks=("ner", "pos")).save(good)
    cases = damaged_model_files(good, workdir / "damaged")
    rows = []
    for name, path, fragment in cases:
        outcome, message = load_refusal(path)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = run_info(path)
        clear = outcome == "refused" and fragment in message and code == 1 and fragment in out.getvalue()
        rows.append({"case": name, "outcome": outcome, "clear": clear, "message": message[:160]})
    sound_loads = load_refusal(good)[0] == "loaded"
    return {
        "tried": len(rows),
        "refused_clearly": sum(r["clear"] for r in rows),
        "crashes": sum(r["outcome"] == "crash" for r in rows),
        "sound_file_loads": sound_loads,
        "rows": rows,
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server(workdir: Path, encoder_dir: Path, clients: int, rounds: int) -> dict:
    from tests.test_cli_support import build_model, http
    from tests.test_serve_hostile import LIMITS, rss_mb, send_mix

    model_path = workdir / "serve-model.pt"
    build_model(encoder_dir, tasks=("ner", "pos", "topic")).save(model_path)
    port = _free_port()
    command = [
        sys.executable, "-m", "polytag", "serve", str(model_path), "--port", str(port), "--threads", "1",
        "--max-request-bytes", str(LIMITS.max_body_bytes),
        "--max-texts-per-request", str(LIMITS.max_texts),
        "--max-tokens-per-request", str(LIMITS.max_tokens),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if http(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.2)
        warm = send_mix(port, clients, 1, seed=0)
        before = rss_mb(process.pid)
        total: Counter = Counter()
        for round_ in range(rounds):
            result = send_mix(port, clients, 1, seed=round_ + 1)
            result.pop("examples", None)
            total.update(result)
        after = rss_mb(process.pid)
        alive = process.poll() is None and http(port, "GET", "/health")[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    warm.pop("examples", None)
    total.update(warm)  # the warm-up requests count as sent too
    codes = {k: v for k, v in total.items() if isinstance(k, int)}
    return {
        "sent": sum(codes.values()),
        "statuses": {str(k): v for k, v in sorted(codes.items())},
        "5xx": sum(v for k, v in codes.items() if k >= 500),
        "no_answer": codes.get(0, 0),
        "not_as_documented": total["wrong"],
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "alive_after": alive,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 kill trials, 2 request rounds")
    parser.add_argument("--trials", type=int, help="kill-and-resume trials (default 20, quick 3)")
    parser.add_argument("--rounds", type=int, help="requests per client after warm-up (default 10, quick 2)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--only-trust", action="store_true", help="only the issue-14 trust-boundary rows")
    args = parser.parse_args()
    trials = args.trials if args.trials is not None else (3 if args.quick else 20)
    rounds = args.rounds if args.rounds is not None else (2 if args.quick else 10)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from tests.conftest import build_tiny_encoder

    torch.set_num_threads(1)
    own = tempfile.TemporaryDirectory() if args.workdir is None else None
    workdir = Path(own.name if own else args.workdir)  # type: ignore[union-attr]
    workdir.mkdir(parents=True, exist_ok=True)
    encoder_dir = build_tiny_encoder(workdir / "tiny-encoder")

    trust = trust_rows(workdir)
    if args.only_trust:
        print_trust(trust)
        return 0 if all(row["ok"] for row in trust) else 1
    print("reader suite ...", file=sys.stderr)
    readers = reader_suite(workdir / "readers")
    print("model files ...", file=sys.stderr)
    files = model_files(workdir / "model-files", encoder_dir)
    print("server ...", file=sys.stderr)
    served = server(workdir / "server", encoder_dir, args.clients, rounds)
    print(f"kill-and-resume ({trials} trials) ...", file=sys.stderr)
    from kill_resume_trials import run_trials

    kills = run_trials(trials, 0, workdir / "kills", log=lambda line: print(line, file=sys.stderr))

    rows: list[tuple[str, str, bool]] = []
    if readers is None:
        rows.append(("reader suite", "not available", True))
    else:
        rows += [
            ("reader inputs tried", str(readers["inputs_tried"]), True),
            ("reader outcomes as documented", f"{readers['as_documented']}/{readers['inputs_tried']}",
             readers["as_documented"] == readers["inputs_tried"]),
            ("reader crashes", str(readers["crashes"]), readers["crashes"] == 0),
            ("sentences lost", str(readers["sentences_lost"]), readers["sentences_lost"] == 0),
        ]  # fmt: skip
    rows += [
        ("model-file cases tried", str(files["tried"]), files["sound_file_loads"]),
        ("model-file cases refused clearly", f"{files['refused_clearly']}/{files['tried']}",
         files["refused_clearly"] == files["tried"]),
        ("model-file crashes", str(files["crashes"]), files["crashes"] == 0),
        ("kill-and-resume trials passed", f"{kills['passed']}/{kills['trials']}",
         kills["passed"] == kills["trials"]),
        ("server requests sent", f"{served['sent']} ({args.clients} concurrent clients)",
         served["alive_after"]),
        ("server status counts", ", ".join(f"{k}: {v}" for k, v in served["statuses"].items()),
         served["not_as_documented"] == 0 and served["no_answer"] == 0),
        ("server 5xx", str(served["5xx"]), served["5xx"] == 0),
        ("server RSS before / after", f"{served['rss_before_mb']} / {served['rss_after_mb']} MB",
         served["rss_after_mb"] - served["rss_before_mb"] < 50),
    ]  # fmt: skip
    rows.append(("trust-boundary rows as expected", f"{sum(r['ok'] for r in trust)}/{len(trust)}",
                 all(r["ok"] for r in trust)))  # fmt: skip
    width = max(len(name) for name, _, _ in rows)
    print(f"{'check':<{width}}  {'result':<44}  ok")
    print("-" * (width + 52))
    for name, value, ok in rows:
        print(f"{name:<{width}}  {value:<44}  {'yes' if ok else 'NO'}")
    for row in files["rows"]:
        if not row["clear"]:
            print(f"  model file '{row['case']}': {row['outcome']} {row['message']}")
    for failure in kills["failures"]:
        print(f"  {failure}")
    print()
    print_trust(trust)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"readers": readers, "model_files": files, "kills": kills, "server": served, "trust": trust},
                indent=2,
            )
        )
    if own is not None:
        own.cleanup()
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
