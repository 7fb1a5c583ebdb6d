"""CoNLL-U, fastText, CSV and JSON-lines readers and writers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats import (
    iter_jsonl_file,
    read_conllu_file,
    read_csv_file,
    read_fasttext_file,
    read_jsonl_file,
    write_conllu_file,
    write_jsonl_file,
)


def make(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


# -- CoNLL-U ----------------------------------------------------------------------------------------

CONLLU = """# newdoc id = doc-1
# sent_id = s1
# text = I don't know, really.
1	I	I	PRON	PRP	Case=Nom	4	nsubj	4:nsubj	_
2-3	don't	_	_	_	_	_	_	_	_
2	do	do	AUX	VBP	Mood=Ind	4	aux	4:aux	_
3	n't	not	PART	RB	_	4	advmod	4:advmod	_
4	know	know	VERB	VB	VerbForm=Inf	0	root	0:root	SpaceAfter=No
4.1	knows	know	VERB	VB	_	_	_	4:conj	_
5	,	,	PUNCT	,	_	6	punct	6:punct	_
6	really	really	ADV	RB	_	4	advmod	4:advmod	SpaceAfter=No
7	.	.	PUNCT	.	_	4	punct	4:punct	_

# sent_id = s2
# text = Yes
1	Yes	yes	INTJ	UH	_	0	root	0:root	_

# newdoc
# sent_id = s3
# text = gonna go
1-2	gonna	_	_	_	_	_	_	_	_
1	gon	go	VERB	VBG	_	0	root	0:root	_
2	na	to	PART	TO	_	3	mark	3:mark	_
3	go	go	VERB	VB	_	1	xcomp	1:xcomp	_
"""


def test_conllu_small_file(tmp_path: Path) -> None:
    path = make(tmp_path, CONLLU, "tiny.conllu")
    first, second, third = read_conllu_file(path)
    # the range 2-3 and the empty node 4.1 are not tokens
    assert [t.text for t in first] == ["I", "do", "n't", "know", ",", "really", "."]
    assert first.text == "I don't know, really."  # SpaceAfter=No and the range's words joined
    assert first[3].whitespace_after == 0 and first[0].whitespace_after == 1
    upos = ["PRON", "AUX", "PART", "VERB", "PUNCT", "ADV", "PUNCT"]
    assert [t.get_label("upos").value for t in first] == upos
    assert first[2].get_label("pos").value == "RB"
    assert first[2].get_label("lemma").value == "not"
    assert [t.get_label("head").value for t in first] == ["4", "4", "4", "0", "6", "4", "4"]
    assert first[3].get_label("deprel").value == "root"
    assert not first[0].has_label("feats")  # only with extra_layers
    assert first.metadata["sent_id"] == "s1" and first.metadata["text"] == "I don't know, really."
    assert first.metadata["multiword_tokens"] == [{"start": 1, "end": 3, "form": "don't", "misc": "_"}]
    assert len(first.metadata["empty_nodes"]) == 1
    # documents: newdoc id names the first; a bare newdoc starts the next
    assert first.document_id == second.document_id == "doc-1"
    assert third.document_id == "tiny.conllu#1"
    assert first.next_sentence() is second and second.next_sentence() is None
    assert third.previous_sentence() is None
    assert third.text == "gonna go"


def test_conllu_round_trip_is_byte_identical_with_extra_layers(tmp_path: Path) -> None:
    path = make(tmp_path, CONLLU, "tiny.conllu")
    sentences = read_conllu_file(path, extra_layers=True)
    assert sentences[0][0].get_label("feats").value == "Case=Nom"
    out = tmp_path / "out.conllu"
    write_conllu_file(out, sentences)
    assert out.read_text() == CONLLU + "\n"
    again = [{**s.to_dict(), "document_id": None} for s in read_conllu_file(out)]
    assert again == [{**s.to_dict(), "document_id": None} for s in read_conllu_file(path)]


def test_conllu_writer_without_metadata(tmp_path: Path) -> None:
    sentence = Sentence("Hello world!")
    for token, upos in zip(sentence, ["INTJ", "NOUN", "PUNCT"]):
        token.add_label("upos", upos)
    out = tmp_path / "w.conllu"
    write_conllu_file(out, [sentence])
    [back] = read_conllu_file(out)
    assert back.metadata["text"] == "Hello world!" and back.text == "Hello world!"
    assert [t.get_label("upos").value for t in back] == ["INTJ", "NOUN", "PUNCT"]
    assert back[0].get_label("lemma").value == "_"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1\tI\tI\tPRON\tPRP\t_\t0\troot\t_", "expected 10 tab-separated fields"),
        ("2\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_", "out of order"),
        ("x\tI\tI\tPRON\tPRP\t_\t0\troot\t_\t_", "is not a word"),
    ],
)
def test_conllu_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = make(tmp_path, f"# text = I\n{line}\n", "bad.conllu")
    with pytest.raises(FormatError, match=message) as info:
        read_conllu_file(path)
    assert info.value.line == 2 and info.value.path == str(path)


def test_conllu_ewt_counts(shared_datasets: Path) -> None:
    folder = shared_datasets / "ud_english"
    expected = {"train": (12544, 204577), "dev": (2001, 25147), "test": (2077, 25094)}
    for split, (n_sentences, n_words) in expected.items():
        sentences = read_conllu_file(folder / f"en_ewt-ud-{split}.conllu")
        assert len(sentences) == n_sentences, split
        assert sum(len(s) for s in sentences) == n_words, split
        if split == "dev":
            assert sum(len(s.metadata.get("multiword_tokens", ())) for s in sentences) == 359
            assert sum(len(s.metadata.get("empty_nodes", ())) for s in sentences) == 4
            # the tokens and their spacing give back the '# text' of every sentence
            assert all(s.text == s.metadata["text"] for s in sentences)


# -- fastText ---------------------------------------------------------------------------------------------


def test_fasttext(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = make(
        tmp_path,
        "__label__pos __label__short Great movie!\n\n__label__neg  It was   dull.\n"
        "no label here\n__label__x\n",
        "ft.txt",
    )
    with caplog.at_level(logging.WARNING, logger="polytag"):
        sentences = read_fasttext_file(path, "sentiment")
    assert [s.text for s in sentences] == ["Great movie!", "It was   dull.", "no label here"]
    assert [lab.value for lab in sentences[0].get_labels("sentiment")] == ["pos", "short"]
    assert [t.text for t in sentences[0]] == ["Great", "movie", "!"]
    assert sentences[1].get_label("sentiment").value == "neg"
    assert sentences[2].get_labels("sentiment") == []
    [warning] = [r for r in caplog.records if r.name == "polytag"]
    assert "line 5" in warning.getMessage()  # the label-only line is reported, not silently lost
    whitespace = read_fasttext_file(path, use_tokenizer=False)
    assert [t.text for t in whitespace[0]] == ["Great", "movie!"]
    assert whitespace[0].get_label("class").value == "pos"


def test_fasttext_undecodable_byte(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"__label__a fine\n__label__b caf\xe9\n")
    with pytest.raises(FormatError) as info:
        read_fasttext_file(path)
    assert info.value.line == 2


# -- CSV ----------------------------------------------------------------------------------------------------


def test_csv_empty_field_quoted_commas_and_newlines(tmp_path: Path) -> None:
    path = make(
        tmp_path,
        "label,title,text,topic\n"
        'Sci_Tech,,"BEA buzzing, about Beehive",tech\n'
        'Business,"Fears, for pension","Unions ""disappointed""\nafter talks",\n',
        "news.csv",
    )
    sentences = read_csv_file(
        path, {0: "label", 1: "text", 2: "text", 3: "label_topic"}, "category", skip_header=True
    )
    assert len(sentences) == 2
    first, second = sentences
    assert first.text == "BEA buzzing, about Beehive"  # empty title: no stray space, no 'nan'
    assert first.get_label("category").value == "Sci_Tech"
    assert first.get_label("topic").value == "tech"
    # title and text joined by one space; the quoted line break and doubled quotes are read as such
    tokens = [t.text for t in second]
    assert tokens[:4] == ["Fears", ",", "for", "pension"] and tokens[-3:] == ['"', "after", "talks"]
    assert '"disappointed"' in second.text
    assert second.get_labels("topic") == []  # empty label field: no label
    assert all("nan" not in s.text.lower().split() for s in sentences)


def test_csv_other_columns_go_to_metadata_and_delimiter(tmp_path: Path) -> None:
    path = make(tmp_path, "id;text;label\n7;Hello there;greeting\n", "semi.csv")
    [sentence] = read_csv_file(path, {0: "id", 1: "text", 2: "label"}, skip_header=True, delimiter=";")
    assert sentence.metadata == {"id": "7"}
    assert sentence.get_label("class").value == "greeting"


def test_csv_short_row_names_its_line(tmp_path: Path) -> None:
    path = make(tmp_path, 'a,"multi\nline",x\nb,only\n', "short.csv")
    with pytest.raises(FormatError) as info:
        read_csv_file(path, {0: "label", 1: "text", 2: "label_other"})
    assert info.value.line == 3  # the quoted field spans lines 1-2


def test_csv_agnews(shared_datasets: Path) -> None:
    sentences = read_csv_file(
        shared_datasets / "agnews" / "train.csv", {0: "label", 1: "text", 2: "text"}, skip_header=True
    )
    assert len(sentences) == 5000
    counts: dict[str, int] = {}
    for sentence in sentences:
        value = sentence.get_label("class").value
        counts[value] = counts.get(value, 0) + 1
    assert counts == {"World": 1259, "Sports": 1257, "Business": 1281, "Sci_Tech": 1203}


# -- JSON lines -----------------------------------------------------------------------------------------


def _rich_sentences() -> list[Sentence]:
    one = Sentence("George Washington went to Washington.")
    one.add_label("topic", "history", 0.75)
    one.add_label("topic", "politics", 0.25)
    one[0:2].add_label("ner", "PER", 0.9)
    one[4:5].add_label("ner", "LOC")
    one[0].add_label("pos", "NNP", 0.5)
    one.metadata["source"] = "test"
    two = Sentence("Done .", use_tokenizer=False)
    one.document_id = two.document_id = "d1"
    three = Sentence("Other document")
    three.document_id = "d2"
    return [one, two, three]


def test_jsonl_round_trip(tmp_path: Path) -> None:
    sentences = _rich_sentences()
    path = tmp_path / "corpus.jsonl"
    write_jsonl_file(path, sentences)
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3
    back = read_jsonl_file(path)
    assert [s.to_dict() for s in back] == [s.to_dict() for s in sentences]
    topics = [(lab.value, lab.score) for lab in back[0].get_labels("topic")]
    assert topics == [("history", 0.75), ("politics", 0.25)]
    assert back[0].get_spans("ner")[0].get_label("ner").score == 0.9
    assert back[1].previous_sentence() is back[0] and back[1].next_sentence() is None
    assert back[2].previous_sentence() is None
    assert [s.to_dict() for s in iter_jsonl_file(path)] == [s.to_dict() for s in sentences]


def test_jsonl_simple_form(tmp_path: Path) -> None:
    rows = [
        {
            "text": "Angela Merkel visited Paris.",
            "labels": ["politics"],
            "spans": [
                {"start": 0, "end": 2, "value": "PER"},
                {"start_char": 22, "end_char": 27, "value": "LOC"},
            ],
        },
        {"text": "Nice day", "labels": {"mood": [{"value": "happy", "score": 0.6}], "topic": "weather"}},
    ]
    path = make(tmp_path, "\n".join(json.dumps(r) for r in rows) + "\n\n", "simple.jsonl")
    first, second = read_jsonl_file(path)
    assert [t.text for t in first] == ["Angela", "Merkel", "visited", "Paris", "."]
    assert first.get_label("class").value == "politics"
    assert [(s.text, s.get_label("ner").value) for s in first.get_spans("ner")] == [
        ("Angela Merkel", "PER"),
        ("Paris", "LOC"),
    ]
    assert (second.get_label("mood").value, second.get_label("mood").score) == ("happy", 0.6)
    assert second.get_label("topic").value == "weather"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"labels": ["x"]}', "'text'"),
        ('{"text": "a b", "spans": [{"start": 1, "end": 5, "value": "X"}]}', "does not fit"),
        ('{"text": "ab cd", "spans": [{"start_char": 1, "end_char": 5, "value": "X"}]}', "token boundaries"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = make(tmp_path, '{"text": "fine"}\n' + line + "\n", "bad.jsonl")
    with pytest.raises(FormatError, match=message) as info:
        read_jsonl_file(path)
    assert info.value.line == 2


@pytest.mark.slow
def test_conllu_ewt_train_reads_well_under_three_seconds(shared_datasets: Path) -> None:
    import time

    start = time.process_time()
    sentences = read_conllu_file(shared_datasets / "ud_english" / "en_ewt-ud-train.conllu")
    seconds = time.process_time() - start
    assert sum(len(s.get_labels("upos")) for s in sentences) == 204577
    assert seconds < 3.0, f"EWT train took {seconds:.2f} s of CPU"
