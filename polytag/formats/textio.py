"""File plumbing shared by the format readers and writers.

Readers decode line by line from bytes so that an undecodable byte is reported with its line
number; writers go through a temporary file in the target folder and ``os.replace`` it into place,
so a crash never leaves half a corpus behind.

**Hostile input.** The line reader is the one gate every line-based reader goes through, so the rules
for bad bytes live here (see ``docs/robustness.md``):

- a line longer than ``max_line_bytes`` (default :data:`MAX_LINE_BYTES`, 64 MiB) raises
  :class:`FormatError` as soon as that many bytes have been read without a ``\\n``: a 1 GB single line
  is never held in memory, the reader stops after about ``max_line_bytes`` of it;
- a NUL byte raises (binary data, or a UTF-16/UTF-32 file read as UTF-8 would otherwise turn into
  tokens full of NULs);
- a carriage return that is not part of a ``\\r\\n`` line end raises (a file with classic-Mac ``\\r``
  line ends would otherwise be read as one line), unless the caller allows it (CSV, where ``\\r`` may
  sit inside a quoted field);
- an undecodable byte raises, naming its line and byte;
- a byte-order mark at the start of the file is dropped; ``\\r\\n`` line ends read as ``\\n``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from polytag.errors import FormatError
from polytag.formats.limits import MAX_LINE_BYTES

PathLike = str | os.PathLike


_BOM = "\ufeff"
LONE_CR = re.compile(rb"\r(?!\n|\Z)")
"""A carriage return that does not end a ``\\r\\n`` line (what the readers refuse)."""


def decode_error(
    path: Path | str, line_no: int, exc: UnicodeDecodeError, encoding: str, column: int
) -> FormatError:
    """The FormatError for an undecodable byte at ``column`` (0-based byte) of line ``line_no``."""
    bad = exc.object[exc.start : exc.end]
    return FormatError(
        path,
        line_no,
        f"byte(s) {bad!r} at byte {column + 1} of the line cannot be decoded as {encoding}; "
        f"pass the file's encoding (encoding=...)",
    )


def byte_error(path: Path | str, first: int, data: bytes, pos: int, what: str) -> FormatError:
    """A FormatError for the byte at ``data[pos]``, ``data`` starting at line ``first``."""
    line_no = first + data.count(b"\n", 0, pos)
    column = pos - (data.rfind(b"\n", 0, pos) + 1)
    return FormatError(path, line_no, f"{what} at byte {column + 1} of the line")


def check_bytes(path: Path | str, first: int, data: bytes, allow_cr: bool = False) -> None:
    """Raise :class:`FormatError` for a NUL byte or (unless ``allow_cr``) a lone ``\\r`` in ``data``."""
    if b"\x00" in data:
        raise byte_error(
            path,
            first,
            data,
            data.index(b"\x00"),
            "NUL byte (binary data, or a UTF-16/UTF-32 file? convert it to UTF-8)",
        )
    if not allow_cr and b"\r" in data:
        match = LONE_CR.search(data)
        if match is not None:
            raise byte_error(
                path,
                first,
                data,
                match.start(),
                "carriage return (\\r) inside a line (classic-Mac \\r line ends? convert them to \\n)",
            )


def too_long(path: Path | str, line_no: int, max_line_bytes: int) -> FormatError:
    """The FormatError for a line over ``max_line_bytes`` (raised before the line is read whole)."""
    return FormatError(
        path,
        line_no,
        f"line longer than the limit of {max_line_bytes:,} bytes (max_line_bytes); "
        f"is this really a file of the expected format?",
    )


def iter_handle_chunks(
    handle: BinaryIO,
    name: Path | str,
    encoding: str = "utf-8",
    chunk_bytes: int = 1 << 20,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    allow_cr: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """:func:`iter_line_chunks` on an open binary stream (a file or standard input); ``name`` is for errors.

    Reads with ``read1`` when the stream has it, so lines piped in are seen as they arrive.
    """
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be positive, got {max_line_bytes}")
    chunk_bytes = max(1, min(chunk_bytes, max_line_bytes))  # then only a carried line can be too long
    read = getattr(handle, "read1", handle.read)
    first = 1
    pending: list[bytes] = []  # the start of a line not finished yet
    pending_len = 0
    while True:
        data = read(chunk_bytes)
        eof = not data
        if eof:
            if not pending:
                return
            block, pending, pending_len = b"".join(pending), [], 0
        else:
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                pending.append(data)
                pending_len += len(data)
                if pending_len > max_line_bytes:
                    raise too_long(name, first, max_line_bytes)
                continue
            if pending:
                if pending_len + data.find(b"\n") > max_line_bytes:
                    raise too_long(name, first, max_line_bytes)
                pending.append(data[:cut])
                block = b"".join(pending)
            else:
                block = data[:cut] if cut < len(data) else data
            pending = [data[cut:]] if cut < len(data) else []
            pending_len = len(data) - cut
        check_bytes(name, first, block, allow_cr)
        try:
            text = block.decode(encoding)
        except UnicodeDecodeError as exc:
            offset = block.count(b"\n", 0, exc.start)
            line_start = block.rfind(b"\n", 0, exc.start) + 1
            raise decode_error(name, first + offset, exc, encoding, exc.start - line_start) from None
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if first == 1 and lines and lines[0].startswith(_BOM):
            lines[0] = lines[0][1:]
        yield first, lines
        first += len(lines)
        if eof:
            return


def iter_line_chunks(
    path: PathLike,
    encoding: str = "utf-8",
    chunk_bytes: int = 1 << 20,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    allow_cr: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(number_of_first_line, lines)`` for about ``chunk_bytes`` of the file at a time.

    Lines lose their ``\n``; a ``\r`` before it is kept (callers strip it with other trailing
    whitespace). Only ``\n`` ends a line: ``str.splitlines`` would also split on characters such as
    U+2028 that can be part of a token. A byte-order mark at the start of the file is dropped. The
    encoding must encode ``\n`` as the byte 0x0A (UTF-8, Latin-1 and the like, not UTF-16). Memory is
    bounded by ``chunk_bytes`` plus the longest line; see the module docstring for what raises.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        yield from iter_handle_chunks(
            handle, path, encoding, chunk_bytes, max_line_bytes=max_line_bytes, allow_cr=allow_cr
        )


def iter_lines(
    path: PathLike, encoding: str = "utf-8", *, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` with the line ending (``\n`` or ``\r\n``) removed."""
    for first, lines in iter_line_chunks(path, encoding, max_line_bytes=max_line_bytes):
        for line_no, line in enumerate(lines, first):
            yield line_no, line[:-1] if line.endswith("\r") else line


def read_text(path: PathLike, encoding: str = "utf-8") -> str:
    """The whole file decoded; an undecodable or NUL byte raises :class:`FormatError` with its line."""
    path = Path(path)
    data = path.read_bytes()
    check_bytes(path, 1, data, allow_cr=True)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise decode_error(path, line_no, exc, encoding, exc.start - line_start) from None
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
