"""Readers bound memory per sentence: a cap on tokens, checked before any per-token object is built."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polytag.cli.inputs import iter_input, iter_text_file
from polytag.data import tokenize
from polytag.errors import FormatError
from polytag.formats import (
    MAX_SENTENCE_TOKENS,
    IndexedColumnFile,
    IndexedConlluFile,
    IndexedJsonlFile,
    read_column_file,
    read_conllu_file,
    read_csv_file,
    read_fasttext_file,
    read_jsonl_file,
)
from polytag.formats.limits import count_tokens

ROOT = Path(__file__).resolve().parents[1]


def _conllu(n: int) -> str:
    return "".join(f"{i}\tw\tw\tX\tX\t_\t0\tdep\t_\t_\n" for i in range(1, n + 1)) + "\n"


# name -> (file name, content of a file whose line 2 (or sentence on line 2) has `n` tokens, reader)
READERS: dict[str, tuple[str, Callable[[int], str], Callable[..., Any]]] = {
    "fasttext": ("a.txt", lambda n: "__label__x ok\n__label__y " + "w " * n + "\n", read_fasttext_file),
    "jsonl simple": (
        "a.jsonl",
        lambda n: '{"text": "ok"}\n' + json.dumps({"text": "w " * n}) + "\n",
        read_jsonl_file,
    ),
    "jsonl full": (
        "a.jsonl",
        lambda n: '{"text": "ok"}\n' + json.dumps({"tokens": ["w"] * n}) + "\n",
        read_jsonl_file,
    ),
    "jsonl index": (
        "a.jsonl",
        lambda n: '{"text": "ok"}\n' + json.dumps({"text": "w " * n}) + "\n",
        lambda path, **kw: list(IndexedJsonlFile(path, **kw)),
    ),
    "csv": (
        "a.csv",
        lambda n: "ok,x\n" + "w " * n + ",y\n",
        lambda p, **kw: read_csv_file(p, {0: "text", 1: "label"}, **kw),
    ),
    "plain text": (
        "a.txt",
        lambda n: "ok\n" + "w " * n + "\n",
        lambda p, **kw: list(iter_text_file(p, **kw)),
    ),
    "column": (
        "a.conll",
        lambda n: "ok\tO\n\n" + "w\tO\n" * n,
        lambda p, **kw: read_column_file(p, {0: "text", 1: "x"}, **kw),
    ),
    "column index": (
        "a.conll",
        lambda n: "ok\tO\n\n" + "w\tO\n" * n,
        lambda p, **kw: list(IndexedColumnFile(p, {0: "text", 1: "x"}, **kw)),
    ),
    "conllu": ("a.conllu", lambda n: _conllu(1) + _conllu(n), read_conllu_file),
    "conllu index": (
        "a.conllu",
        lambda n: _conllu(1) + _conllu(n),
        lambda p, **kw: list(IndexedConlluFile(p, **kw)),
    ),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_token_cap_is_exact_and_names_file_line_and_cap(tmp_path: Path, reader: str) -> None:
    name, content, read = READERS[reader]
    path = tmp_path / name
    path.write_text(content(50), encoding="utf-8")
    sentences = read(path, max_sentence_tokens=50)  # exactly at the cap: read
    assert max(len(s) for s in sentences) == 50
    path.write_text(content(51), encoding="utf-8")
    with pytest.raises(FormatError, match="more than 50 tokens in one sentence") as info:
        read(path, max_sentence_tokens=50)
    assert info.value.path == str(path)
    # the offending sentence starts on line 2 (3 for the column file); its row that passes the cap is later
    assert info.value.line is not None and info.value.line >= 2


def test_labels_count_towards_the_fasttext_cap(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("__label__a " * 11 + "text\n", encoding="utf-8")
    with pytest.raises(FormatError, match="more than 10 tokens") as info:
        read_fasttext_file(path, max_sentence_tokens=10)
    assert info.value.line == 1


def test_a_json_line_with_too_many_values_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps({"text": "a", "metadata": {"k": [0] * 400}}) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match="more than 320 values") as info:
        read_jsonl_file(path, max_sentence_tokens=10)
    assert info.value.line == 1
    assert len(read_jsonl_file(path, max_sentence_tokens=100)) == 1  # 400 commas are fine for 100 tokens


def test_the_cli_input_streams_pass_the_cap_on(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"text": "w " * 20}) + "\n", encoding="utf-8")
    with pytest.raises(FormatError, match="more than 10 tokens"):
        list(iter_input(path, "jsonl", max_sentence_tokens=10))
    assert len(list(iter_input(path, "jsonl"))[0]) == 20


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Smith doesn't like U.S. e-mail: a@b.com, 3.14 or http://x.org/a.",
        "!!!" * 30000,
        "a" * 200000 + " b c",
    ],
)
def test_token_counting_agrees_with_the_tokenizer(text: str) -> None:
    n = len(tokenize(text))
    cuts = max(len(run) for run in text.split()) // (1 << 16)  # runs of over 64K characters are cut
    assert n <= count_tokens(text, n + 10) <= n + cuts
    assert count_tokens(text, n // 2) > n // 2  # stops early, but past the limit
    assert count_tokens(text, 10**9, use_tokenizer=False) == len(text.split())


@pytest.mark.parametrize("reader", ["fasttext", "jsonl simple", "jsonl full", "plain text"])
def test_a_4_mb_line_is_refused_with_a_small_peak(tmp_path: Path, reader: str) -> None:
    name, content, read = READERS[reader]
    path = tmp_path / name
    words = (4 << 20) // (5 if reader == "jsonl full" else 2)  # `w ` or `"w", ` a token: a 4 MB line
    path.write_text(content(words), encoding="utf-8")
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=f"more than {MAX_SENTENCE_TOKENS:,} tokens|values"):
            read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20  # a few copies of the line, not 2M tokens (650-880 MB before the cap)


_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
    from polytag.cli.inputs import iter_text_file
    from polytag.errors import FormatError
    from polytag.formats import read_fasttext_file, read_jsonl_file
    folder = Path(sys.argv[1])
    words = "a " * (25 << 20)  # one 50 MB line: 26 million tokens
    files = {
        "fasttext": ("big.txt", "__label__x " + words, read_fasttext_file),
        "jsonl": ("big.jsonl", json.dumps({"text": words}), read_jsonl_file),
        "jsonl tokens": ("big2.jsonl", json.dumps({"tokens": ["a"] * (12 << 20)}), read_jsonl_file),
        "plain text": ("big.text", words, lambda p: list(iter_text_file(p))),
    }
    del words
    for name, (file, text, read) in files.items():
        path = folder / file
        path.write_text(text + "\\n", encoding="utf-8")
        files[name] = (file, None, read)
        del text
        try:
            read(path)
            print(name, "read")
        except FormatError as exc:
            print(name, "FormatError", exc.line, "max_sentence_tokens" in str(exc))
        except MemoryError:
            print(name, "MemoryError")
        path.unlink()
    """
)


def test_a_50_mb_line_is_refused_under_a_1_5_gb_address_space_limit(tmp_path: Path) -> None:
    if not hasattr(os, "fork") or sys.platform != "linux":
        pytest.skip("RLIMIT_AS is checked on Linux")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tmp_path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.split("\n")
    for name in ("fasttext", "jsonl", "jsonl tokens", "plain text"):
        assert f"{name} FormatError 1 True" in lines, result.stdout


@pytest.mark.slow
def test_the_robustness_rows_of_the_format_readers_are_all_ok(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "robustness_formats", ROOT / "bench" / "robustness_formats.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.run(tmp_path)
    assert rows and {row["point"] for row in rows} == {8}
    assert all(row["ok"] for row in rows), [row for row in rows if not row["ok"]]
    data = [p for p in tmp_path.rglob("*") if p.suffix in {".txt", ".jsonl", ".fasttext"}]
    assert all(p.stat().st_size < 1 << 20 for p in data)  # the long-line files are removed
