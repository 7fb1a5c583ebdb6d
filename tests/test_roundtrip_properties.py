"""Property tests over every format: read -> write -> read is the identity, and random bytes only ever
raise polytag's own errors.

Tokens are drawn from all of Unicode except whitespace, NUL and surrogates, with extra weight on the
hard cases: zero-width and format characters (U+200B, U+200D, U+2060, U+FEFF), right-to-left text and
marks, emoji with ZWJ sequences and flags, combining marks and control characters.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytag.cli.inputs import iter_input
from polytag.data import Sentence
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
    write_column_file,
    write_conllu_file,
    write_csv_file,
    write_fasttext_file,
    write_jsonl_file,
)
from tests.strategies import non_overlapping_spans

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SPECIAL = st.sampled_from(
    [
        "\u200b",
        "a\u200db",
        "\u2060x",
        "\ufeff",
        "\ufeffstart",
        "\u202eevil",
        "\u200f",
        "שלום",
        "مرحبا",
        "😀",
        "👩\u200d👩\u200d👧",
        "🇩🇪",
        "👍🏽",
        "e\u0301",
        "\x07",
        "\x1b[0m",
        "\x7f",
        "\u00ad",
        "O",
        "_",
        "#",
        '"',
        ",",
    ]
)
CHARS = st.characters(blacklist_categories=("Cs",)).filter(lambda c: not c.isspace() and c != "\x00")
TOKEN = st.one_of(st.text(CHARS, min_size=1, max_size=6), SPECIAL).filter(lambda t: t != "-DOCSTART-")
TYPES = st.sampled_from(["PER", "LOC", "ORG", "ü", "😀", "I-X", "B"])
FMT = {0: "text", 1: "pos", 2: "ner"}


@st.composite
def tagged_sentences(draw: st.DrawFn) -> list[Sentence]:
    sentences = []
    for doc in range(draw(st.integers(1, 2))):
        for _ in range(draw(st.integers(1, 3))):
            forms = draw(st.lists(TOKEN, min_size=1, max_size=8))
            sentence = Sentence.from_tokens(forms)
            for token in sentence:
                token.add_label("pos", draw(TOKEN))
            for start, end, typ in draw(non_overlapping_spans(len(forms), TYPES, max_gap=2, max_length=3)):
                sentence[start:end].add_label("ner", typ)
            sentence.document_id = f"d{doc}"
            sentences.append(sentence)
    return sentences


def column_view(sentences: list[Sentence]) -> list[tuple]:
    return [
        (
            [t.text for t in s],
            [t.get_label("pos").value for t in s],
            [(x.start, x.end, x.get_label("ner").value) for x in s.get_spans("ner")],
        )
        for s in sentences
    ]


def _files() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory()


def _write_read_twice(
    sentences: list[Sentence],
    suffix: str,
    write: Callable[[Path, list[Sentence]], None],
    read: Callable[[Path], list[Sentence]],
    lazy: Callable[[Path], Any] | None = None,
) -> tuple[list[Sentence], list[Sentence], list[Sentence] | None]:
    """Write, read, write what was read, read again (and lazily, when given); the two files must be
    byte-identical. Returns the two reads and the lazy one."""
    with _files() as folder:
        first, second = Path(folder) / f"a{suffix}", Path(folder) / f"b{suffix}"
        write(first, sentences)
        read1 = read(first)
        write(second, read1)
        read2 = read(second)
        lazy_read = list(lazy(second)) if lazy is not None else None
        assert first.read_bytes() == second.read_bytes()
    return read1, read2, lazy_read


@SETTINGS
@given(
    sentences=tagged_sentences(), scheme=st.sampled_from(["BIO", "BIOES"]), sep=st.sampled_from(["\t", " "])
)
def test_column_read_write_read_is_identity(sentences: list[Sentence], scheme: str, sep: str) -> None:
    read1, read2, lazy = _write_read_twice(
        sentences,
        ".txt",
        lambda path, data: write_column_file(path, data, FMT, tag_scheme=scheme, separator=sep),
        lambda path: read_column_file(path, FMT, span_layers=["ner"]),
        lambda path: IndexedColumnFile(path, FMT, span_layers=["ner"]),
    )
    assert column_view(sentences) == column_view(read1) == column_view(read2) == column_view(lazy)
    assert [s.document_id for s in read2] == [s.document_id for s in lazy]


CONLLU_VALUE = st.text(CHARS, min_size=1, max_size=5)
META_VALUE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=10
).map(lambda v: "".join(ch for ch in v if not ch.isspace() or ch == " ").strip().replace(" = ", " "))


@st.composite
def conllu_sentences(draw: st.DrawFn) -> list[Sentence]:
    sentences = []
    for doc in range(draw(st.integers(1, 2))):
        for _ in range(draw(st.integers(1, 3))):
            forms = draw(st.lists(TOKEN, min_size=1, max_size=8))
            spaces = draw(st.lists(st.integers(0, 1), min_size=len(forms), max_size=len(forms)))
            sentence = Sentence.from_tokens(forms, spaces)
            for layer in ("lemma", "upos", "pos", "head", "deprel"):
                for token in sentence:
                    token.add_label(layer, draw(CONLLU_VALUE))
            sentence.metadata["sent_id"] = draw(META_VALUE)
            sentence.document_id = f"doc{doc}"
            sentences.append(sentence)
    return sentences


def conllu_view(sentences: list[Sentence]) -> list[tuple]:
    layers = ("lemma", "upos", "pos", "head", "deprel")
    return [
        (
            [(t.text, t.whitespace_after) for t in s],
            [[t.get_label(layer).value for t in s] for layer in layers],
            s.metadata.get("sent_id"),
            s.document_id,
        )
        for s in sentences
    ]


@SETTINGS
@given(sentences=conllu_sentences())
def test_conllu_read_write_read_is_identity(sentences: list[Sentence]) -> None:
    read1, read2, lazy = _write_read_twice(
        sentences, ".conllu", write_conllu_file, read_conllu_file, IndexedConlluFile
    )
    assert conllu_view(sentences) == conllu_view(read1) == conllu_view(read2) == conllu_view(lazy)
    assert [s.metadata for s in read1] == [s.metadata for s in read2]


@SETTINGS
@given(sentences=tagged_sentences(), scores=st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=3))
def test_jsonl_read_write_read_is_identity(sentences: list[Sentence], scores: list[float]) -> None:
    for i, sentence in enumerate(sentences):
        sentence.add_label("class", "x\u200by", scores[i % len(scores)])
        sentence.metadata["note"] = "\x00\x07\u202e"  # written escaped, read back as is
    read1, read2, lazy = _write_read_twice(
        sentences, ".jsonl", write_jsonl_file, read_jsonl_file, IndexedJsonlFile
    )
    want = [s.to_dict() for s in sentences]
    assert want == [s.to_dict() for s in read1] == [s.to_dict() for s in read2] == [s.to_dict() for s in lazy]


LABEL = st.text(CHARS, min_size=1, max_size=6)
CSV_LABEL = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"), min_size=1, max_size=6
)


@st.composite
def texts(draw: st.DrawFn) -> list[str]:
    """Lines of text: tokens joined by single spaces."""
    return [" ".join(draw(st.lists(TOKEN, min_size=1, max_size=8))) for _ in range(draw(st.integers(1, 4)))]


def label_view(sentences: list[Sentence], layer: str = "class") -> list[tuple]:
    return [([t.text for t in s], [lab.value for lab in s.get_labels(layer)]) for s in sentences]


def visible(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


@SETTINGS
@given(lines=texts(), labels=st.lists(st.lists(LABEL, max_size=3), min_size=4, max_size=4))
def test_fasttext_read_write_read_is_identity(lines: list[str], labels: list[list[str]]) -> None:
    lines = [line for line in lines if not line.startswith("__label__")] or ["x"]
    with _files() as folder:
        first, second = Path(folder) / "a.txt", Path(folder) / "b.txt"
        first.write_text(  # a BOM first: a line that starts with U+FEFF keeps it
            "\ufeff"
            + "".join(
                " ".join(["__label__" + v for v in labels[i]] + [line]) + "\n" for i, line in enumerate(lines)
            ),
            encoding="utf-8",
        )
        read1 = read_fasttext_file(first)
        write_fasttext_file(second, read1)
        read2 = read_fasttext_file(second)
    assert label_view(read1) == label_view(read2)
    assert [lab for lab, _ in zip(labels, lines)] == [v for _, v in label_view(read1)]
    assert ["".join(t.text for t in s) for s in read1] == [visible(line) for line in lines]  # nothing lost


@SETTINGS
@given(lines=texts(), labels=st.lists(CSV_LABEL, min_size=4, max_size=4), header=st.booleans())
def test_csv_read_write_read_is_identity(lines: list[str], labels: list[str], header: bool) -> None:
    columns = {0: "label", 1: "text"}
    sentences = []
    for line, label in zip(lines, labels):
        sentence = Sentence(line)
        sentence.add_label("class", label)
        sentences.append(sentence)
    read1, read2, _ = _write_read_twice(
        sentences,
        ".csv",
        lambda path, data: write_csv_file(path, data, columns, header=header),
        lambda path: read_csv_file(path, columns, skip_header=header),
    )
    assert label_view(sentences) == label_view(read1) == label_view(read2)


# -- random bytes: polytag's own errors only ------------------------------------------------------

VALID_SAMPLES = {
    "column": b"John\tB-PER\nSmith\tI-PER\n\n-DOCSTART-\tO\n\nHi\tO\n",
    "conllu": b"# newdoc id = d\n# text = Hi there\n1-2\tHi\t_\t_\t_\t_\t_\t_\t_\t_\n"
    b"1\tHi\t_\t_\t_\t_\t0\t_\t_\t_\n"
    b"2\tthere\t_\t_\t_\t_\t1\t_\t_\tSpaceAfter=No\n2.1\tx\t_\t_\t_\t_\t_\t_\t_\t_\n\n",
    "jsonl": b'{"text": "Hi there", "labels": ["x"], "spans": [{"start": 0, "end": 1, "value": "P"}]}\n'
    b'{"tokens": [{"text": "a", "start": 0, "ws": 1}], "token_labels": {"pos": [[0, "X", 1.0]]}}\n',
    "fasttext": b"__label__a __label__b Hi there\n__label__c Bye\n",
    "csv": b'a,"Hi, there"\nb,"multi\nline"\n',
    "text": b"Hi there. This is text.\n\nMore.\n",
}
READERS = {
    "column": lambda p: read_column_file(p, {0: "text", 1: "ner"}),
    "column-lazy": lambda p: list(IndexedColumnFile(p, {0: "text", 1: "ner"})),
    "column-declared": lambda p: read_column_file(p, {0: "text", 1: "ner"}, span_layers=["ner"]),
    "conllu": read_conllu_file,
    "conllu-lazy": lambda p: list(IndexedConlluFile(p)),
    "jsonl": read_jsonl_file,
    "jsonl-lazy": lambda p: list(IndexedJsonlFile(p)),
    "fasttext": read_fasttext_file,
    "csv": lambda p: read_csv_file(p, {0: "label", 1: "text"}),
    "text": lambda p: list(iter_input(p, "text")),
}


@st.composite
def hostile_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    """A reader and either random bytes or one of its valid samples with a random splice."""
    reader = draw(st.sampled_from(sorted(READERS)))
    if draw(st.booleans()):
        return reader, draw(st.binary(max_size=200))
    sample = VALID_SAMPLES[reader.split("-")[0]]
    start = draw(st.integers(0, len(sample)))
    end = draw(st.integers(start, min(len(sample), start + 8)))
    splice = draw(
        st.one_of(st.binary(max_size=6), st.sampled_from([b"\t", b"\n", b"\r", b"\x00", b"\xff", b'"', b"{"]))
    )
    return reader, sample[:start] + splice + sample[end:]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile_bytes())
def test_random_bytes_raise_only_polytag_errors(case: tuple[str, bytes]) -> None:
    reader, data = case
    with _files() as folder:
        path = Path(folder) / "in.data"
        path.write_bytes(data)
        try:
            sentences = READERS[reader](path)
        except PolytagError as exc:  # the only kind allowed out; it names the file
            assert str(path) in str(exc) or "<input>" in str(exc)
        else:
            for sentence in sentences:  # what was read is usable
                assert all(t.text for t in sentence)


def test_csv_writer_refuses_a_label_with_a_line_break(tmp_path: Path) -> None:
    """Found by the round-trip property: such a file could not be read back."""
    sentence = Sentence("hello")
    sentence.add_label("class", "a\rb")
    with pytest.raises(FormatError, match="line break"):
        write_csv_file(tmp_path / "x.csv", [sentence])
    assert not (tmp_path / "x.csv").exists()
