"""``polytag predict MODEL INPUT``: label a file of any size in bounded memory.

The input is read as a stream, cut into chunks of ``chunk_size`` sentences, each chunk is predicted
(one ``model.predict`` call, batched and length-sorted inside) and written out before the next one is
read, so memory does not grow with the file. When an encoder of the model reads document context, a
chunk ends only at a document boundary (up to ``4 * chunk_size`` sentences; a longer document is cut
there, with a warning), so that every sentence sees the same neighbours as in a whole-file run.

Output formats: ``jsonl`` (one ``Sentence.to_dict()`` a line, which ``polytag`` reads back), ``column``
(token plus one column per predicted layer; span layers as BIO tags; sentence labels as ``# layer =
value`` comment lines), ``conllu`` (the ``upos``/``pos``/``lemma`` ... layers in their CoNLL-U columns)
and ``html`` (the displaCy-like picture of :mod:`polytag.cli.render`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from polytag.cli.inputs import UsageError, detect_format, iter_input, load_model
from polytag.cli.render import page_end, page_start, render_sentence
from polytag.cli.results import DEFAULT_LINK_TEMPLATE, Layer, model_layers, sentence_result, uses_context
from polytag.data import Sentence, Span, Token

log = logging.getLogger("polytag")

OUTPUT_FORMATS = ("jsonl", "column", "conllu", "html")
_OUTPUT_EXTENSIONS = {
    ".html": "html",
    ".htm": "html",
    ".conllu": "conllu",
    ".conll": "column",
    ".tsv": "column",
    ".column": "column",
    ".txt": "column",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}


def output_format(path: str | None, given: str | None) -> str:
    if given:
        if given not in OUTPUT_FORMATS:
            raise UsageError(f"unknown output format {given!r}; use one of {', '.join(OUTPUT_FORMATS)}")
        return given
    if path:
        return _OUTPUT_EXTENSIONS.get(Path(path).suffix.lower(), "jsonl")
    return "jsonl"


def chunked(
    sentences: Iterable[Sentence], size: int, keep_documents: bool = False
) -> Iterator[list[Sentence]]:
    """Lists of about ``size`` sentences; with ``keep_documents`` a list ends at a document boundary."""
    limit = 4 * size
    chunk: list[Sentence] = []
    for sentence in sentences:
        if len(chunk) >= size:
            boundary = (
                not keep_documents
                or sentence.document_id is None
                or sentence.document_id != chunk[-1].document_id
            )
            if boundary or len(chunk) >= limit:
                if not boundary:
                    log.warning(
                        "document %s is longer than %d sentences: cut there (context is lost at the cut)",
                        chunk[-1].document_id,
                        limit,
                    )
                yield chunk
                chunk = []
        chunk.append(sentence)
    if chunk:
        yield chunk


# -- writers ------------------------------------------------------------------------------------------


class Writer:
    """Writes predicted sentences one at a time to an open text stream."""

    def __init__(self, out: IO[str], layers: list[Layer], link_template: str | None) -> None:
        self.out = out
        self.layers = layers
        self.link_template = link_template

    def start(self) -> None:
        """Anything that comes before the first sentence."""

    def write(self, sentence: Sentence) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Anything that comes after the last sentence."""


class JsonlWriter(Writer):
    def write(self, sentence: Sentence) -> None:
        self.out.write(json.dumps(sentence.to_dict(), ensure_ascii=False) + "\n")


class ColumnWriter(Writer):
    """Token, then one column per layer of the model (BIO for span and link layers, ``_`` if none)."""

    def write(self, sentence: Sentence) -> None:
        from polytag.formats.tags import encode_spans

        lines = []
        columns: list[list[str]] = []
        n = len(sentence)
        for layer in self.layers:
            labels = sentence.get_labels(layer.label_type)
            if layer.kind == "sentence":
                for label in labels:
                    if label.data_point is sentence:
                        lines.append(f"# {layer.label_type} = {_field(label.value)} ({label.score:.4f})")
                continue
            if layer.kind == "token":
                values = ["_"] * n
                for label in labels:
                    point = label.data_point
                    if isinstance(point, Token) and values[point.idx - 1] == "_":
                        values[point.idx - 1] = _field(label.value)
                columns.append(values)
                continue
            spans, end = [], 0
            for label in labels:
                point = label.data_point
                if isinstance(point, Span) and point.start >= end:
                    spans.append((point.start, point.end, _field(label.value)))
                    end = point.end
            columns.append(encode_spans(n, spans, "BIO"))
        for i, token in enumerate(sentence.tokens):
            lines.append("\t".join([_field(token.form)] + [col[i] for col in columns]))
        self.out.write("\n".join(lines) + "\n\n")


def _field(value: str) -> str:
    """A value as one column field: whitespace inside it becomes ``_``."""
    return "_".join(value.split()) or "_"


class ConlluWriter(Writer):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sentences: list[Sentence] = []

    def write(self, sentence: Sentence) -> None:
        self.sentences.append(sentence)
        if len(self.sentences) >= 256:
            self.flush()

    def flush(self) -> None:
        from polytag.formats.conllu import write_conllu_file

        if not self.sentences:
            return
        # write_conllu_file writes a whole file; render into a scratch file and copy its text over
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / "part.conllu"
            write_conllu_file(scratch, self.sentences)
            self.out.write(scratch.read_text(encoding="utf-8"))
        self.sentences = []

    def finish(self) -> None:
        self.flush()


class HtmlWriter(Writer):
    def start(self) -> None:
        self.out.write(page_start())

    def write(self, sentence: Sentence) -> None:
        result = sentence_result(sentence, self.layers, self.link_template)
        self.out.write(render_sentence(result, self.layers) + "\n")

    def finish(self) -> None:
        self.out.write(page_end())


WRITERS = {"jsonl": JsonlWriter, "column": ColumnWriter, "conllu": ConlluWriter, "html": HtmlWriter}


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    from polytag.formats._io import atomic_writer

    with atomic_writer(path) as handle:
        yield handle


# -- the command --------------------------------------------------------------------------------------


def run_predict(
    model_path: str | os.PathLike,
    input_path: str,
    fmt: str | None = None,
    output: str | None = None,
    out_format: str | None = None,
    columns: dict[int, str] | None = None,
    batch_size: int = 32,
    chunk_size: int = 512,
    split: bool = True,
    progress: bool = True,
    link_template: str | None = DEFAULT_LINK_TEMPLATE,
    device: str | None = None,
) -> dict[str, Any]:
    """Predict ``input_path`` into ``output`` (stdout when None); returns counts and throughput."""
    if chunk_size < 1 or batch_size < 1:
        raise UsageError("--chunk-size and --batch-size must be positive")
    kind = detect_format(input_path, fmt)
    if kind != "text" and str(input_path) != "-" and not Path(input_path).is_file():
        raise UsageError(f"input file not found: {input_path}")
    if kind == "text" and str(input_path) != "-" and not Path(input_path).is_file():
        raise UsageError(f"input file not found: {input_path}")
    target = output_format(output, out_format)
    model = load_model(model_path, device=device)
    layers = model_layers(model)
    keep_documents = uses_context(model)
    from tqdm import tqdm

    bar = tqdm(unit=" sent", desc="predict", disable=not progress, file=sys.stderr, mininterval=0.5)
    n_sentences = n_tokens = 0
    start = time.perf_counter()
    with _open_output(output) as out:
        writer = WRITERS[target](out, layers, link_template)
        writer.start()
        for chunk in chunked(iter_input(input_path, kind, columns, split), chunk_size, keep_documents):
            model.predict(chunk, mini_batch_size=batch_size)
            for sentence in chunk:
                writer.write(sentence)
            n_sentences += len(chunk)
            n_tokens += sum(len(s) for s in chunk)
            bar.update(len(chunk))
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix_str(f"{n_tokens / elapsed:,.0f} tokens/s", refresh=False)
            del chunk
        writer.finish()
    bar.close()
    elapsed = time.perf_counter() - start
    stats = {
        "sentences": n_sentences,
        "tokens": n_tokens,
        "seconds": round(elapsed, 3),
        "sentences_per_second": round(n_sentences / elapsed, 1) if elapsed > 0 else None,
        "tokens_per_second": round(n_tokens / elapsed, 1) if elapsed > 0 else None,
        "output": output or "-",
        "format": target,
    }
    print(
        f"predicted {n_sentences} sentences ({n_tokens} tokens) in {elapsed:.1f} s: "
        f"{stats['sentences_per_second']} sentences/s, {stats['tokens_per_second']} tokens/s"
        + (f"; written to {output} ({target})" if output and output != "-" else ""),
        file=sys.stderr,
    )
    return stats
