"""File plumbing shared by the format readers and writers.

Readers decode line by line from bytes so that an undecodable byte is reported with its line
number; writers go through a temporary file in the target folder and ``os.replace`` it into place,
so a crash never leaves half a corpus behind.
"""

from __future__ import annotations

import contextlib
import gc
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from polytag.errors import FormatError

PathLike = str | os.PathLike

_BOM = "\ufeff"


def _decode_error(
    path: Path, line_no: int, exc: UnicodeDecodeError, encoding: str, column: int
) -> FormatError:
    bad = exc.object[exc.start : exc.end]
    return FormatError(
        path,
        line_no,
        f"byte(s) {bad!r} at byte {column + 1} of the line cannot be decoded as {encoding}; "
        f"pass the file's encoding (encoding=...)",
    )


def iter_line_chunks(
    path: PathLike, encoding: str = "utf-8", chunk_bytes: int = 1 << 20
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(number_of_first_line, lines)`` for about ``chunk_bytes`` of the file at a time.

    Lines lose their ``\n``; a ``\r`` before it is kept (callers strip it with other trailing
    whitespace). Only ``\n`` ends a line: ``str.splitlines`` would also split on characters such as
    U+2028 that can be part of a token. A byte-order mark at the start of the file is dropped. The
    encoding must encode ``\n`` as the byte 0x0A (UTF-8, Latin-1 and the like, not UTF-16).
    """
    path = Path(path)
    first = 1
    with open(path, "rb") as handle:
        while True:
            raw_lines = handle.readlines(chunk_bytes)
            if not raw_lines:
                return
            data = b"".join(raw_lines)
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                offset = data.count(b"\n", 0, exc.start)
                line_start = data.rfind(b"\n", 0, exc.start) + 1
                raise _decode_error(path, first + offset, exc, encoding, exc.start - line_start) from None
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()
            if first == 1 and lines and lines[0].startswith(_BOM):
                lines[0] = lines[0][1:]
            yield first, lines
            first += len(raw_lines)


def iter_lines(path: PathLike, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with the line ending (``\n`` or ``\r\n``) removed."""
    for first, lines in iter_line_chunks(path, encoding):
        for line_no, line in enumerate(lines, first):
            yield line_no, line[:-1] if line.endswith("\r") else line


def read_text(path: PathLike, encoding: str = "utf-8") -> str:
    """The whole file decoded; an undecodable byte raises :class:`FormatError` with its line."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise _decode_error(path, line_no, exc, encoding, exc.start - line_start) from None
    if text.startswith(_BOM):
        text = text[1:]
    return text


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a corpus is built.

    Readers create hundreds of thousands of long-lived objects (tokens, labels, spans); each burst of
    allocations triggers collections that walk all of them again, which costs more than the reading.
    Nothing built here is garbage, so the pause loses nothing. The previous state is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def atomic_writer(path: PathLike, encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Open a temporary text file next to ``path``; on success it replaces ``path`` atomically."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="\n") as handle:
            yield handle
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
