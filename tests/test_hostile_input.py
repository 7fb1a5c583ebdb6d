"""Bad input against every reader: a clear FormatError naming file and line, or a correct reading.

The whole table of bench/robustness_inputs.py runs here with its small settings (a 20 MB line read with
a 1 MiB limit instead of 1 GB); the targeted tests below pin the details (line numbers, what was kept,
bounded memory, the CLI's standard input).
"""

from __future__ import annotations

import importlib.util
import io
import logging
import sys
import tracemalloc
from pathlib import Path

import pytest

from polytag.cli.inputs import iter_input, iter_text_file
from polytag.errors import FormatError
from polytag.formats import (
    IndexedColumnFile,
    IndexedConlluFile,
    IndexedJsonlFile,
    read_column_file,
    read_conllu_file,
    read_csv_file,
    read_fasttext_file,
    read_jsonl_file,
    write_column_file,
)
from polytag.formats.textio import iter_line_chunks

FMT = {0: "text", 1: "ner"}
BENCH = Path(__file__).resolve().parents[1] / "bench" / "robustness_inputs.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("robustness_inputs", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["robustness_inputs"] = module
    spec.loader.exec_module(module)
    return module


def test_every_hostile_input_gets_its_documented_outcome(tmp_path: Path) -> None:
    report = _bench_module().run(tmp_path, big=False)
    bad = [row for row in report["rows"] if not row["ok"]]
    assert not bad, "\n".join(
        f"{r['input']} / {r['reader']}: expected {r['expected']}, got {r['outcome']}" for r in bad
    )
    assert report["crashes"] == 0 and report["sentences_lost"] == 0
    assert report["as_documented"] == report["inputs_tried"] > 150
    readers = {row["reader"] for row in report["rows"]}
    assert {"column", "conllu", "jsonl", "fasttext", "csv", "cli predict (text)"} <= readers
    assert list(tmp_path.iterdir()) == []  # the bench cleans up after itself


# -- long lines: a clear error after about max_line_bytes, never the whole line in memory ----------


def _long_line_file(path: Path, size: int, prefix: bytes = b"", suffix: bytes = b"\n") -> Path:
    block = b"y" * (1 << 20)
    with open(path, "wb") as out:
        out.write(prefix)
        for _ in range(size // len(block)):
            out.write(block)
        out.write(suffix)
    return path


@pytest.mark.parametrize(
    "reader",
    [
        lambda p, n: read_column_file(p, FMT, max_line_bytes=n),
        lambda p, n: IndexedColumnFile(p, FMT, max_line_bytes=n),
        lambda p, n: read_conllu_file(p, max_line_bytes=n),
        lambda p, n: IndexedConlluFile(p, max_line_bytes=n),
        lambda p, n: read_jsonl_file(p, max_line_bytes=n),
        lambda p, n: IndexedJsonlFile(p, max_line_bytes=n),
        lambda p, n: read_fasttext_file(p, max_line_bytes=n),
        lambda p, n: read_csv_file(p, {0: "label", 1: "text"}, max_line_bytes=n),
        lambda p, n: list(iter_text_file(p, max_line_bytes=n)),
    ],
    ids=["column", "column-lazy", "conllu", "conllu-lazy", "jsonl", "jsonl-lazy", "fasttext", "csv", "text"],
)
def test_a_20_mb_line_stops_at_the_limit_in_bounded_memory(tmp_path: Path, reader) -> None:
    path = _long_line_file(tmp_path / "long.txt", 20 << 20, prefix=b"\n \n\n")  # the long line is line 4
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match="longer than the limit of 1,048,576 bytes") as info:
            reader(path, 1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.path == str(path) and info.value.line == 4
    assert peak < 8 << 20  # a few MiB, not the 20 MiB line


@pytest.mark.parametrize("length", [1000, 1001])
def test_the_line_limit_is_exact(tmp_path: Path, length: int) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"a\tO\n" + b"x" * (length - 2) + b"\tO\n")  # line 2 is `length` bytes long
    for read in (
        lambda: read_column_file(path, FMT, max_line_bytes=1000),
        lambda: list(IndexedColumnFile(path, FMT, max_line_bytes=1000)),
    ):
        if length <= 1000:
            assert len(read()) == 1
        else:
            with pytest.raises(FormatError, match="longer than the limit") as info:
                read()
            assert info.value.line == 2


def test_line_chunks_cross_read_boundaries_without_losing_lines(tmp_path: Path) -> None:
    lines = [("w" * (i % 37)) + str(i) for i in range(3000)]
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline
    got = []
    for first, chunk in iter_line_chunks(path, chunk_bytes=97, max_line_bytes=200):
        assert first == len(got) + 1
        got.extend(chunk)
    assert got == lines


# -- details of the byte-level rules ---------------------------------------------------------------


def test_bom_is_dropped_only_at_the_start_and_crlf_reads_as_lf(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbfJohn\tB-PER\r\nSmith\tI-PER\r\n\r\nmid\xef\xbb\xbfdle\tO\r\n")
    for sentences in (read_column_file(path, FMT), list(IndexedColumnFile(path, FMT))):
        assert [[t.text for t in s] for s in sentences] == [["John", "Smith"], ["mid\ufeffdle"]]
        assert [(s.text, s.tag) for s in sentences[0].get_spans("ner")] == [("John Smith", "PER")]


def test_a_token_starting_with_a_bom_survives_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeff\ufeffodd\tO\n".encode())
    sentences = read_column_file(path, FMT)
    assert sentences[0][0].text == "\ufeffodd"
    write_column_file(path, sentences, FMT, document_separator_token=None)
    assert read_column_file(path, FMT)[0][0].text == "\ufeffodd"


def test_spaces_around_tab_separated_fields_are_dropped_and_inner_spaces_kept(tmp_path: Path) -> None:
    path = tmp_path / "c.tsv"
    path.write_text("John \t B-PER\nNew York\tB-LOC \n", encoding="utf-8")
    sentence = read_column_file(path, FMT)[0]
    assert [t.text for t in sentence] == ["John", "New York"]
    assert [s.tag for s in sentence.get_spans("ner")] == ["PER", "LOC"]


@pytest.mark.parametrize(
    "data, line, message",
    [
        (b"a\tO\nb\tO\rc\tO\n", 2, "carriage return"),
        (b"a\tO\n\nb\x00\tO\n", 3, "NUL byte"),
        (b"a\tO\n\n\nb\t\tO\n", 4, "empty field"),
        (b"a\tO\n\xff\tO\n", 2, "cannot be decoded"),
    ],
)
def test_byte_problems_name_file_and_line_in_both_column_readers(tmp_path: Path, data, line, message) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(data)
    for read in (lambda: read_column_file(path, FMT), lambda: list(IndexedColumnFile(path, FMT))):
        with pytest.raises(FormatError, match=message) as info:
            read()
        assert (info.value.path, info.value.line) == (str(path), line)


def test_a_tag_scheme_violation_is_repaired_and_logged_not_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "c.txt"
    path.write_text("a\tO\nb\tI-PER\nc\tO\n\nd\tB-LOC\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="polytag"):
        sentences = read_column_file(path, FMT, tag_scheme="BIO")
    assert [[(s.text, s.tag) for s in x.get_spans("ner")] for x in sentences] == [
        [("b", "PER")],
        [("d", "LOC")],
    ]
    assert "repaired 1 invalid tag" in caplog.text


def test_conllu_empty_field_and_unicode_digit_id_raise(tmp_path: Path) -> None:
    path = tmp_path / "x.conllu"
    path.write_text("1\ta\t\t_\t_\t_\t_\t_\t_\t_\n", encoding="utf-8")
    with pytest.raises(FormatError, match="empty LEMMA") as info:
        read_conllu_file(path)
    assert info.value.line == 1
    path.write_text("1\ta\t_\t_\t_\t_\t_\t_\t_\t_\n²\tb\t_\t_\t_\t_\t_\t_\t_\t_\n", encoding="utf-8")
    with pytest.raises(FormatError, match="ID '²'") as info:
        read_conllu_file(path)
    assert info.value.line == 2


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"text": "a", "labels": [{"value": "x", "score": 1' + "0" * 400 + "}]}", "OverflowError"),
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ('{"text": "a\\udc00"}', "surrogate"),
        ('{"tokens": [{"text": 5}]}', "token 0"),
        ('{"tokens": ["a"], "labels": {"c": [{"value": 1}]}}', "labels"),
        ('{"tokens": ["a"], "document_id": 3}', "document_id"),
        ('{"text": "a", "metadata": [1]}', "metadata"),
        ('{"text": "a\tb"}', "invalid JSON"),
    ],
)
def test_jsonl_hostile_objects_raise_format_errors(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    for read in (lambda: read_jsonl_file(path), lambda: list(IndexedJsonlFile(path))):
        with pytest.raises(FormatError, match=message) as info:
            read()
        assert info.value.line == 2


def test_jsonl_escaped_emoji_pairs_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "hi \\ud83d\\ude00"}\n', encoding="utf-8")
    assert [t.text for t in read_jsonl_file(path)[0]] == ["hi", "😀"]


def test_csv_unclosed_quote_names_the_record_and_whitespace_lines_are_blank(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,"one"\n  \nb,"two\nc,three\n', encoding="utf-8")
    with pytest.raises(FormatError, match="unexpected end of data") as info:
        read_csv_file(path, {0: "label", 1: "text"})
    assert info.value.line == 3
    path.write_text('a,"one"\n  \nb,"two\r\nlines"\r\n', encoding="utf-8")
    sentences = read_csv_file(path, {0: "label", 1: "text"})
    assert [s.get_label("class").value for s in sentences] == ["a", "b"]
    assert [t.text for t in sentences[1]] == ["two", "lines"]


# -- the CLI's input ---------------------------------------------------------------------------------


def test_cli_text_input_keeps_unusual_characters_and_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_bytes("\ufeffשלום עולם\r\n\r\n\u200bzero \x07bell 👩\u200d👩\u200d👧\n".encode())
    sentences = list(iter_input(path, "text"))
    assert [s.document_id for s in sentences] == ["line-1", "line-3"]
    assert [t.text for t in sentences[0]] == ["שלום", "עולם"]
    assert "".join(t.text for t in sentences[1]) == "\u200bzero\x07bell👩\u200d👩\u200d👧"


def test_cli_stdin_errors_name_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = io.BytesIO(b"fine line\nbad \xff byte\n")

    monkeypatch.setattr(sys, "stdin", Stdin())
    with pytest.raises(FormatError, match="cannot be decoded") as info:
        list(iter_text_file("-"))
    assert (info.value.path, info.value.line) == ("<stdin>", 2)
    monkeypatch.setattr(sys, "stdin", io.StringIO("one line\n\nanother\n"))
    assert [s.document_id for s in iter_text_file("-")] == ["line-1", "line-3"]


@pytest.mark.parametrize(
    "fmt, data, line",
    [
        ("conllu", "1\ta\t_\t_\t_\t_\t_\t_\t_\t_\n2 b _ _ _ _ _ _ _ _\n", 2),
        ("jsonl", '{"text": "a"}\n\n{"text": \n', 3),
        ("column", "a\nb\n\n\x00\n", 4),
        ("text", "a\nb\rc\n", 2),
    ],
)
def test_cli_predict_input_errors_name_file_and_line(tmp_path: Path, fmt: str, data: str, line: int) -> None:
    path = tmp_path / f"in.{fmt}"
    path.write_text(data, encoding="utf-8", newline="")
    with pytest.raises(FormatError) as info:
        list(iter_input(path, fmt))
    assert (info.value.path, info.value.line) == (str(path), line)
