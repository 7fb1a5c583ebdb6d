"""Reading what the commands take: model files, data files in any supported format, named corpora.

Data files are read as streams (``iter_*`` readers), so ``polytag predict`` never holds a whole file.
Bad input raises :class:`~polytag.errors.FormatError` naming the file (``<stdin>`` for ``-``) and line:
the same byte-level rules as the corpus readers (an undecodable or NUL byte, a ``\\r`` inside a line,
a line longer than ``max_line_bytes``, which is never read whole); see ``docs/robustness.md``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from polytag.errors import FormatError, PolytagError


class UsageError(PolytagError, ValueError):
    """A command-line argument that cannot work (a missing file, an unknown format)."""


def input_formats() -> tuple[str, ...]:
    """What the commands read: ``text`` (plain text, one paragraph a line) and every registered format
    with a streaming reader (:mod:`polytag.formats.registry`)."""
    from polytag.formats.registry import formats

    return ("text",) + tuple(spec.name for spec in formats() if spec.stream is not None)


class LazyChoices:
    """``choices`` for argparse that asks the format registry only when a command is parsed or its
    help shown, so that ``polytag --help`` does not import the formats."""

    def __init__(self, names: Callable[[], tuple[str, ...]]) -> None:
        self._names = names

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


def predict_input_choices() -> tuple[str, ...]:
    """``polytag predict --format``: ``auto`` (from the extension), the input formats, and ``html``
    (which means: render the output as HTML)."""
    return ("auto", *input_formats(), "html")


def predict_output_choices() -> tuple[str, ...]:
    """``polytag predict --output-format``: the formats predictions can be written in."""
    from polytag.cli.predict import OUTPUT_FORMATS

    return OUTPUT_FORMATS


def detect_format(path: str | os.PathLike, given: str | None = None) -> str:
    """The input format: ``given`` unless it is None / ``auto``, else from the file extension (text)."""
    known = input_formats()
    if given and given != "auto":
        if given not in known:
            raise UsageError(f"unknown input format {given!r}; use one of {', '.join(known)}")
        return given
    from polytag.formats.registry import format_for_path

    spec = format_for_path(path)
    return spec.name if spec is not None and spec.name in known else "text"


def parse_columns(text: str | None) -> dict[int, str] | None:
    """``"0:text,1:pos,3:ner"`` -> ``{0: "text", 1: "pos", 3: "ner"}``."""
    if not text:
        return None
    columns: dict[int, str] = {}
    for part in text.split(","):
        if ":" not in part:
            raise UsageError(f"--columns {text!r}: expected INDEX:NAME pairs such as 0:text,1:ner")
        index, name = part.split(":", 1)
        try:
            columns[int(index)] = name.strip()
        except ValueError:
            raise UsageError(f"--columns {text!r}: {index!r} is not a column number") from None
    if "text" not in columns.values():
        raise UsageError(f"--columns {text!r}: one column must be named 'text'")
    return columns


def load_model(path: str | os.PathLike, device: str | None = None, quantize: str | None = None) -> Any:
    """Load any polytag model file (the class comes from the file, via the allow-list); ``quantize``
    (``"int8"`` or ``"bf16"``, CPU only) is ``Model.load``'s reduced-precision encoder mode."""
    from polytag.models import Model

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"model file not found: {path}")
    return Model.load(path, device=device, quantize=quantize)


def iter_text_file(
    path: str | os.PathLike,
    split: bool = True,
    encoding: str = "utf-8",
    max_line_bytes: int | None = None,
    max_sentence_tokens: int | None = None,
) -> Iterator[Any]:
    """Sentences of a plain-text file, one line (paragraph) at a time; ``-`` reads standard input.

    Each non-blank line is split into sentences (unless ``split`` is False) and tokenized; the
    sentences of a line form one document ``line-N`` with offsets relative to that line. A line longer
    than ``max_line_bytes`` (default :data:`polytag.formats.limits.MAX_LINE_BYTES`) raises, unread; a
    line of more than ``max_sentence_tokens`` tokens (default
    :data:`polytag.formats.limits.MAX_SENTENCE_TOKENS`; all sentences of a line are built at once)
    raises before it is tokenized.
    """
    from polytag.cli.segment import make_sentences
    from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS, check_token_count
    from polytag.formats.textio import iter_handle_chunks

    if max_line_bytes is None:
        max_line_bytes = MAX_LINE_BYTES
    max_tokens = MAX_SENTENCE_TOKENS if max_sentence_tokens is None else max_sentence_tokens

    if str(path) == "-":
        handle = getattr(sys.stdin, "buffer", None)
        if handle is None:  # a text stream put in place of stdin (tests, embedding applications)
            yield from _iter_text_stream(sys.stdin, split, max_tokens)
            return
        name = "<stdin>"
        close = False
    else:
        if not Path(path).is_file():
            raise UsageError(f"input file not found: {path}")
        handle = open(path, "rb")  # noqa: SIM115 - closed below
        name = str(path)
        close = True
    try:
        chunks = iter_handle_chunks(handle, name, encoding, 1 << 16, max_line_bytes=max_line_bytes)
        for first, lines in chunks:
            for line_no, line in enumerate(lines, first):
                if not line or line.isspace():  # no copy of a long line
                    continue
                check_token_count(name, line_no, line, max_tokens)
                yield from make_sentences(line.removesuffix("\r"), split=split, document_id=f"line-{line_no}")
    finally:
        if close:
            handle.close()


def _iter_text_stream(stream: Any, split: bool, max_tokens: int) -> Iterator[Any]:
    from polytag.cli.segment import make_sentences
    from polytag.formats.limits import check_token_count

    for line_no, line in enumerate(stream, 1):
        text = line.rstrip("\r\n")
        if "\x00" in text:
            raise FormatError("<stdin>", line_no, "NUL byte (binary data?)")
        if text.strip():
            check_token_count("<stdin>", line_no, text, max_tokens)
            yield from make_sentences(text, split=split, document_id=f"line-{line_no}")


def iter_input(
    path: str | os.PathLike,
    fmt: str,
    columns: dict[int, str] | None = None,
    split: bool = True,
    max_line_bytes: int | None = None,
    max_sentence_tokens: int | None = None,
) -> Iterator[Any]:
    """Stream the sentences of a data file in format ``fmt`` (one of :func:`input_formats`).

    ``max_line_bytes`` and ``max_sentence_tokens`` (defaults in :mod:`polytag.formats.limits`) bound
    one line and one sentence.
    """
    if fmt == "text":
        yield from iter_text_file(
            path, split=split, max_line_bytes=max_line_bytes, max_sentence_tokens=max_sentence_tokens
        )
        return
    if not Path(path).is_file():
        raise UsageError(f"input file not found: {path}")
    known = input_formats()
    if fmt not in known:
        raise UsageError(f"unknown input format {fmt!r}; use one of {', '.join(known)}")
    from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
    from polytag.formats.registry import get_format

    limits = {
        "max_line_bytes": MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes,
        "max_sentence_tokens": MAX_SENTENCE_TOKENS if max_sentence_tokens is None else max_sentence_tokens,
    }
    stream = get_format(fmt).stream
    assert stream is not None  # input_formats() lists only formats with a streaming reader
    args = (columns or {0: "text"},) if fmt == "column" else ()  # the one required reader argument
    yield from stream(path, *args, **limits)


def named_corpus(name: str, base_path: str | None = None) -> Any:
    """A named corpus from the allow-list of :mod:`polytag.config` (``UD_ENGLISH``, ...)."""
    from polytag.config import NAMED_CORPORA, build_corpus

    for known in NAMED_CORPORA:
        if known.lower() == name.lower():
            spec: dict[str, Any] = {"type": known}
            if base_path:
                spec["base_path"] = base_path
            return build_corpus(spec)
    raise UsageError(f"unknown corpus {name!r}; named corpora: {', '.join(NAMED_CORPORA)}")


def is_named_corpus(name: str) -> bool:
    from polytag.config import NAMED_CORPORA

    return any(known.lower() == name.lower() for known in NAMED_CORPORA)
