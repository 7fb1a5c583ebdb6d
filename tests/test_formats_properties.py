"""Property tests: writing then reading gives the same annotations; tokenizer offsets index the text."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from polytag.data import Sentence, tokenize
from polytag.formats import read_column_file, read_jsonl_file, write_column_file, write_jsonl_file
from tests.strategies import non_overlapping_spans

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# printable characters without whitespace or control/format characters (those cannot be column fields)
VISIBLE = st.characters(whitelist_categories=("L", "M", "N", "P", "S"))
WORD = st.text(VISIBLE, min_size=1, max_size=8).filter(lambda w: w != "-DOCSTART-")
TYPES = st.sampled_from(["PER", "LOC", "ORG", "MISC", "B", "I-X", "Wikipedia_Title_(x)", "ü"])
FMT = {0: "text", 1: "pos", 2: "ner", 3: "np"}
SPAN_LAYERS = ("ner", "np")


@st.composite
def column_sentences(draw: st.DrawFn) -> list[Sentence]:
    sentences = []
    n_docs = draw(st.integers(1, 3))
    for doc in range(n_docs):
        for _ in range(draw(st.integers(1, 3))):
            forms = draw(st.lists(WORD, min_size=1, max_size=10))
            sentence = Sentence.from_tokens(forms)
            for token in sentence:
                token.add_label("pos", draw(WORD))
            for layer in SPAN_LAYERS:
                for start, end, typ in draw(non_overlapping_spans(len(forms), TYPES)):
                    sentence[start:end].add_label(layer, typ)
            sentence.document_id = f"doc{doc}"
            sentences.append(sentence)
    return sentences


def span_view(sentence: Sentence, layer: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.get_label(layer).value) for s in sentence.get_spans(layer)]


def column_view(sentence: Sentence) -> tuple:
    return (
        [t.text for t in sentence],
        [t.get_label("pos").value for t in sentence],
        [span_view(sentence, layer) for layer in SPAN_LAYERS],
    )


def document_partition(sentences: list[Sentence]) -> list[int]:
    """Where each document starts (document ids may be renamed by a round trip)."""
    return [i for i, s in enumerate(sentences) if i == 0 or s.document_id != sentences[i - 1].document_id]


@SETTINGS
@given(
    sentences=column_sentences(), scheme=st.sampled_from(["BIO", "BIOES"]), sep=st.sampled_from(["\t", " "])
)
def test_column_round_trip(sentences: list[Sentence], scheme: str, sep: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.txt"
        write_column_file(path, sentences, FMT, tag_scheme=scheme, separator=sep)
        back = read_column_file(path, FMT, span_layers=SPAN_LAYERS)
    assert [column_view(s) for s in back] == [column_view(s) for s in sentences]
    assert document_partition(back) == document_partition(sentences)
    for sentence in back:  # links stay inside documents
        previous = sentence.previous_sentence()
        assert previous is None or previous.document_id == sentence.document_id


@SETTINGS
@given(sentences=column_sentences(), scheme=st.sampled_from(["BIO", "BIOES"]))
def test_column_round_trip_with_detection(sentences: list[Sentence], scheme: str) -> None:
    # detection needs at least one span in each span layer (a column of only O is token labels)
    assume(all(any(s.get_spans(layer) for s in sentences) for layer in SPAN_LAYERS))
    # and a pos column that happens to look like tags would (rightly) be detected as spans
    assume(
        not all(
            t.get_label("pos").value == "O" or "-" in t.get_label("pos").value for s in sentences for t in s
        )
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.txt"
        write_column_file(path, sentences, FMT, tag_scheme=scheme)
        back = read_column_file(path, FMT)
    assert [column_view(s) for s in back] == [column_view(s) for s in sentences]


SCORES = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
VALUES = st.text(max_size=12)


@st.composite
def rich_sentences(draw: st.DrawFn) -> list[Sentence]:
    sentences = []
    for _ in range(draw(st.integers(1, 4))):
        forms = draw(st.lists(WORD, min_size=1, max_size=8))
        spaces = draw(st.lists(st.integers(0, 2), min_size=len(forms), max_size=len(forms)))
        sentence = Sentence.from_tokens(forms, spaces)
        for layer in draw(st.lists(st.sampled_from(["class", "topic"]), max_size=2, unique=True)):
            for _ in range(draw(st.integers(1, 3))):
                sentence.add_label(layer, draw(VALUES), draw(SCORES))
        for token in sentence:
            if draw(st.booleans()):
                token.add_label("pos", draw(VALUES), draw(SCORES))
        for start, end, typ in draw(non_overlapping_spans(len(forms), TYPES)):
            sentence[start:end].add_label("ner", typ, draw(SCORES))
        if draw(st.booleans()):
            sentence.metadata["source"] = draw(VALUES)
        sentence.document_id = draw(st.sampled_from([None, "a", "b"]))
        sentences.append(sentence)
    return sentences


def jsonl_view(sentence: Sentence) -> tuple:
    return (
        [(t.text, t.start_position, t.whitespace_after) for t in sentence],
        [(lab.typename, lab.value, lab.score) for lab in sentence.labels if lab.data_point is sentence],
        [(t.idx, lab.value, lab.score) for t in sentence for lab in t.get_labels("pos")],
        [
            (s.start, s.end, lab.value, lab.score)
            for s in sentence.get_spans("ner")
            for lab in s.get_labels("ner")
        ],
        sentence.document_id,
        sentence.metadata,
    )


@SETTINGS
@given(sentences=rich_sentences())
def test_jsonl_round_trip(sentences: list[Sentence]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.jsonl"
        write_jsonl_file(path, sentences)
        back = read_jsonl_file(path)
    assert [jsonl_view(s) for s in back] == [jsonl_view(s) for s in sentences]
    assert [s.to_dict() for s in back] == [s.to_dict() for s in sentences]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_tokenize_offsets_index_the_text(text: str) -> None:
    pieces = tokenize(text)
    covered = set()
    previous_end = 0
    for token, start in pieces:
        assert token and text[start : start + len(token)] == token
        assert start >= previous_end  # in order, not overlapping
        previous_end = start + len(token)
        covered.update(range(start, previous_end))
    assert covered == {i for i, ch in enumerate(text) if not ch.isspace()}


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_sentence_keeps_tokenizer_offsets(text: str) -> None:
    sentence = Sentence(text)
    pieces = tokenize(text)
    assert [(t.text, t.start_position) for t in sentence] == pieces
    for token in sentence:
        assert text[token.start_position : token.end_position] == token.text
    # with only single spaces between tokens the text itself comes back
    spaced = " ".join(token for token, _ in pieces)
    assert Sentence(spaced).to_original_text() == spaced
