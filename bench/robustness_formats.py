"""Robustness rows for the readers' memory bounds (issue 14, point 8): one long line must not exhaust memory.

    python bench/robustness_formats.py [--workdir DIR]

``run(workdir)`` returns one row a check, each ``{"point", "check", "expected", "observed", "ok"}``:

- a 50 MB single line (26 million one-letter words) through the fastText, JSON-lines (simple and full
  form) and plain-text readers, in a child process whose address space is limited to 1.5 GB: each must
  be refused with a FormatError naming line 1 and ``max_sentence_tokens``, not a MemoryError;
- a 4 MB line through the same readers: refused, with a traced peak under 40 MB (it was 650-880 MB);
- ``polytag predict`` on a 50 MB one-line text file with a tiny model: exit status 2, a one-line error,
  and a peak resident size of the process under 1 GB;
- a sentence of exactly the cap is still read (the bound refuses nothing it should read).

Takes about half a minute; prints the rows and exits 1 when one is not ok.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POINT = 8
LIMIT_GB = 1.5
WORDS_50MB = 25 << 20  # "a " times this is a 50 MB line

# a child process under an address-space limit tries each file and prints one JSON line per reader
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    limit = int(float(sys.argv[2]) * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from polytag.cli.inputs import iter_text_file
    from polytag.errors import FormatError
    from polytag.formats import read_fasttext_file, read_jsonl_file
    readers = {"fasttext": read_fasttext_file, "jsonl": read_jsonl_file,
               "text": lambda p: list(iter_text_file(p))}
    for item in json.loads(sys.argv[1]):
        try:
            readers[item["reader"]](item["path"])
            outcome = "read"
        except FormatError as exc:
            outcome = f"FormatError: {exc}"
        except MemoryError:
            outcome = "MemoryError"
        print(json.dumps({"file": item["path"], "outcome": outcome[:300]}), flush=True)
    """
)


def _files(folder: Path, words: int) -> dict[str, tuple[str, str]]:
    """Name -> (path, reader) of one-line files of ``words`` one-letter words in each format."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "a " * words
    contents = {
        "fastText": ("big.fasttext", "fasttext", "__label__x " + text),
        "JSON lines (text)": ("big.jsonl", "jsonl", json.dumps({"text": text})),
        "JSON lines (tokens)": ("big-tokens.jsonl", "jsonl", json.dumps({"tokens": ["a"] * (words // 2)})),
        "plain text": ("big.txt", "text", text),
    }
    files = {}
    for name, (file, reader, content) in contents.items():
        path = folder / file
        path.write_text(content + "\n", encoding="utf-8")
        files[name] = (str(path), reader)
    return files


def _child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def fifty_mb_lines(workdir: Path) -> list[dict[str, Any]]:
    """A 50 MB line per reader, read in a child limited to 1.5 GB of address space."""
    files = _files(workdir / "50mb", WORDS_50MB)
    order = [{"path": path, "reader": reader} for path, reader in files.values()]
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(order), str(LIMIT_GB)],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=300,
    )
    outcomes = {}
    for line in result.stdout.splitlines():
        entry = json.loads(line)
        outcomes[entry["file"]] = entry["outcome"]
    rows = []
    for name, (path, _) in files.items():
        observed = outcomes.get(path, f"child died (status {result.returncode}): {result.stderr[-200:]}")
        ok = observed.startswith("FormatError") and "line 1" in observed and "max_sentence_tokens" in observed
        rows.append(
            {
                "point": POINT,
                "check": f"{name}: one 50 MB line (26M words), address space limited to {LIMIT_GB} GB",
                "expected": "FormatError naming the file, line 1 and max_sentence_tokens; no MemoryError",
                "observed": observed,
                "ok": ok,
            }
        )
        Path(path).unlink()
    return rows


def four_mb_lines(workdir: Path) -> list[dict[str, Any]]:
    """A 4 MB line per reader, in this process: refused, with a small traced peak."""
    from polytag.cli.inputs import iter_text_file
    from polytag.errors import FormatError
    from polytag.formats import read_fasttext_file, read_jsonl_file

    readers: dict[str, Callable[[str], Any]] = {
        "fasttext": read_fasttext_file,
        "jsonl": read_jsonl_file,
        "text": lambda p: list(iter_text_file(p)),
    }
    rows = []
    for name, (path, reader) in _files(workdir / "4mb", 2 << 20).items():
        tracemalloc.start()
        try:
            readers[reader](path)
            outcome = "read"
        except FormatError as exc:
            outcome = f"FormatError: {str(exc)[:120]}"
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append(
            {
                "point": POINT,
                "check": f"{name}: one 4 MB line (2M words), traced peak",
                "expected": "FormatError, peak under 40 MB (650-880 MB before the token cap)",
                "observed": f"{outcome}; peak {peak / 2**20:.1f} MB",
                "ok": outcome.startswith("FormatError") and peak < 40 << 20,
            }
        )
        Path(path).unlink()
    return rows


def cli_predict(workdir: Path) -> dict[str, Any]:
    """``polytag predict`` on a 50 MB one-line text file: a one-line error, bounded resident memory."""
    import torch

    from tests.conftest import build_tiny_encoder
    from tests.test_cli_support import build_model

    torch.set_num_threads(1)
    model = workdir / "model.pt"
    build_model(build_tiny_encoder(workdir / "tiny-encoder"), tasks=("ner",)).save(model)
    text = workdir / "one-line.txt"
    text.write_text("a " * WORDS_50MB + "\n", encoding="utf-8")
    err_path = workdir / "stderr.txt"
    with open(err_path, "w") as err_file:
        child = subprocess.Popen(
            [sys.executable, "-m", "polytag", "predict", "-q", str(model), str(text)],
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            env=_child_env(),
        )
        _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not any earlier child's
        child.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    err = [
        line for line in err_path.read_text(encoding="utf-8").replace("\r", "\n").splitlines() if line.strip()
    ]
    err_path.unlink()
    text.unlink()
    message = err[-1] if err else ""
    return {
        "point": POINT,
        "check": "polytag predict MODEL one-line.txt (a 50 MB line, plain text)",
        "expected": "exit 2 with a one-line error naming line 1 and max_sentence_tokens; peak RSS under 1 GB",
        "observed": f"exit {child.returncode}: {message[:160]}; peak RSS {peak_mb:.0f} MB",
        "ok": child.returncode == 2
        and len(err) == 1
        and message.startswith("polytag: error:")
        and "line 1" in message
        and "max_sentence_tokens" in message
        and peak_mb < 1024,
    }


def at_the_cap(workdir: Path) -> dict[str, Any]:
    """A sentence of exactly ``MAX_SENTENCE_TOKENS`` tokens is read, one more is refused."""
    from polytag.errors import FormatError
    from polytag.formats import MAX_SENTENCE_TOKENS, read_fasttext_file

    path = workdir / "cap.txt"
    outcomes = []
    for words in (MAX_SENTENCE_TOKENS, MAX_SENTENCE_TOKENS + 1):
        path.write_text("__label__x " + "w " * words + "\n", encoding="utf-8")
        try:
            outcomes.append(f"{len(read_fasttext_file(path)[0]):,} tokens read")
        except FormatError:
            outcomes.append("FormatError")
    path.unlink()
    return {
        "point": POINT,
        "check": f"fastText lines of {MAX_SENTENCE_TOKENS:,} and {MAX_SENTENCE_TOKENS + 1:,} words",
        "expected": f"the first read ({MAX_SENTENCE_TOKENS:,} tokens), the second refused",
        "observed": "; ".join(outcomes),
        "ok": outcomes == [f"{MAX_SENTENCE_TOKENS:,} tokens read", "FormatError"],
    }


def run(workdir: Path) -> list[dict[str, Any]]:
    """Every row of this suite (see the module docstring); ``workdir`` is left empty of large files."""
    workdir.mkdir(parents=True, exist_ok=True)
    rows = fifty_mb_lines(workdir)
    rows += four_mb_lines(workdir)
    rows.append(at_the_cap(workdir))
    rows.append(cli_predict(workdir))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        rows = run(args.workdir or Path(tmp))
    for row in rows:
        print(f"[{'ok' if row['ok'] else 'NOT OK'}] point {row['point']}: {row['check']}")
        print(f"    expected: {row['expected']}\n    observed: {row['observed']}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
