"""Column (CoNLL) reader and writer: tag schemes, repair policy, detection, documents, comments, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats import iter_column_file, read_column_file, write_column_file
from polytag.formats.tags import decode_tags, encode_spans

NER = {0: "text", 1: "ner"}


def make(tmp_path: Path, text: str, name: str = "data.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def spans_of(sentence: Sentence, layer: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.get_label(layer).value) for s in sentence.get_spans(layer)]


def polytag_records(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "polytag" and r.levelno == level]


# -- decoding ---------------------------------------------------------------------------------------


def test_bio_becomes_spans_and_other_columns_token_labels(tmp_path: Path) -> None:
    path = make(
        tmp_path,
        "EU NNP B-ORG\nrejects VBZ O\nJohn NNP B-PER\nSmith NNP I-PER\nin IN O\n"
        "New NNP B-LOC\nYork NNP I-LOC\n",
    )
    [sentence] = read_column_file(path, {0: "text", 1: "pos", 2: "ner"})
    assert [t.text for t in sentence] == ["EU", "rejects", "John", "Smith", "in", "New", "York"]
    assert spans_of(sentence, "ner") == [(0, 1, "ORG"), (2, 4, "PER"), (5, 7, "LOC")]
    assert [t.get_label("pos").value for t in sentence] == ["NNP", "VBZ", "NNP", "NNP", "IN", "NNP", "NNP"]
    # token-level layer: every token has exactly one label; span layer: no token carries it
    assert all(len(t.get_labels("pos")) == 1 for t in sentence)
    assert not any(t.has_label("ner") for t in sentence)
    assert sentence[2:4].text == "John Smith"


def test_adjacent_spans_of_one_type_stay_apart(tmp_path: Path) -> None:
    path = make(tmp_path, "a B-PER\nb B-PER\nc I-PER\n")
    [sentence] = read_column_file(path, NER)
    assert spans_of(sentence, "ner") == [(0, 1, "PER"), (1, 3, "PER")]


def test_iob1_is_decoded_and_not_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # IOB1: I- starts spans, B- only separates two adjacent spans of one type
    path = make(tmp_path, "a I-PER\nb I-PER\nc B-PER\nd O\ne I-LOC\n\nf I-ORG\ng I-LOC\n")
    with caplog.at_level(logging.INFO, logger="polytag"):
        first, second = read_column_file(path, NER)
    assert spans_of(first, "ner") == [(0, 2, "PER"), (2, 3, "PER"), (4, 5, "LOC")]
    assert spans_of(second, "ner") == [(0, 1, "ORG"), (1, 2, "LOC")]
    assert polytag_records(caplog, logging.WARNING) == []
    # declared IOB1 gives the same spans, declared BIO counts the four I- starts as repairs
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="polytag"):
        as_bio = read_column_file(path, NER, tag_scheme="BIO")
    assert [spans_of(s, "ner") for s in as_bio] == [spans_of(first, "ner"), spans_of(second, "ner")]
    [warning] = polytag_records(caplog, logging.WARNING)
    assert "repaired 4 invalid tag" in warning.getMessage()


def test_bioes_and_bilou(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = make(
        tmp_path,
        "a B-PER\nb E-PER\nc S-LOC\nd O\ne B-ORG\nf I-ORG\ng E-ORG\n\nh U-LOC\ni B-PER\nj L-PER\n",
    )
    with caplog.at_level(logging.INFO, logger="polytag"):
        first, second = read_column_file(path, NER)
    assert spans_of(first, "ner") == [(0, 2, "PER"), (2, 3, "LOC"), (4, 7, "ORG")]
    assert spans_of(second, "ner") == [(0, 1, "LOC"), (1, 3, "PER")]
    assert polytag_records(caplog, logging.WARNING) == []
    assert [spans_of(s, "ner") for s in read_column_file(path, NER, tag_scheme="BIOES")] == [
        spans_of(first, "ner"),
        spans_of(second, "ner"),
    ]


def test_invalid_bio_sequences_follow_the_policy_and_warn_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # I-PER at sentence start, I-PER after O, I-LOC after B-PER (other type): each starts a span
    path = make(
        tmp_path,
        "a I-PER\nb I-PER\nc O\nd I-PER\n\ne B-PER\nf I-LOC\ng I-LOC\nh B-ORG\ni I-ORG\n",
    )
    with caplog.at_level(logging.WARNING, logger="polytag"):
        first, second = read_column_file(path, NER)
    assert spans_of(first, "ner") == [(0, 2, "PER"), (3, 4, "PER")]
    assert spans_of(second, "ner") == [(0, 1, "PER"), (1, 3, "LOC"), (3, 5, "ORG")]
    warnings = polytag_records(caplog, logging.WARNING)
    assert len(warnings) == 1  # one per file, not one per sentence
    message = warnings[0].getMessage()
    assert str(path) in message and "repaired 3 invalid tag" in message


def test_invalid_bioes_sequences_follow_the_policy(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # E-PER alone, I-LOC without B-LOC (closed by E-LOC), B-ORG never closed
    path = make(tmp_path, "a E-PER\nb O\nc I-LOC\nd E-LOC\ne B-ORG\nf O\ng S-PER\n")
    with caplog.at_level(logging.WARNING, logger="polytag"):
        [sentence] = read_column_file(path, NER)
    assert spans_of(sentence, "ner") == [(0, 1, "PER"), (2, 4, "LOC"), (4, 5, "ORG"), (6, 7, "PER")]
    [warning] = polytag_records(caplog, logging.WARNING)
    assert "repaired 3 invalid tag" in warning.getMessage()


def test_decode_and_encode_tags_are_inverse() -> None:
    spans = [(0, 1, "A"), (1, 4, "B"), (5, 6, "A")]
    for scheme in ("BIO", "BIOES"):
        tags = encode_spans(7, spans, scheme)
        assert decode_tags(tags, scheme) == spans
    assert encode_spans(3, [(0, 2, "X")], "BIOES") == ["B-X", "E-X", "O"]
    with pytest.raises(ValueError, match="overlaps"):
        encode_spans(4, [(0, 2, "X"), (1, 3, "Y")])


# -- span-column detection -------------------------------------------------------------------------


def test_span_columns_are_detected_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = make(tmp_path, "a DT O B-NP\nb NN O I-NP\n\nc VB O B-VP\n")
    with caplog.at_level(logging.INFO, logger="polytag"):
        sentences = read_column_file(path, {0: "text", 1: "pos", 2: "empty", 3: "np"})
    infos = [r.getMessage() for r in polytag_records(caplog, logging.INFO)]
    assert len([m for m in infos if "'np'" in m and "span" in m]) == 1  # once per file and layer
    assert not any("'pos'" in m or "'empty'" in m for m in infos)
    assert spans_of(sentences[0], "np") == [(0, 2, "NP")]
    # a column of only O has no prefixed value: token labels, kept verbatim
    assert [t.get_label("empty").value for t in sentences[0]] == ["O", "O"]
    assert sentences[0].get_spans("empty") == []


def test_declared_span_layers_override_detection(tmp_path: Path) -> None:
    path = make(tmp_path, "a B-X B-PER\nb I-X O\n")
    [sentence] = read_column_file(path, {0: "text", 1: "tag", 2: "ner"}, span_layers=["ner"])
    assert [t.get_label("tag").value for t in sentence] == ["B-X", "I-X"]
    assert spans_of(sentence, "ner") == [(0, 1, "PER")]
    with pytest.raises(ValueError, match="span_layers"):
        read_column_file(path, {0: "text", 1: "tag"}, span_layers=["ner"])


def test_near_miss_column_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = "".join(f"w{i} {'B-PER' if i % 2 else 'O'}\n" for i in range(30)) + "bad B_PER\n"
    path = make(tmp_path, body)
    with caplog.at_level(logging.WARNING, logger="polytag"):
        [sentence] = read_column_file(path, NER)
    assert sentence[-1].get_label("ner").value == "B_PER"  # read as token labels, verbatim
    [warning] = polytag_records(caplog, logging.WARNING)
    assert "'B_PER'" in warning.getMessage()


@pytest.mark.parametrize("bad", ["X-PER", "B_PER", "B-"])
def test_unknown_prefix_in_span_column_names_file_line_and_forms(tmp_path: Path, bad: str) -> None:
    path = make(tmp_path, f"a B-PER\nb I-PER\n\nc O\nd {bad}\n")
    with pytest.raises(FormatError) as info:
        read_column_file(path, NER, span_layers=["ner"])
    assert info.value.line == 5
    assert info.value.path == str(path)
    assert repr(bad) in str(info.value) and "B-<type>" in str(info.value)


def test_bioes_prefix_under_declared_bio_is_an_error(tmp_path: Path) -> None:
    path = make(tmp_path, "a S-PER\n")
    with pytest.raises(FormatError, match="line 1"):
        read_column_file(path, NER, span_layers=["ner"], tag_scheme="BIO")


# -- documents ----------------------------------------------------------------------------------------


def test_docstart_separates_linked_documents(tmp_path: Path) -> None:
    text = (
        "-DOCSTART- -X- -X- O\n\na x B-PER\n\nb x O\n\nc x O\n\n-DOCSTART- -X- -X- O\n\nd x B-LOC\n\ne x O\n"
    )
    path = make(tmp_path, text, "train.txt")
    sentences = read_column_file(path, {0: "text", 1: "pos", 2: "ner"})
    assert [s.text for s in sentences] == ["a", "b", "c", "d", "e"]  # separators are no sentences
    assert [s.document_id for s in sentences] == ["train.txt#0"] * 3 + ["train.txt#1"] * 2
    a, b, c, d, e = sentences
    assert a.previous_sentence() is None and a.next_sentence() is b
    assert b.previous_sentence() is a and c.next_sentence() is None  # links stop at the document end
    assert d.previous_sentence() is None and d.next_sentence() is e and e.next_sentence() is None


def test_docstart_without_blank_line_and_before_too_few_columns(tmp_path: Path) -> None:
    # ZELDA writes "-DOCSTART-" alone (fewer columns than the format); AIDA puts a comment right after
    path = make(tmp_path, "-DOCSTART-\n# doc 1\nx O O\n-DOCSTART-\ny O O\n", "z.tsv")
    first, second = read_column_file(path, {0: "text", 1: "a", 2: "b"}, comment_symbol="# ")
    assert first.metadata == {"comment": ["doc 1"]}
    assert (first.document_id, second.document_id) == ("z.tsv#0", "z.tsv#1")
    assert first.next_sentence() is None


def test_file_without_separators_is_one_document(tmp_path: Path) -> None:
    path = make(tmp_path, "a O\n\nb O\n\nc O", "plain.txt")  # and no final newline
    sentences = read_column_file(path, NER)
    assert [s.text for s in sentences] == ["a", "b", "c"]
    assert {s.document_id for s in sentences} == {"plain.txt#0"}
    assert sentences[1].previous_sentence() is sentences[0]
    assert sentences[1].next_sentence() is sentences[2]


def test_separator_can_be_switched_off(tmp_path: Path) -> None:
    path = make(tmp_path, "-DOCSTART- O\n\na O\n")
    sentences = read_column_file(path, NER, document_separator_token=None)
    assert [s.text for s in sentences] == ["-DOCSTART-", "a"]


# -- comments and traps ---------------------------------------------------------------------------


def test_hash_tokens_are_tokens_without_comment_symbol(tmp_path: Path) -> None:
    # CoNLL-2000: '#' is a real token; lines look like "# # I-NP"
    path = make(tmp_path, "the DT B-NP\n# # I-NP\n200 CD I-NP\n\n# # B-NP\n")
    first, second = read_column_file(path, {0: "text", 1: "pos", 2: "np"})
    assert [t.text for t in first] == ["the", "#", "200"]
    assert first[1].get_label("pos").value == "#"
    assert spans_of(first, "np") == [(0, 3, "NP")]
    assert second.text == "#" and first.metadata == {} and second.metadata == {}


def test_bare_quote_token(tmp_path: Path) -> None:
    path = make(tmp_path, '"\tO\tO\nWe\tO\tO\n"\tO\tO\n')
    [sentence] = read_column_file(path, {0: "text", 1: "ner", 2: "nel"}, comment_symbol="# ")
    assert [t.text for t in sentence] == ['"', "We", '"']


def test_comments_are_opt_in(tmp_path: Path) -> None:
    text = "# sent 1\nEU\tB-ORG\tO\n#\tO\tO\n\n# sent 2\n# more\nx\tO\tO\n"
    path = make(tmp_path, text)
    fmt = {0: "text", 1: "ner", 2: "nel"}
    first, second = read_column_file(path, fmt, comment_symbol="# ")
    assert [t.text for t in first] == ["EU", "#"]  # "#\tO\tO" does not start with "# "
    assert first.metadata["comment"] == ["sent 1"]
    assert second.metadata["comment"] == ["sent 2", "more"]
    # without comment_symbol comment lines are data: "# sent 1" is a token line with three fields
    # and "# more" (line 6) is too short for the format
    with pytest.raises(FormatError, match="line 6"):
        read_column_file(path, fmt)
    shortened = make(tmp_path, text.replace("# more\n", ""), "short.txt")
    first, second = read_column_file(shortened, fmt)
    assert [t.text for t in first] == ["#", "EU", "#"] and first.metadata == {}
    assert first[0].get_label("ner").value == "sent"


# -- line formats ------------------------------------------------------------------------------------


def test_tab_and_space_files_read_the_same(tmp_path: Path) -> None:
    rows = [("EU", "NNP", "B-ORG"), ("rejects", "VBZ", "O"), ("it", "PRP", "O")]
    spaced = make(tmp_path, "".join(" ".join(r) + "  \n" for r in rows) + "\n\n\n", "spaced.txt")
    tabbed = make(tmp_path, "".join("\t".join(r) + "\r\n" for r in rows), "tabbed.txt")
    fmt = {0: "text", 1: "pos", 2: "ner"}
    a = read_column_file(spaced, fmt)
    b = read_column_file(tabbed, fmt)
    assert len(a) == len(b) == 1
    assert {**a[0].to_dict(), "document_id": None} == {**b[0].to_dict(), "document_id": None}
    assert spans_of(b[0], "ner") == [(0, 1, "ORG")]


def test_tab_file_keeps_spaces_inside_fields(tmp_path: Path) -> None:
    path = make(tmp_path, "New York\tB-LOC\nis\tO\n")
    [sentence] = read_column_file(path, NER)
    assert sentence[0].text == "New York"
    assert spans_of(sentence, "ner") == [(0, 1, "LOC")]


def test_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    path = make(tmp_path, "a B O O\nb O O O\nc O\n")
    with pytest.raises(FormatError) as info:
        read_column_file(path, {0: "text", 1: "pos", 3: "ner"})
    assert info.value.line == 3 and info.value.path == str(path)
    assert "expected at least 4 columns" in str(info.value) and "got 2" in str(info.value)


def test_undecodable_byte_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("a O\n\nb O\nca\xf1a O\n".encode("latin-1"))
    with pytest.raises(FormatError) as info:
        read_column_file(path, NER)
    assert info.value.line == 4 and str(path) in str(info.value)
    [sentence_a, sentence_b] = read_column_file(path, NER, encoding="latin-1")
    assert sentence_b[1].text == "caña"


def test_skip_first_line_and_label_name_map(tmp_path: Path) -> None:
    path = make(tmp_path, "token pos ner\nJohn NNP B-PER\nLondon NNP B-LOC\nis VBZ O\n")
    [sentence] = read_column_file(
        path,
        {0: "text", 1: "pos", 2: "ner"},
        skip_first_line=True,
        label_name_map={"PER": "person", "LOC": "O", "VBZ": "verb"},
    )
    assert spans_of(sentence, "ner") == [(0, 1, "person")]  # LOC mapped to O: dropped
    assert [t.get_label("pos").value for t in sentence] == ["NNP", "NNP", "verb"]


def test_values_are_kept_verbatim_without_a_map(tmp_path: Path) -> None:
    path = make(tmp_path, "a _ B-per\nb O I-per\n")
    [sentence] = read_column_file(path, {0: "text", 1: "x", 2: "ner"})
    assert [t.get_label("x").value for t in sentence] == ["_", "O"]
    assert spans_of(sentence, "ner") == [(0, 2, "per")]


def test_iter_matches_read(tmp_path: Path) -> None:
    text = "-DOCSTART- O\n\na B-X\nb I-X\n\nc O\n-DOCSTART- O\nd S-Y\n"
    path = make(tmp_path, text)
    read = read_column_file(path, NER)
    streamed = list(iter_column_file(path, NER))
    assert [s.to_dict() for s in read] == [s.to_dict() for s in streamed]
    assert streamed[1].previous_sentence() is streamed[0]


# -- writing ---------------------------------------------------------------------------------------------


def _labelled_sentences() -> list[Sentence]:
    one = Sentence("John Smith lives in New York .")
    one[0:2].add_label("ner", "PER")
    one[4:6].add_label("ner", "LOC")
    for token, pos in zip(one, ["NNP", "NNP", "VBZ", "IN", "NNP", "NNP", "."]):
        token.add_label("pos", pos)
    two = Sentence("Paris !")
    two[0:1].add_label("ner", "LOC")
    for token in two:
        token.add_label("pos", "X")
    one.document_id = two.document_id = "doc-a"
    one.metadata["comment"] = ["first"]
    return [one, two]


@pytest.mark.parametrize("scheme", ["BIO", "BIOES"])
@pytest.mark.parametrize("separator", ["\t", " "])
def test_write_then_read_gives_the_same_labels(tmp_path: Path, scheme: str, separator: str) -> None:
    sentences = _labelled_sentences()
    path = tmp_path / "out" / "corpus.txt"
    fmt = {0: "text", 1: "pos", 2: "ner"}
    write_column_file(path, sentences, fmt, tag_scheme=scheme, separator=separator, comment_symbol="# ")
    assert not [p for p in path.parent.iterdir() if p.name != "corpus.txt"]  # no temporary file left
    text = path.read_text()
    assert text.startswith("-DOCSTART-")
    assert ("S-LOC" in text) == (scheme == "BIOES")
    back = read_column_file(path, fmt, comment_symbol="# ")
    assert len(back) == 2
    for original, read in zip(sentences, back):
        assert [t.text for t in read] == [t.text for t in original]
        assert spans_of(read, "ner") == spans_of(original, "ner")
        assert [t.get_label("pos").value for t in read] == [t.get_label("pos").value for t in original]
    assert back[0].metadata["comment"] == ["first"]
    assert back[1].previous_sentence() is back[0]


def test_writer_rejects_what_cannot_be_read_back(tmp_path: Path) -> None:
    overlapping = Sentence("a b c")
    overlapping[0:2].add_label("ner", "X")
    overlapping[1:3].add_label("ner", "Y")
    with pytest.raises(FormatError, match="overlaps"):
        write_column_file(tmp_path / "o.txt", [overlapping], NER)
    spaced = Sentence(["New York"])
    with pytest.raises(FormatError, match="cannot be written"):
        write_column_file(tmp_path / "s.txt", [spaced], NER, separator=" ")
    assert not list(tmp_path.iterdir())  # failed writes leave nothing behind


# -- real corpora -------------------------------------------------------------------------------------


def test_conll03_dev_counts(shared_datasets: Path) -> None:
    path = shared_datasets / "conll_03" / "dev.txt"
    sentences = read_column_file(path, {0: "text", 1: "pos", 2: "np", 3: "ner"})
    assert len(sentences) == 3250
    assert sum(len(s) for s in sentences) == 51362
    assert len({s.document_id for s in sentences}) == 216
    counts: dict[str, int] = {}
    for sentence in sentences:
        for label in sentence.get_labels("ner"):
            counts[label.value] = counts.get(label.value, 0) + 1
    assert counts == {"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}


def test_conll2000_hash_tokens(shared_datasets: Path) -> None:
    sentences = read_column_file(shared_datasets / "conll_2000" / "test.txt", {0: "text", 1: "pos", 2: "np"})
    assert len(sentences) == 2012
    assert sum(len(s) for s in sentences) == 47377
    hashes = [t for s in sentences for t in s if t.text == "#"]
    assert hashes and all(t.get_label("pos").value == "#" for t in hashes)


def test_aida_and_zelda_with_comments(shared_datasets: Path) -> None:
    aida = read_column_file(
        shared_datasets / "aida_nel" / "test.tsv", {0: "text", 1: "ner", 2: "nel"}, comment_symbol="# "
    )
    assert len({s.document_id for s in aida}) == 231
    assert sum(len(s.get_labels("nel")) for s in aida) == 4485
    assert any(t.text == '"' for s in aida for t in s)
    zelda = read_column_file(
        shared_datasets / "zelda" / "test_aida-b.conll", {0: "text", 1: "id", 2: "nel"}, comment_symbol="# "
    )
    assert len(zelda) == 3421 and sum(len(s) for s in zelda) == 46435
    assert sum(len(s.get_labels("nel")) for s in zelda) == 4485
    assert zelda[0].metadata["comment"] == ["1163testb SOCCER"]


def test_byte_order_mark_is_not_part_of_the_first_token(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffEU\tB-ORG\r\nsays\tO\r\n".encode())
    [sentence] = read_column_file(path, NER)
    assert sentence[0].text == "EU" and spans_of(sentence, "ner") == [(0, 1, "ORG")]


@pytest.mark.slow
def test_conll03_train_reads_fast(shared_datasets: Path) -> None:
    import time

    start = time.process_time()
    path = shared_datasets / "conll_03" / "train.txt"
    sentences = read_column_file(path, {0: "text", 1: "pos", 2: "np", 3: "ner"})
    seconds = time.process_time() - start
    assert len(sentences) == 14041 and sum(len(s.get_labels("ner")) for s in sentences) == 23499
    assert seconds < 3.0, f"CoNLL-03 train took {seconds:.2f} s of CPU"
