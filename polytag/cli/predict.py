"""``polytag predict MODEL INPUT``: label a file of any size in bounded memory.

The input is read as a stream, cut into chunks of ``chunk_size`` sentences, each chunk is predicted
(one ``model.predict`` call, batched and length-sorted inside) and written out before the next one is
read, so memory does not grow with the file. When an encoder of the model reads document context, a
chunk ends only at a document boundary (up to ``4 * chunk_size`` sentences; a longer document is cut
there, with a warning), so that every sentence sees the same neighbours as in a whole-file run.

Output formats: ``jsonl`` (one ``Sentence.to_dict(lossless=True)`` a line, which polytag reads), ``column``
(token plus one column per predicted layer; span layers as BIO tags; sentence labels as ``# layer =
value`` comment lines), ``conllu`` (the ``upos``/``pos``/``lemma`` ... layers in their CoNLL-U columns)
and ``html`` (the displaCy-like picture of :mod:`polytag.cli.render`).

``workers > 1`` predicts chunks in that many worker processes (``spawn`` context), each loading the model
once and getting an equal share of the CPU cores as torch threads. The main process reads and chunks the
input, sends each chunk to a worker as JSON text and writes the rendered text that comes back strictly in
input order; at most ``2 * workers`` chunks are in flight, so memory stays bounded. Only plain strings
cross the process boundary. The output is the same as with one process (for CoNLL-U the workers even
group sentences into the same 256-sentence blocks); scores can differ in the last digits only where the
torch thread count changes the order of floating-point sums.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from polytag.cli.inputs import UsageError, detect_format, iter_input, load_model
from polytag.cli.render import page_end, page_start, render_sentence
from polytag.cli.results import DEFAULT_LINK_TEMPLATE, Layer, model_layers, sentence_result, uses_context
from polytag.data import Sentence, Span, Token
from polytag.errors import ModelFileError, PolytagError
from polytag.formats.registry import format_for_extension, get_format

log = logging.getLogger("polytag")

# extensions of outputs that are not a registered file format (a picture, and column text as ".txt")
_OWN_EXTENSIONS = {".html": "html", ".htm": "html", ".txt": "column"}


def output_format(path: str | None, given: str | None) -> str:
    """The output format: ``given``, else from the output file's extension (the format registry's,
    for the formats :data:`WRITERS` can write), else ``jsonl``."""
    if given:
        if given not in WRITERS:
            raise UsageError(f"unknown output format {given!r}; use one of {', '.join(OUTPUT_FORMATS)}")
        return given
    if path:
        suffix = Path(path).suffix.lower()
        if suffix in _OWN_EXTENSIONS:
            return _OWN_EXTENSIONS[suffix]
        spec = format_for_extension(suffix)
        if spec is not None and spec.name in WRITERS:
            return spec.name
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
        self.out.write(json.dumps(sentence.to_dict(lossless=True), ensure_ascii=False) + "\n")


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
    block = 256  # sentences written per write_conllu_file call (a new block repeats "# newdoc id")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.sentences: list[Sentence] = []

    def write(self, sentence: Sentence) -> None:
        self.sentences.append(sentence)
        if len(self.sentences) >= self.block:
            self.flush()

    def flush(self) -> None:
        write_conllu_file = get_format("conllu").write
        assert write_conllu_file is not None
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


WRITERS = {
    "jsonl": JsonlWriter,
    "column": ColumnWriter,
    "conllu": ConlluWriter,
    "html": HtmlWriter,
}
"""The output writers by format name: the registry's formats that predictions can be streamed to, and
``html`` (a picture, not a file format)."""
OUTPUT_FORMATS = tuple(WRITERS)


@contextlib.contextmanager
def _open_output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    from polytag.formats.textio import atomic_writer

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
    workers: int = 1,
    quantize: str | None = None,
) -> dict[str, Any]:
    """Predict ``input_path`` into ``output`` (stdout when None); returns counts and throughput.

    ``workers > 1`` predicts in that many processes (see the module docstring); the output is written in
    input order all the same. ``quantize`` (``"int8"``/``"bf16"``) is ``Model.load``'s CPU inference mode.
    """
    if chunk_size < 1 or batch_size < 1:
        raise UsageError("--chunk-size and --batch-size must be positive")
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    kind = detect_format(input_path, fmt)
    if str(input_path) != "-" and not Path(input_path).is_file():
        raise UsageError(f"input file not found: {input_path}")
    target = output_format(output, out_format)
    if workers == 1:
        model = load_model(model_path, device=device, quantize=quantize)
        layers = model_layers(model)
        keep_documents = uses_context(model)
    else:
        model, layers, keep_documents = None, [], _file_uses_context(model_path)
    progress_bar = _Progress(progress)
    chunks = chunked(iter_input(input_path, kind, columns, split), chunk_size, keep_documents)
    with _open_output(output) as out:
        writer = WRITERS[target](out, layers, link_template)
        writer.start()
        if model is not None:
            for chunk in chunks:
                model.predict(chunk, mini_batch_size=batch_size)
                for sentence in chunk:
                    writer.write(sentence)
                progress_bar.advance(len(chunk), sum(len(s) for s in chunk))
                del chunk
        else:
            threads = _threads_per_worker(workers)
            setup = (str(model_path), device, threads, target, link_template, batch_size, quantize)
            for text, sentences, tokens in _predict_in_workers(chunks, workers, setup):
                out.write(text)
                progress_bar.advance(sentences, tokens)
        writer.finish()
    return progress_bar.finish(output, target, workers)


class _Progress:
    """The progress bar and counts of one prediction run, and its closing summary on standard error."""

    def __init__(self, show: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(unit=" sent", desc="predict", disable=not show, file=sys.stderr, mininterval=0.5)
        self.sentences = self.tokens = 0
        self.start = time.perf_counter()

    def advance(self, sentences: int, tokens: int) -> None:
        self.sentences += sentences
        self.tokens += tokens
        self.bar.update(sentences)
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        self.bar.set_postfix_str(f"{self.tokens / elapsed:,.0f} tokens/s", refresh=False)

    def finish(self, output: str | None, target: str, workers: int) -> dict[str, Any]:
        self.bar.close()
        elapsed = time.perf_counter() - self.start
        n_sentences, n_tokens = self.sentences, self.tokens
        stats = {
            "sentences": n_sentences,
            "tokens": n_tokens,
            "seconds": round(elapsed, 3),
            "sentences_per_second": round(n_sentences / elapsed, 1) if elapsed > 0 else None,
            "tokens_per_second": round(n_tokens / elapsed, 1) if elapsed > 0 else None,
            "output": output or "-",
            "format": target,
            "workers": workers,
        }
        print(
            f"predicted {n_sentences} sentences ({n_tokens} tokens) in {elapsed:.1f} s: "
            f"{stats['sentences_per_second']} sentences/s, {stats['tokens_per_second']} tokens/s"
            + (f" with {workers} workers" if workers > 1 else "")
            + (f"; written to {output} ({target})" if output and output != "-" else ""),
            file=sys.stderr,
        )
        return stats


# -- several worker processes -------------------------------------------------------------------------


class WorkerError(PolytagError):
    """A prediction worker failed; the message is the worker's own error."""


def _file_uses_context(model_path: str | os.PathLike) -> bool:
    """Whether the model reads document context, from the file's header (no weights are loaded)."""
    from polytag.io import read_model_header

    path = Path(model_path)
    if not path.is_file():
        raise UsageError(f"model file not found: {path}")
    header = read_model_header(path)
    if header.get("problems"):
        raise ModelFileError(f"{path}: {header['problems'][0]}")
    embeddings = (header.get("config") or {}).get("embeddings") or {}
    return any(int(settings.get("use_context") or 0) > 0 for settings in embeddings.values())


def _threads_per_worker(workers: int) -> int:
    """An equal share of the cores this process may use (at least one thread each)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // workers)


def encode_chunk(chunk: list[Sentence], offset: int) -> str:
    """A chunk as JSON text: each sentence's dict, its offset and its neighbours inside the chunk."""
    position = {id(s): i for i, s in enumerate(chunk)}
    items = []
    for sentence in chunk:
        item = sentence.to_dict(lossless=True)
        previous, following = sentence.previous_sentence(), sentence.next_sentence()
        item["_start"] = sentence.start_position
        item["_language"] = sentence.language_code
        item["_previous"] = None if previous is None else position.get(id(previous))
        item["_next"] = None if following is None else position.get(id(following))
        items.append(item)
    return json.dumps({"offset": offset, "sentences": items}, ensure_ascii=False)


def decode_chunk(text: str) -> tuple[int, list[Sentence]]:
    """Inverse of :func:`encode_chunk` (neighbour links outside the chunk are not kept)."""
    data = json.loads(text)
    items = data["sentences"]
    sentences = [Sentence.from_dict(item) for item in items]
    for sentence, item in zip(sentences, items):
        sentence.start_position = item.get("_start", 0)
        sentence.language_code = item.get("_language")
        previous, following = item.get("_previous"), item.get("_next")
        sentence._previous_sentence = None if previous is None else sentences[previous]
        sentence._next_sentence = None if following is None else sentences[following]
    return data["offset"], sentences


def render_chunk(
    sentences: list[Sentence], target: str, layers: list[Layer], link_template: str | None, offset: int
) -> str:
    """The text a single-process run writes for these sentences (which start at input index ``offset``)."""
    buffer = io.StringIO()
    if target == "conllu":  # the same 256-sentence blocks as one ConlluWriter over the whole input
        block = ConlluWriter.block
        first = 0
        while first < len(sentences):
            last = min(len(sentences), first + block - (offset + first) % block)
            writer = ConlluWriter(buffer, layers, link_template)
            for sentence in sentences[first:last]:
                writer.write(sentence)
            writer.finish()
            first = last
        return buffer.getvalue()
    writer = WRITERS[target](buffer, layers, link_template)
    for sentence in sentences:
        writer.write(sentence)
    return buffer.getvalue()


_WORKER: dict[str, Any] = {}


def _worker_setup(
    model_path: str,
    device: str | None,
    threads: int,
    target: str,
    link_template: str | None,
    batch_size: int,
    quantize: str | None = None,
) -> None:
    """Runs once in each worker: remember the job and set the thread count (the model loads lazily)."""
    import torch

    torch.set_num_threads(threads)
    os.environ["TQDM_DISABLE"] = "1"
    logging.getLogger("transformers").setLevel(logging.ERROR)
    _WORKER.update(
        model_path=model_path,
        device=device,
        target=target,
        link_template=link_template,
        batch_size=batch_size,
        quantize=quantize,
    )


def _worker_predict(payload: str) -> tuple[bool, str]:
    """Predict and render one encoded chunk; returns ``(True, text)`` or ``(False, error message)``."""
    try:
        if "model" not in _WORKER:
            _WORKER["model"] = load_model(
                _WORKER["model_path"], device=_WORKER["device"], quantize=_WORKER.get("quantize")
            )
            _WORKER["layers"] = model_layers(_WORKER["model"])
        offset, sentences = decode_chunk(payload)
        _WORKER["model"].predict(sentences, mini_batch_size=_WORKER["batch_size"])
        return True, render_chunk(
            sentences, _WORKER["target"], _WORKER["layers"], _WORKER["link_template"], offset
        )
    except Exception as exc:  # reported by the main process, which stops the run
        return False, f"{type(exc).__name__}: {exc}"


def _predict_in_workers(
    chunks: Iterable[list[Sentence]], workers: int, setup: tuple
) -> Iterator[tuple[str, int, int]]:
    """``(rendered text, sentences, tokens)`` per chunk, in input order, from ``workers`` processes."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_setup, initargs=setup)
    pending: deque = deque()

    def collect() -> tuple[str, int, int]:
        future, sentences, tokens = pending.popleft()
        ok, text = future.result()
        if not ok:
            raise WorkerError(f"prediction worker failed: {text}")
        return text, sentences, tokens

    try:
        offset = 0
        for chunk in chunks:
            payload = encode_chunk(chunk, offset)
            pending.append((pool.submit(_worker_predict, payload), len(chunk), sum(len(s) for s in chunk)))
            offset += len(chunk)
            del chunk, payload
            while len(pending) >= 2 * workers:
                yield collect()
        while pending:
            yield collect()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# -- the command line ----------------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``predict`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    predict = commands.add_parser(
        "predict", parents=[common], help="label a file of any size (streamed, bounded memory)"
    )
    predict.add_argument("model", help="a model file")
    predict.add_argument("input", help="input file ('-' for plain text on standard input)")
    from polytag.cli.inputs import LazyChoices, predict_input_choices, predict_output_choices

    predict.add_argument(
        "--format",
        dest="fmt",
        default="auto",
        choices=LazyChoices(predict_input_choices),  # the format registry's, read when used
        metavar="FORMAT",  # a metavar keeps argparse from listing the choices while building the parser
        help="input format: %(choices)s (default: from the extension); 'html' means: render the output "
        "as HTML",
    )
    predict.add_argument("--output", "-o", help="output file (default: standard output)")
    predict.add_argument(
        "--output-format",
        choices=LazyChoices(predict_output_choices),
        metavar="FORMAT",
        help="%(choices)s (default: from the output file's extension, else jsonl)",
    )
    predict.add_argument("--columns", help="column input layout, e.g. 0:text (default) or 0:text,1:pos")
    predict.add_argument(
        "--no-split",
        action="store_true",
        help="plain text: take each line as one sentence (no sentence splitting)",
    )
    predict.add_argument("--batch-size", type=int, default=32, help="sentences per encoder pass")
    predict.add_argument(
        "--chunk-size", type=int, default=512, help="sentences read, predicted and written at once"
    )
    predict.add_argument(
        "--link-template",
        default=None,
        help="URL of an entity's page for HTML links, {} is the entity id (default: English Wikipedia)",
    )
    predict.add_argument("--device", help="torch device, e.g. cpu or cuda")
    predict.add_argument(
        "--quantize",
        choices=["int8", "bf16"],
        help="CPU inference with the encoder's linear layers in int8 or bfloat16 (bf16 needs AMX or "
        "AVX512-BF16 to be faster; see docs/heads.md); the heads stay float32",
    )
    predict.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its share of the CPU cores (output keeps the input order)",
    )
    predict.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from polytag.cli.inputs import parse_columns

    if args.fmt == "html":  # "--format html" means: render the output as HTML
        args.output_format, args.fmt = "html", "auto"
    run_predict(
        args.model,
        args.input,
        args.fmt,
        args.output,
        args.output_format,
        parse_columns(args.columns),
        args.batch_size,
        args.chunk_size,
        not args.no_split,
        not args.quiet,
        args.link_template or DEFAULT_LINK_TEMPLATE,
        args.device,
        args.workers,
        args.quantize,
    )
    return 0
