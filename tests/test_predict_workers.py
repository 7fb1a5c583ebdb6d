"""``polytag predict --workers N``: the same bytes as one process, in input order, from worker processes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from polytag.cli.inputs import UsageError
from polytag.cli.main import run
from polytag.cli.predict import (
    WRITERS,
    ConlluWriter,
    chunked,
    decode_chunk,
    encode_chunk,
    render_chunk,
)
from polytag.cli.results import model_layers
from polytag.data import Sentence, link_document
from polytag.embeddings import TransformerEmbeddings
from polytag.errors import ModelFileError
from polytag.models import MultitaskModel, TextClassifier, TokenClassifier

from .test_models import make_corpus, make_sentences, train_steps

LINES = [
    "George Washington went to Washington. Sam Houston stayed home.",
    "Paris is in France. Anna visited Berlin and Rome yesterday!",
    "the weather was nice",
    "Anna visited Paris. George stayed in Berlin. Sam went to Rome. The weather was nice in France.",
]


@pytest.fixture(scope="module")
def model_file(tiny_encoder_dir, tmp_path_factory) -> Path:
    """A NER + topic model whose encoder reads two words of document context on each side."""
    corpus = make_corpus()
    torch.manual_seed(0)
    shared = TransformerEmbeddings(str(tiny_encoder_dir), is_document_embedding=True, use_context=2)
    ner = TokenClassifier(shared, corpus.make_label_dictionary("ner"), "ner")
    topic = TextClassifier(shared, corpus.make_label_dictionary("topic"), "topic")
    model = MultitaskModel([ner, topic])
    train_steps(model, list(corpus.train), steps=15, lr=1e-2)
    path = tmp_path_factory.mktemp("workers") / "model.pt"
    model.save(path)
    return path


def test_two_workers_write_the_same_bytes_in_input_order(model_file, tmp_path) -> None:
    source = tmp_path / "input.txt"
    source.write_text("\n".join(LINES * 12) + "\n", encoding="utf-8")
    outputs = {}
    for workers in (1, 2):
        target = tmp_path / f"out-{workers}.jsonl"
        argv = ["-q", "predict", str(model_file), str(source), "-o", str(target), "--chunk-size", "3"]
        assert run([*argv, "--workers", str(workers)]) == 0
        outputs[workers] = target.read_bytes()
    assert outputs[2] == outputs[1]
    rows = [json.loads(line) for line in outputs[2].decode("utf-8").splitlines()]
    expected = [s for n, line in enumerate(LINES * 12, start=1) for s in _split(line, n)]
    assert [r["text"] for r in rows] == expected  # every sentence, in input order
    assert [r["document_id"] for r in rows][:3] == ["line-1", "line-1", "line-2"]
    assert any(r.get("spans") for r in rows) and all(r["labels"]["topic"] for r in rows)


def _split(line: str, number: int) -> list[str]:
    from polytag.cli.segment import make_sentences

    return [s.text for s in make_sentences(line, document_id=f"line-{number}")]


def labelled_sentences(count: int) -> list[Sentence]:
    """Sentences with span, token and sentence labels, in documents of five."""
    sentences = []
    base = make_sentences(count // 5 + 1)[:count]
    for start in range(0, count, 5):
        link_document(base[start : start + 5], f"doc-{start // 5}")
    for sentence in base:
        sentence.start_position = 7 * len(sentences)
        sentences.append(sentence)
    return sentences


@pytest.mark.parametrize("target", ["jsonl", "column", "conllu", "html"])
def test_chunks_rendered_apart_equal_one_writer(model_file, target) -> None:
    from polytag.models import Model

    layers = model_layers(Model.load(model_file))
    sentences = labelled_sentences(600)  # crosses CoNLL-U's 256-sentence blocks inside chunks
    whole = io.StringIO()
    writer = WRITERS[target](whole, layers, None)
    writer.start()
    for sentence in sentences:
        writer.write(sentence)
    writer.finish()
    # what the main process writes with workers: its own writer's start and finish around the pieces
    framed = io.StringIO()
    frame = WRITERS[target](framed, [], None)
    frame.start()
    offset = 0
    for chunk in chunked(sentences, 97, keep_documents=True):
        got_offset, decoded = decode_chunk(encode_chunk(chunk, offset))
        assert got_offset == offset and [s.to_dict() for s in decoded] == [s.to_dict() for s in chunk]
        framed.write(render_chunk(decoded, target, layers, None, offset))
        offset += len(chunk)
    frame.finish()
    assert framed.getvalue() == whole.getvalue()
    if target == "conllu":
        assert ConlluWriter.block < len(sentences)


def test_chunk_encoding_keeps_neighbours_and_offsets() -> None:
    sentences = labelled_sentences(10)
    _, decoded = decode_chunk(encode_chunk(sentences[3:8], 3))
    assert decoded[0].previous_sentence() is None  # its neighbour is in another chunk
    assert decoded[1].previous_sentence() is decoded[0] and decoded[0].next_sentence() is decoded[1]
    assert decoded[1].next_sentence() is None  # sentence 4 ends document 0
    assert [s.start_position for s in decoded] == [s.start_position for s in sentences[3:8]]
    assert [s.document_id for s in decoded] == ["doc-0", "doc-0", "doc-1", "doc-1", "doc-1"]


def test_bad_worker_counts_and_damaged_models_fail_before_any_worker_starts(model_file, tmp_path) -> None:
    from polytag.cli.predict import run_predict

    source = tmp_path / "in.txt"
    source.write_text("Paris is nice.\n", encoding="utf-8")
    with pytest.raises(UsageError, match="--workers"):
        run_predict(model_file, str(source), workers=0, progress=False)
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(model_file.read_bytes()[:200])
    with pytest.raises(ModelFileError):
        run_predict(damaged, str(source), workers=2, progress=False)
