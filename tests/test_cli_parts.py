"""The CLI's parts: sentence splitting, results with offsets, HTML rendering, predict's writers, info."""

from __future__ import annotations

import io
import json

import pytest

from polytag.cli.info import describe, run_info
from polytag.cli.inputs import UsageError, detect_format, parse_columns
from polytag.cli.main import main
from polytag.cli.predict import ColumnWriter, JsonlWriter, chunked, output_format
from polytag.cli.render import render_document, render_sentence
from polytag.cli.results import Layer, entity_url, sentence_result
from polytag.cli.segment import make_sentences, split_sentences
from polytag.data import Sentence
from polytag.formats import read_column_file, read_jsonl_file


def pieces(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def test_sentence_splitter_rules():
    assert pieces("Mr. Smith went to Washington. He met Dr. Jones at 5 p.m. yesterday! Was it fun?") == [
        "Mr. Smith went to Washington.",
        "He met Dr. Jones at 5 p.m. yesterday!",
        "Was it fun?",
    ]
    # a quote or bracket after the period belongs to the sentence; a lowercase word does not start one
    assert pieces('He said "stop." Then he left. it was e.g. fine.') == [
        'He said "stop."',
        "Then he left. it was e.g. fine.",
    ]
    assert pieces("J. R. R. Tolkien wrote. The U.S. Army came.") == [
        "J. R. R. Tolkien wrote.",
        "The U.S. Army came.",
    ]
    assert pieces("Wow!! Really?! (Maybe.) 42 people came.") == [
        "Wow!!",
        "Really?!",
        "(Maybe.)",
        "42 people came.",
    ]
    # a blank line always ends a sentence; surrounding whitespace is trimmed
    assert pieces("  first part\n\n  second part  ") == ["first part", "second part"]
    assert split_sentences("   ") == []


def test_make_sentences_keeps_offsets_into_the_text():
    text = "Hello there.  Mr. Smith loves New York."
    sentences = make_sentences(text)
    assert [s.to_tokenized_string() for s in sentences] == ["Hello there .", "Mr. Smith loves New York ."]
    second = sentences[1]
    assert second.start_position == 14
    for token in second:
        start = second.start_position + token.start_position
        assert text[start : start + len(token.text)] == token.text
    assert second.previous_sentence() is sentences[0]  # one document: context encoders see neighbours
    assert len(make_sentences(text, split=False)) == 1


def labelled_sentence() -> Sentence:
    sentence = make_sentences("Ignore this. Obama visited <Paris> today.")[1]
    sentence[0:1].add_label("ner", "PER", 0.9)
    sentence[2:5].add_label("ner", "LOC", 0.8)
    sentence[0:1].add_label("nel", "Barack_Obama", 0.7)
    for token, tag in zip(sentence, ["NNP", "VBD", "-LRB-", "NNP", "-RRB-", "NN", "."]):
        token.add_label("pos", tag, 0.5)
    sentence.add_label("topic", "politics", 0.6)
    return sentence


LAYERS = [
    Layer("t0", "TokenClassifier", "ner", "span"),
    Layer("t1", "SpanClassifier", "nel", "link"),
    Layer("t2", "TokenClassifier", "pos", "token"),
    Layer("t3", "TextClassifier", "topic", "sentence"),
]


def test_sentence_result_offsets_labels_and_links():
    sentence = labelled_sentence()
    result = sentence_result(sentence, LAYERS)
    text = "Ignore this. Obama visited <Paris> today."
    assert result["start"] == 13 and text[result["start"] : result["end"]] == sentence.text
    spans = {(s["layer"], s["value"]): s for s in result["spans"]}
    loc = spans[("ner", "LOC")]
    assert text[loc["start"] : loc["end"]] == "<Paris>" and (loc["token_start"], loc["token_end"]) == (2, 5)
    assert spans[("nel", "Barack_Obama")]["url"] == "https://en.wikipedia.org/wiki/Barack_Obama"
    assert "url" not in spans[("ner", "PER")]
    assert result["tokens"][1]["labels"]["pos"] == {"value": "VBD", "score": 0.5}
    assert result["labels"]["topic"] == [{"value": "politics", "score": 0.6}]
    assert entity_url("Côte d'Ivoire") == "https://en.wikipedia.org/wiki/C%C3%B4te_d'Ivoire"
    assert entity_url("https://x.org/e/1") == "https://en.wikipedia.org/wiki/https%3A%2F%2Fx.org%2Fe%2F1"
    assert entity_url("Q42", "https://www.wikidata.org/wiki/{}") == "https://www.wikidata.org/wiki/Q42"


def test_render_marks_spans_links_tokens_badges_and_escapes():
    html = render_sentence(sentence_result(labelled_sentence(), LAYERS), LAYERS)
    assert '<mark class="polytag-span" data-layer="ner" data-label="LOC"' in html
    assert "&lt;Paris&gt;" in html and "<Paris>" not in html  # escaped text
    assert '<a class="polytag-link" href="https://en.wikipedia.org/wiki/Barack_Obama"' in html
    assert '<span class="polytag-tag">VBD</span>' in html
    assert 'class="polytag-badge" data-layer="topic" data-label="politics"' in html
    # one line per span layer: the ner line reads as the sentence with two marks
    ner_line = html.split('data-layer="ner">', 1)[1].split("</div>", 1)[0]
    assert ner_line.count("<mark") == 2 and "visited" in ner_line


def test_render_puts_overlapping_spans_of_a_layer_on_separate_lines():
    sentence = Sentence("New York City is big")
    sentence[0:2].add_label("ner", "LOC")
    sentence[0:3].add_label("ner", "LOC")
    html = render_document([sentence_result(sentence, LAYERS[:1])], LAYERS[:1])
    assert html.count('class="polytag-row" data-layer="ner"') == 2
    assert html.count("<mark") == 2


def test_writers_column_and_jsonl_read_back():
    sentence = labelled_sentence()
    out = io.StringIO()
    ColumnWriter(out, LAYERS, None).write(sentence)
    lines = out.getvalue().splitlines()
    assert lines[0] == "# topic = politics (0.6000)"
    assert lines[1].split("\t") == ["Obama", "B-PER", "B-Barack_Obama", "NNP"]
    assert lines[3].split("\t") == ["<", "B-LOC", "O", "-LRB-"]


def test_column_and_jsonl_output_is_readable_by_polytag(tmp_path):
    sentence = labelled_sentence()
    out = io.StringIO()
    ColumnWriter(out, LAYERS, None).write(sentence)
    (tmp_path / "out.tsv").write_text(out.getvalue(), encoding="utf-8")
    back = read_column_file(
        tmp_path / "out.tsv", {0: "text", 1: "ner", 2: "nel", 3: "pos"}, comment_symbol="# "
    )
    assert [(s.text, s.get_label("ner").value) for s in back[0].get_spans("ner")] == [
        ("Obama", "PER"),
        ("< Paris >", "LOC"),
    ]
    out = io.StringIO()
    JsonlWriter(out, LAYERS, None).write(sentence)
    (tmp_path / "out.jsonl").write_text(out.getvalue(), encoding="utf-8")
    again = read_jsonl_file(tmp_path / "out.jsonl")[0]
    assert again.get_label("topic").value == "politics" and again.get_spans("nel")[0].text == "Obama"


def test_chunked_respects_documents_only_when_asked():
    sentences = []
    for doc in range(4):
        for _ in range(3):
            sentence = Sentence("a b")
            sentence.document_id = f"d{doc}"
            sentences.append(sentence)
    assert [len(c) for c in chunked(sentences, 2)] == [2, 2, 2, 2, 2, 2]
    assert [len(c) for c in chunked(sentences, 2, keep_documents=True)] == [3, 3, 3, 3]
    # a document longer than four chunks is cut
    long_doc = [Sentence("a") for _ in range(10)]
    for s in long_doc:
        s.document_id = "long"
    assert [len(c) for c in chunked(long_doc, 2, keep_documents=True)] == [8, 2]


def test_formats_and_columns_arguments():
    assert detect_format("x.conllu") == "conllu" and detect_format("x.jsonl") == "jsonl"
    assert detect_format("train.conll") == "column" and detect_format("notes.txt") == "text"
    assert detect_format("x.txt", "column") == "column"
    with pytest.raises(UsageError):
        detect_format("x", "xml")
    assert parse_columns("0:text,2:ner") == {0: "text", 2: "ner"}
    with pytest.raises(UsageError, match="text"):
        parse_columns("0:pos")
    assert output_format("a.html", None) == "html" and output_format(None, None) == "jsonl"
    assert output_format("a.tsv", None) == "column"


@pytest.fixture(scope="module")
def saved_model(tiny_encoder_dir, tmp_path_factory):
    from tests.test_cli_support import build_model

    path = tmp_path_factory.mktemp("model") / "model.pt"
    build_model(tiny_encoder_dir).save(path)
    return path


def test_info_describes_a_model_from_its_header(saved_model, capsys):
    facts = describe(saved_model)
    assert facts["class"] == "MultitaskModel" and facts["problems"] == []
    assert [(t["task"], t["kind"]) for t in facts["tasks"]] == [
        ("ner", "span"),
        ("pos", "token"),
        ("topic", "sentence"),
    ]
    assert facts["tasks"][0]["labels"] == ["PER", "LOC", "ORG"]
    assert facts["encoders"]["0"]["hidden_size"] == 32 and facts["parameters"] > 1000
    assert run_info(saved_model) == 0
    out = capsys.readouterr().out
    assert "task ner: TokenClassifier -> 'ner' (span, 3 labels): PER, LOC, ORG" in out


def test_info_works_on_a_damaged_file(saved_model, tmp_path, capsys):
    data = saved_model.read_bytes()
    broken = tmp_path / "broken.pt"
    broken.write_bytes(data[: len(data) // 2])
    assert run_info(broken) == 1
    out = capsys.readouterr().out
    assert "PROBLEMS:" in out and "truncated" in out
    assert "task ner" in out  # the header is intact, so the tasks are still described
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04not a model")
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(garbage), "--json"])
    assert exit_info.value.code == 1
    facts = json.loads(capsys.readouterr().out)
    assert facts["problems"] and "pickle" in facts["problems"][0]


def test_cli_errors_are_one_line_messages(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(tmp_path / "missing.yaml")])
    assert exit_info.value.code == 2
    assert "config file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", str(tmp_path / "missing.pt"), str(tmp_path / "in.txt")])
    assert exit_info.value.code == 2
    assert "not found" in capsys.readouterr().err
