"""Hostile input against every reader: does each input get its documented outcome (docs/robustness.md)?

For each kind of bad input (empty file, no final newline, CRLF, BOM, mixed tabs and spaces, a wrong
column count, a tag-scheme violation, an undecodable byte, NUL bytes, classic-Mac ``\\r`` line ends,
zero-width / control / right-to-left / emoji text, a 100,000-token sentence, a 1 GB single line, ...)
and each reader (column, CoNLL-U and JSON lines, whole-file and lazy; fastText; CSV; the plain-text
input of ``polytag predict``) the documented outcome is either *read* (so many sentences, tokens as
written) or *FormatError* naming the file and the line. A case is "as documented" when that is what
happened; a "crash" is any other exception or a hang (a case gets ``CASE_SECONDS``); "sentences lost"
counts, over the cases documented to be read, the sentences of the input that did not come out.

The 1 GB line is written to ``workdir`` and read in a child process with the default line limit
(64 MiB): the reader must stop with a FormatError, and the child's peak RSS must stay under
``RSS_LIMIT_MB``. ``run(workdir, big=False)`` swaps it for a 20 MB line read with a 1 MiB limit (what
the test suite runs).

Usage: ``python bench/robustness_inputs.py [--workdir DIR] [--small]``; exit status 1 unless every
case is as documented.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polytag.cli.inputs import iter_input
from polytag.errors import FormatError, PolytagError
from polytag.formats import (
    IndexedColumnFile,
    IndexedConlluFile,
    IndexedJsonlFile,
    read_column_file,
    read_conllu_file,
    read_csv_file,
    read_fasttext_file,
    read_jsonl_file,
)

CASE_SECONDS = 120
RSS_LIMIT_MB = 300
BIG_LINE_BYTES = 1 << 30
SMALL_LINE_BYTES = 20 << 20
SMALL_LIMIT = 1 << 20
LONG_SENTENCE = 100_000

FMT = {0: "text", 1: "ner"}
FORMATS = ("column", "conllu", "jsonl", "fasttext", "csv", "text")


def _column(path: Path, limit: int | None = None, **kw: Any) -> list[Any]:
    return read_column_file(path, FMT, **({"max_line_bytes": limit} if limit else {}), **kw)


def _column_declared(path: Path, limit: int | None = None) -> list[Any]:
    return _column(path, limit, span_layers=["ner"])


def _column_lazy(path: Path, limit: int | None = None, **kw: Any) -> list[Any]:
    return list(IndexedColumnFile(path, FMT, **({"max_line_bytes": limit} if limit else {}), **kw))


def _conllu(path: Path, limit: int | None = None) -> list[Any]:
    return read_conllu_file(path, **({"max_line_bytes": limit} if limit else {}))


def _conllu_lazy(path: Path, limit: int | None = None) -> list[Any]:
    return list(IndexedConlluFile(path, **({"max_line_bytes": limit} if limit else {})))


def _jsonl(path: Path, limit: int | None = None) -> list[Any]:
    return read_jsonl_file(path, **({"max_line_bytes": limit} if limit else {}))


def _jsonl_lazy(path: Path, limit: int | None = None) -> list[Any]:
    return list(IndexedJsonlFile(path, **({"max_line_bytes": limit} if limit else {})))


def _fasttext(path: Path, limit: int | None = None) -> list[Any]:
    return read_fasttext_file(path, **({"max_line_bytes": limit} if limit else {}))


def _csv(path: Path, limit: int | None = None) -> list[Any]:
    return read_csv_file(path, {0: "label", 1: "text"}, **({"max_line_bytes": limit} if limit else {}))


def _text(path: Path, limit: int | None = None) -> list[Any]:
    """What ``polytag predict`` reads from a plain-text file."""
    return list(iter_input(path, "text", max_line_bytes=limit))


# reader name -> (format of its input, function)
READERS: dict[str, tuple[str, Callable[..., list[Any]]]] = {
    "column": ("column", _column),
    "column (declared spans)": ("column", _column_declared),
    "column (lazy)": ("column", _column_lazy),
    "conllu": ("conllu", _conllu),
    "conllu (lazy)": ("conllu", _conllu_lazy),
    "jsonl": ("jsonl", _jsonl),
    "jsonl (lazy)": ("jsonl", _jsonl_lazy),
    "fasttext": ("fasttext", _fasttext),
    "csv": ("csv", _csv),
    "cli predict (text)": ("text", _text),
}

# -- rendering sentences in each format -------------------------------------------------------------

BASE = [["John", "lives", "in", "New", "York"], ["Hi", "there"], ["Bye"]]
BASE_TAGS = [["B-PER", "O", "O", "B-LOC", "I-LOC"], ["O", "O"], ["O"]]


def render(fmt: str, sentences: list[list[str]], tags: list[list[str]] | None = None) -> str:
    """The text of a small, valid file of ``fmt`` holding ``sentences`` (lists of tokens)."""
    tags = tags or [["O"] * len(s) for s in sentences]
    if fmt == "column":
        return "".join("".join(f"{t}\t{g}\n" for t, g in zip(s, ts)) + "\n" for s, ts in zip(sentences, tags))
    if fmt == "conllu":
        out = []
        for s in sentences:
            out.append(f"# text = {' '.join(s)}\n")
            out.extend(f"{i}\t{t}\t_\t_\t_\t_\t_\t_\t_\t_\n" for i, t in enumerate(s, 1))
            out.append("\n")
        return "".join(out)
    if fmt == "jsonl":
        return "".join(
            json.dumps({"text": " ".join(s), "labels": ["x"]}, ensure_ascii=False) + "\n" for s in sentences
        )
    if fmt == "fasttext":
        return "".join(f"__label__x {' '.join(s)}\n" for s in sentences)
    if fmt == "csv":
        return "".join(f'x,"{" ".join(s)}"\n' for s in sentences)
    if fmt == "text":
        return "".join(" ".join(s) + "\n" for s in sentences)
    raise ValueError(fmt)


def _visible(sentences: list[list[str]]) -> list[str]:
    """Each sentence's characters without whitespace: what a tokenizing reader must not lose."""
    return ["".join(ch for ch in "".join(s) if not ch.isspace()) for s in sentences]


def _line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1


@dataclass
class Case:
    """One input for one reader and what docs/robustness.md says must happen."""

    input: str
    reader: str
    data: bytes | Callable[[Path], None]  # bytes, or a function that writes the file (the 1 GB line)
    sentences: int | None = None  # documented: read this many sentences
    error_line: int | None = None  # documented: FormatError naming this line (0: any line, -1: no line)
    message: str = ""  # ... whose message holds this
    tokens: list[list[str]] | None = None  # exact tokens (readers that do not tokenize)
    visible: list[str] | None = None  # characters without whitespace per sentence (tokenizing readers)
    limit: int | None = None  # max_line_bytes for the reader
    child: bool = False  # run in a child process and measure its peak RSS

    @property
    def expected(self) -> str:
        if self.sentences is not None:
            return f"read {self.sentences} sentence(s)"
        where = {0: "", -1: " (no line)"}.get(self.error_line or 0, f" at line {self.error_line}")
        return f"FormatError{where}" + (f" '{self.message}'" if self.message else "")


def _tokenizes(fmt: str) -> bool:
    return fmt in ("jsonl", "fasttext", "csv", "text")


def _read_case(name: str, fmt: str, sentences: list[list[str]], data: bytes | None = None) -> Case:
    """A case documented to be read: the sentences come back (tokens exact where nothing tokenizes)."""
    if data is None:
        data = render(fmt, sentences).encode("utf-8")
    if _tokenizes(fmt):
        return Case(name, "", data, sentences=len(sentences), visible=_visible(sentences))
    return Case(name, "", data, sentences=len(sentences), tokens=sentences)


def cases(big: bool = True) -> Iterator[Case]:
    """Every (input, reader) pair with its documented outcome."""
    rng = random.Random(13)
    garbage = bytes(rng.randrange(256) for _ in range(4096))
    zero_width = [["a\u200bb", "\u200d", "\u2060x", "mid\ufeffdle", "e\u0301", "\u00ad"], ["ok"]]
    control = [["bell\x07", "\x1b[31m", "x\x7fy", "\x01\x02"], ["ok"]]
    rtl = [["שלום", "עולם", "\u202eevil", "مرحبا", "\u200fmark"], ["ok"]]
    emoji = [["😀", "👩\u200d👩\u200d👧", "👍🏽", "🇩🇪", "❤️"], ["ok"]]
    long_sentence = [[f"w{i}" for i in range(LONG_SENTENCE)]]
    for reader, (fmt, _) in READERS.items():
        valid = render(fmt, BASE, BASE_TAGS).encode("utf-8")

        def case(c: Case, reader: str = reader) -> Case:
            c.reader = reader
            return c

        yield case(Case("empty file", "", b"", sentences=0))
        yield case(Case("only blank and whitespace lines", "", b"\n \n\t\n\n", sentences=0))
        yield case(_read_case("no final newline", fmt, BASE, valid.rstrip(b"\n")))
        yield case(_read_case("CRLF line ends", fmt, BASE, valid.replace(b"\n", b"\r\n")))
        yield case(_read_case("UTF-8 byte-order mark", fmt, BASE, b"\xef\xbb\xbf" + valid))
        yield case(
            _read_case(
                "many blank lines between sentences",
                fmt,
                BASE,
                valid.replace(
                    *((b"\n\n", b"\n\n\n\n") if fmt in ("column", "conllu") else (b"\n", b"\n\n\n"))
                ),
            )
        )
        # mixed tabs and spaces
        if fmt == "column":
            mixed = b"John \tB-PER\nlives\t O\nin O\nNew  B-LOC\nYork\tI-LOC\t\n\nHi\tO\nthere\tO\n\nBye O\n"
            yield case(_read_case("mixed tabs and spaces", fmt, BASE, mixed))
        elif fmt == "conllu":
            bad = valid.replace(b"2\tlives\t_", b"2 lives _", 1)
            yield case(Case("mixed tabs and spaces", "", bad, error_line=3, message="10 tab-separated"))
        elif fmt == "jsonl":  # JSON allows tabs between its tokens, not raw inside a string
            mixed = valid.replace(b'": ', b'":\t ').replace(b", ", b",\t  ")
            yield case(_read_case("mixed tabs and spaces", fmt, BASE, mixed))
        else:
            yield case(_read_case("mixed tabs and spaces", fmt, BASE, valid.replace(b" ", b" \t ")))
        # a wrong column count (or the format's equivalent) on one line
        if fmt == "column":
            bad = valid.replace(b"York\tI-LOC", b"York", 1)
            yield case(
                Case("wrong column count on line 5", "", bad, error_line=5, message="at least 2 columns")
            )
            bad = valid.replace(b"in\tO", b"in\t\tO", 1)
            yield case(Case("empty field on line 3", "", bad, error_line=3, message="empty field"))
        elif fmt == "conllu":
            bad = valid.replace(b"3\tin\t_\t_\t_\t_\t_\t_\t_\t_", b"3\tin\t_\t_\t_\t_\t_\t_\t_", 1)
            yield case(Case("wrong column count on line 4", "", bad, error_line=4, message="got 9"))
            bad = valid.replace(b"3\tin", b"\xc2\xb3\tin", 1)
            yield case(Case("non-ASCII digit as word ID", "", bad, error_line=4, message="ID"))
        elif fmt == "csv":
            bad = valid.replace(b'x,"Hi there"', b"Hi there", 1)
            yield case(
                Case("wrong column count on line 2", "", bad, error_line=2, message="at least 2 fields")
            )
            bad = valid.replace(b'x,"Hi there"', b'x,"Hi there', 1)
            yield case(Case("unclosed quote on line 2", "", bad, error_line=2, message="malformed CSV"))
        elif fmt == "jsonl":
            bad = valid.replace(b'{"text": "Hi there"', b'{"txt": "Hi there"', 1)
            yield case(Case("wrong object shape on line 2", "", bad, error_line=2, message="'text'"))
            bad = valid.replace(b"Hi there", b"Hi there\\ud800", 1)
            yield case(Case("lone surrogate escape on line 2", "", bad, error_line=2, message="surrogate"))
            bad = valid + b"[" * 100_000 + b"]" * 100_000 + b"\n"
            yield case(Case("JSON nested 100,000 deep on line 4", "", bad, error_line=4, message="nested"))
            bad = valid.replace(
                b'"labels": ["x"]', b'"labels": [{"value": "x", "score": 1' + b"0" * 400 + b"}]", 1
            )
            yield case(Case("score out of float range on line 1", "", bad, error_line=1))
        elif fmt == "fasttext":
            bad = valid.replace(b"__label__x Hi", b"__label__ Hi", 1)
            yield case(Case("empty label on line 2", "", bad, error_line=2, message="empty label"))
        # tag scheme violations
        if fmt == "column":
            violated = valid.replace(b"John\tB-PER", b"John\tI-PER", 1).replace(
                b"New\tB-LOC", b"New\tE-LOC", 1
            )
            yield case(_read_case("tag scheme violation (repaired, logged)", fmt, BASE, violated))
            bad = valid.replace(b"York\tI-LOC", b"York\tX-LOC", 1)
            if "declared" in reader:
                yield case(Case("unknown tag prefix on line 5", "", bad, error_line=5, message="expected"))
            else:  # not all tags: the column is read as token labels (a warning says why)
                yield case(_read_case("unknown tag prefix on line 5", fmt, BASE, bad))
        elif fmt == "jsonl":
            bad = valid.replace(
                b'"labels": ["x"]}', b'"labels": ["x"], "spans": [{"start": 0, "end": 9, "value": "P"}]}', 1
            )
            yield case(
                Case("span outside the sentence on line 1", "", bad, error_line=1, message="does not fit")
            )
        # byte-level problems
        yield case(
            Case(
                "undecodable byte in sentence 2",
                "",
                valid.replace(b"Hi", b"H\xff", 1),
                error_line=_line_of(valid, b"Hi"),
                message="cannot be decoded",
            )
        )
        yield case(
            Case(
                "NUL byte in sentence 2",
                "",
                valid.replace(b"Hi", b"H\x00", 1),
                error_line=_line_of(valid, b"Hi"),
                message="NUL",
            )
        )
        yield case(
            Case(
                "classic-Mac CR line ends",
                "",
                valid.replace(b"\n", b"\r"),
                error_line=1,
                message="carriage return" if fmt != "csv" else "malformed CSV",
            )
        )
        yield case(Case("UTF-16 file", "", valid.decode("utf-8").encode("utf-16"), error_line=1))
        yield case(Case("random bytes", "", garbage, error_line=0))
        # unusual but valid text
        for name, sentences in (
            ("zero-width characters", zero_width),
            ("control characters", control),
            ("right-to-left text", rtl),
            ("emoji", emoji),
        ):
            data = render(fmt, sentences).encode("utf-8")
            yield case(_read_case(name, fmt, sentences, data))
        yield case(_read_case(f"{LONG_SENTENCE:,}-token sentence", fmt, long_sentence))
        # one enormous line: a clear error, never read whole
        size, limit = (BIG_LINE_BYTES, None) if big else (SMALL_LINE_BYTES, SMALL_LIMIT)

        def write_line(path: Path, size: int = size) -> None:
            block = b"x" * (1 << 20)
            with open(path, "wb") as out:
                for _ in range(size // len(block)):
                    out.write(block)
                out.write(b"\n")

        label = f"{size >> 20} MB single line" if size < 1 << 30 else f"{size >> 30} GB single line"
        yield case(
            Case(label, "", write_line, error_line=1, message="longer than the limit", limit=limit, child=big)
        )


# -- running ----------------------------------------------------------------------------------------


class _Hang(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise _Hang(f"no result after {seconds} s")

    if not hasattr(signal, "SIGALRM"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _judge(
    case: Case, path: Path, result: list[Any] | None, error: BaseException | None
) -> tuple[bool, bool, int, str]:
    """(as documented, crashed, sentences lost, outcome text)."""
    if error is not None and not isinstance(error, PolytagError):
        return False, True, case.sentences or 0, f"CRASH {type(error).__name__}: {str(error)[:120]}"
    if error is not None:
        outcome = f"{type(error).__name__}: {str(error)[:140]}"
        if case.sentences is not None:
            return False, False, case.sentences, outcome
        ok = isinstance(error, FormatError) and error.path == str(path)
        if case.error_line not in (None, 0):
            ok = ok and error.line == (None if case.error_line == -1 else case.error_line)
        ok = ok and case.message in error.message
        return ok, False, 0, outcome
    assert result is not None
    got = len(result)
    outcome = f"read {got} sentence(s)"
    if case.sentences is None:
        return False, False, 0, outcome + " (expected an error)"
    lost = max(0, case.sentences - got)
    ok = got == case.sentences
    if ok and case.tokens is not None:
        same = [[t.text for t in s] for s in result] == case.tokens
        ok = same
        outcome += "" if same else ", tokens differ"
    if ok and case.visible is not None:
        seen = ["".join(ch for ch in "".join(t.text for t in s) if not ch.isspace()) for s in result]
        ok = seen == case.visible
        outcome += "" if ok else ", characters differ"
    return ok, False, lost, outcome


def _run_child(case: Case, path: Path) -> tuple[list[Any] | None, BaseException | None, float]:
    """Run one case in a child process; returns what it raised (rebuilt) and its peak RSS in MB."""
    code = (
        "import json, resource, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "import robustness_inputs as r\n"
        "from pathlib import Path\n"
        "fmt, fn = r.READERS[sys.argv[2]]\n"
        "out = {}\n"
        "try:\n"
        "    out['sentences'] = len(fn(Path(sys.argv[3]), int(sys.argv[4]) or None))\n"
        "except r.FormatError as exc:\n"
        "    out['format_error'] = [exc.path, exc.line, exc.message]\n"
        "except BaseException as exc:\n"
        "    out['crash'] = f'{type(exc).__name__}: {exc}'[:300]\n"
        # VmHWM is this process's own peak; ru_maxrss would include the parent's peak (kept across exec)
        "try:\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "    out['rss_mb'] = int(status.split()[0]) / 1024\n"
        "except (OSError, IndexError):\n"
        "    out['rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(Path(__file__).parent),
            case.reader,
            str(path),
            str(case.limit or 0),
        ],
        capture_output=True,
        text=True,
        timeout=CASE_SECONDS,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        return None, RuntimeError(f"child failed ({proc.returncode}): {proc.stderr[-300:]}"), 0.0
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if "crash" in out:
        return None, RuntimeError(out["crash"]), out["rss_mb"]
    if "format_error" in out:
        p, line, message = out["format_error"]
        return None, FormatError(p, line, message), out["rss_mb"]
    return [None] * out["sentences"], None, out["rss_mb"]


def run(workdir: Path, big: bool = True) -> dict[str, Any]:
    """Try every case; the contract of bench/robustness.py (counts and one row per case)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    totals = {"inputs_tried": 0, "as_documented": 0, "crashes": 0, "sentences_lost": 0}
    written: dict[str, Path] = {}
    for index, case in enumerate(cases(big)):
        fmt = READERS[case.reader][0]
        if callable(case.data):
            path = written.get(case.input)
            if path is None:  # the big line is written once, read by every reader
                path = written[case.input] = workdir / f"big-line-{case.input.split()[0]}.txt"
                case.data(path)
        else:
            path = workdir / f"case{index:03d}.{fmt}"
            path.write_bytes(case.data)
        result: list[Any] | None = None
        error: BaseException | None = None
        rss = None
        try:
            if case.child:
                result, error, rss = _run_child(case, path)
            else:
                with _deadline(CASE_SECONDS):
                    result = READERS[case.reader][1](path, case.limit)
        except BaseException as exc:  # noqa: BLE001 - a crash is what this counts
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = exc
        ok, crashed, lost, outcome = _judge(case, path, result, error)
        if rss is not None:
            outcome += f"; peak RSS {rss:.0f} MB"
            if rss >= RSS_LIMIT_MB:
                ok = False
                outcome += f" (limit {RSS_LIMIT_MB} MB)"
        if not callable(case.data):
            path.unlink()
        totals["inputs_tried"] += 1
        totals["as_documented"] += ok
        totals["crashes"] += crashed
        totals["sentences_lost"] += lost
        rows.append(
            {
                "input": case.input,
                "reader": case.reader,
                "expected": case.expected,
                "outcome": outcome,
                "ok": bool(ok),
            }
        )
    for path in written.values():
        path.unlink()
    return {**totals, "rows": rows}


def print_table(report: dict[str, Any]) -> None:
    rows = report["rows"]
    widths = [max(len(r[k]) for r in rows) for k in ("input", "reader", "expected")]
    for r in rows:
        mark = "ok " if r["ok"] else "BAD"
        print(
            f"{mark} {r['input']:<{widths[0]}}  {r['reader']:<{widths[1]}}  "
            f"{r['expected']:<{widths[2]}}  {r['outcome']}"
        )
    print()
    print(f"inputs tried:   {report['inputs_tried']}")
    print(f"as documented:  {report['as_documented']}")
    print(f"crashes:        {report['crashes']}")
    print(f"sentences lost: {report['sentences_lost']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", help="where the input files are written (default: a temporary folder)")
    parser.add_argument(
        "--small", action="store_true", help="a 20 MB line with a 1 MiB limit instead of 1 GB"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = run(Path(args.workdir or tmp), big=not args.small)
    print_table(report)
    good = (
        report["as_documented"] == report["inputs_tried"]
        and not report["crashes"]
        and not report["sentences_lost"]
    )
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
