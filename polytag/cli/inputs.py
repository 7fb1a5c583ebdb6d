"""Reading what the commands take: model files, data files in any supported format, named corpora.

Data files are read as streams (``iter_*`` readers), so ``polytag predict`` never holds a whole file.
Bad input raises :class:`~polytag.errors.FormatError` naming the file (``<stdin>`` for ``-``) and line:
the same byte-level rules as the corpus readers (an undecodable or NUL byte, a ``\\r`` inside a line,
a line longer than ``max_line_bytes``, which is never read whole); see ``docs/robustness.md``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polytag.errors import FormatError, PolytagError

INPUT_FORMATS = ("text", "column", "conllu", "jsonl")
_EXTENSIONS = {
    ".conllu": "conllu",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".conll": "column",
    ".tsv": "column",
    ".column": "column",
    ".bio": "column",
    ".iob": "column",
    ".iob2": "column",
    ".bioes": "column",
}


class UsageError(PolytagError, ValueError):
    """A command-line argument that cannot work (a missing file, an unknown format)."""


def detect_format(path: str | os.PathLike, given: str | None = None) -> str:
    """The input format: ``given`` unless it is None / ``auto``, else from the file extension (text)."""
    if given and given != "auto":
        if given not in INPUT_FORMATS:
            raise UsageError(f"unknown input format {given!r}; use one of {', '.join(INPUT_FORMATS)}")
        return given
    suffixes = [s.lower() for s in Path(str(path)).suffixes]
    for suffix in reversed(suffixes):
        if suffix in _EXTENSIONS:
            return _EXTENSIONS[suffix]
    return "text"


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


def load_model(path: str | os.PathLike, device: str | None = None) -> Any:
    """Load any polytag model file (the class comes from the file, via the allow-list)."""
    from polytag.models import Model

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"model file not found: {path}")
    return Model.load(path, device=device)


def iter_text_file(
    path: str | os.PathLike,
    split: bool = True,
    encoding: str = "utf-8",
    max_line_bytes: int | None = None,
) -> Iterator[Any]:
    """Sentences of a plain-text file, one line (paragraph) at a time; ``-`` reads standard input.

    Each non-blank line is split into sentences (unless ``split`` is False) and tokenized; the
    sentences of a line form one document ``line-N`` with offsets relative to that line. A line longer
    than ``max_line_bytes`` (default :data:`polytag.formats._io.MAX_LINE_BYTES`) raises, unread.
    """
    from polytag.cli.segment import make_sentences
    from polytag.formats._io import MAX_LINE_BYTES, iter_handle_chunks

    if max_line_bytes is None:
        max_line_bytes = MAX_LINE_BYTES

    if str(path) == "-":
        handle = getattr(sys.stdin, "buffer", None)
        if handle is None:  # a text stream put in place of stdin (tests, embedding applications)
            yield from _iter_text_stream(sys.stdin, split)
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
                if not line.strip():
                    continue
                yield from make_sentences(line.removesuffix("\r"), split=split, document_id=f"line-{line_no}")
    finally:
        if close:
            handle.close()


def _iter_text_stream(stream: Any, split: bool) -> Iterator[Any]:
    from polytag.cli.segment import make_sentences

    for line_no, line in enumerate(stream, 1):
        text = line.rstrip("\r\n")
        if "\x00" in text:
            raise FormatError("<stdin>", line_no, "NUL byte (binary data?)")
        if text.strip():
            yield from make_sentences(text, split=split, document_id=f"line-{line_no}")


def iter_input(
    path: str | os.PathLike,
    fmt: str,
    columns: dict[int, str] | None = None,
    split: bool = True,
    max_line_bytes: int | None = None,
) -> Iterator[Any]:
    """Stream the sentences of a data file in format ``fmt`` (see :data:`INPUT_FORMATS`).

    ``max_line_bytes`` (default :data:`polytag.formats._io.MAX_LINE_BYTES`) bounds one line.
    """
    if fmt == "text":
        yield from iter_text_file(path, split=split, max_line_bytes=max_line_bytes)
        return
    if not Path(path).is_file():
        raise UsageError(f"input file not found: {path}")
    from polytag.formats._io import MAX_LINE_BYTES

    limit = MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes
    if fmt == "column":
        from polytag.formats import iter_column_file

        yield from iter_column_file(path, columns or {0: "text"}, max_line_bytes=limit)
    elif fmt == "conllu":
        from polytag.formats import iter_conllu_file

        yield from iter_conllu_file(path, max_line_bytes=limit)
    elif fmt == "jsonl":
        from polytag.formats import iter_jsonl_file

        yield from iter_jsonl_file(path, max_line_bytes=limit)
    else:
        raise UsageError(f"unknown input format {fmt!r}; use one of {', '.join(INPUT_FORMATS)}")


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
