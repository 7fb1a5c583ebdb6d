"""Sentence files read on demand (``in_memory=False``): a byte-offset index, one sentence parsed per access.

This module holds the base class; each format's index lives beside it (:mod:`polytag.formats.column_index`,
:mod:`polytag.formats.conllu_index`, :mod:`polytag.formats.jsonl_index`).

A corpus of millions of sentences does not fit in memory as :class:`~polytag.data.Sentence` objects
(a sentence of 20 tokens with two label layers costs several kilobytes). An
:class:`IndexedSentenceFile` scans its file once, in binary, and keeps only numpy arrays: the byte
offset (int64) and byte length (int32) of every sentence, its word count (int32, so that token-budget
batching needs no parse) and its document number (int32). That is about 20 bytes a sentence; the file's
text stays on disk. ``dataset[i]`` reads those bytes and parses them with the *same* line rules as the
whole-file reader (:func:`polytag.formats.column.blocks_from_lines`,
:func:`polytag.formats.conllu.parse_lines`, :func:`polytag.formats.jsonl.parse_jsonl_line`), every
time: nothing is cached, so memory stays flat however long training runs, and labels added to a
sentence (predictions) are gone the next time it is read.

**Errors.** The scan only finds sentence boundaries (blank lines, ``-DOCSTART-`` lines, comments); it
does not check the fields. A malformed sentence raises :class:`~polytag.errors.FormatError` when it is
read, naming the file and its real line number (counted from the file on the error path only). Pass
``validate=True`` to parse every sentence once at construction (still flat memory, but as slow as a
full read). The index assumes the file does not change; a changed size or modification time raises.
The byte-level rules of :mod:`polytag.formats.textio` are checked by the scan, so they raise at
construction with their line: a NUL byte, a ``\\r`` inside a line, and a line longer than
``max_line_bytes`` (the scan stops after about that many bytes of it: a 1 GB line is never held whole).
A sentence block of 2 GiB or more cannot be indexed and raises too.

**What differs from the whole-file readers.**

- Documents: every sentence gets the ``document_id`` the whole-file reader gives it (``"<file>#<n>"``,
  a CoNLL-U ``newdoc id``, a JSONL ``document_id``), but sentences are *not linked*:
  ``previous_sentence()``/``next_sentence()`` return None, so document context (FLERT's
  ``use_context``) sees no neighbours.
- Column files: which columns hold BIO/BIOES tags (span labels) is taken from ``span_layers`` when given
  (the named corpora do), else detected from the first ``detect_sentences`` sentences (default 10,000)
  instead of the whole file; a later value that is not a tag then raises at access. Invalid-sequence
  repairs are applied as usual but not summarised in a warning.
- JSONL: word counts are not known without parsing; :meth:`IndexedSentenceFile.token_counts` parses
  every line once (streaming) the first time it is asked and keeps the counts.
"""

from __future__ import annotations

import codecs
import contextlib
import operator
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.bytescan import MAX_BLOCK, SCAN_CHUNK, UTF8_BOM
from polytag.formats.textio import LONE_CR, MAX_LINE_BYTES, PathLike, decode_error, too_long

__all__ = ["IndexedSentenceFile"]


class IndexedSentenceFile:
    """A sentence file as a random-access dataset: ``len``, ``dataset[i]``, iteration; nothing cached.

    The base of :class:`IndexedColumnFile`, :class:`IndexedConlluFile` and :class:`IndexedJsonlFile`;
    see the module docstring for what is indexed and what differs from the whole-file readers.
    """

    def __init__(self, path: PathLike, encoding: str = "utf-8", max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.path = Path(path)
        self.encoding = encoding
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be positive, got {max_line_bytes}")
        self.max_line_bytes = max_line_bytes
        stat = os.stat(self.path)
        self._stamp = (stat.st_size, stat.st_mtime_ns)
        self._fd: int | None = None
        self._fd_pid = -1
        offsets: list[np.ndarray] = []
        lengths: list[np.ndarray] = []
        self._pending: list[tuple[np.ndarray, ...]] = []
        for parts in self._scan():
            offsets.append(parts[0])
            lengths.append(parts[1])
            self._pending.append(parts[2:])
        self._offsets = np.concatenate(offsets) if offsets else np.zeros(0, dtype=np.int64)
        self._lengths = (np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)).astype(np.int32)
        self._tokens: np.ndarray | None = None
        self._finish_index()
        del self._pending

    # -- what subclasses provide -------------------------------------------------------------------
    def _process(self, buf: bytes, base: int, eof: bool) -> tuple[int, tuple[np.ndarray, ...] | None]:
        """Index the complete sentences of ``buf`` (file offset ``base``): bytes consumed and arrays."""
        raise NotImplementedError

    def _finish_index(self) -> None:
        """Turn the per-chunk extra arrays in ``self._pending`` into the subclass's index."""

    def _parse(self, index: int, text: str) -> Sentence:
        """The sentence of one block's text (lines numbered from 1; the caller shifts errors)."""
        raise NotImplementedError

    # -- scanning ----------------------------------------------------------------------------------
    def _scan_start(self) -> int:
        with open(self.path, "rb") as handle:
            head = handle.read(len(UTF8_BOM))
        if head == UTF8_BOM and codecs.lookup(self.encoding).name in ("utf-8", "utf-8-sig"):
            return len(UTF8_BOM)
        return 0

    def _scan(self) -> Iterator[tuple[np.ndarray, ...]]:
        """Feed the file to :meth:`_process` in chunks of whole lines; unconsumed bytes are carried over."""
        base = self._scan_start()
        limit = self.max_line_bytes
        chunk = min(
            SCAN_CHUNK, limit
        )  # then only a line carried over from one read to the next can be too long
        with open(self.path, "rb") as handle:
            handle.seek(base)
            carry = b""
            checked = 0  # bytes at the start of carry already checked for NUL and lone \r
            tail_len = 0  # length of the unfinished line at the end of carry
            while True:
                data = handle.read(chunk)
                eof = not data
                if tail_len:
                    end = data.find(b"\n")
                    if tail_len + (len(data) if end < 0 else end) > limit:
                        raise too_long(self.path, self._line_at(base + len(carry) - tail_len), limit)
                buf = carry + data if carry else data
                tail = b""
                if not eof:
                    cut = buf.rfind(b"\n") + 1
                    tail_len = len(buf) - cut
                    if cut == 0:
                        carry = buf
                        continue
                    buf, tail = buf[:cut], buf[cut:]
                self._check_bytes(buf, base, checked)
                if len(buf) > MAX_BLOCK:
                    raise FormatError(
                        self.path, self._line_at(base), "a sentence of 2 GiB or more cannot be indexed"
                    )
                consumed, parts = self._process(buf, base, eof)
                if parts is not None:
                    yield parts
                carry = buf[consumed:] + tail
                checked = len(buf) - consumed
                base += consumed
                if eof:
                    return

    def _check_bytes(self, buf: bytes, base: int, checked: int) -> None:
        """NUL bytes and lone carriage returns raise (see :mod:`polytag.formats.textio`)."""
        bad = buf.find(b"\x00", checked)
        what = "NUL byte (binary data, or a UTF-16/UTF-32 file? convert it to UTF-8)"
        if bad < 0 and buf.find(b"\r", checked) >= 0:
            match = LONE_CR.search(buf, max(0, checked - 1))
            bad = -1 if match is None else match.start()
            what = "carriage return (\\r) inside a line (classic-Mac \\r line ends? convert them to \\n)"
        if bad >= 0:
            line = self._line_at(base) + buf.count(b"\n", 0, bad)
            column = bad - (buf.rfind(b"\n", 0, bad) + 1)
            raise FormatError(self.path, line, f"{what} at byte {column + 1} of the line")

    def _line_at(self, offset: int) -> int:
        """The number of the line that holds byte ``offset`` of the file (error path only)."""
        remaining = offset
        count = 0
        with open(self.path, "rb") as handle:
            while remaining > 0:
                data = handle.read(min(remaining, SCAN_CHUNK))
                if not data:
                    break
                count += data.count(b"\n")
                remaining -= len(data)
        return count + 1

    # -- access ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._offsets)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = operator.index(index)
        n = len(self._offsets)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"sentence {index} of {n}")
        return self._sentence(i, self._read(i))

    def __iter__(self) -> Iterator[Sentence]:
        """All sentences in file order, read sequentially (one at a time in memory)."""
        with open(self.path, "rb", buffering=1 << 20) as handle:
            self._check_unchanged(os.fstat(handle.fileno()))
            for i in range(len(self._offsets)):
                handle.seek(int(self._offsets[i]))
                yield self._sentence(i, handle.read(int(self._lengths[i])))

    def _read(self, i: int) -> bytes:
        pid = os.getpid()
        if self._fd is None or self._fd_pid != pid:  # a forked worker opens its own descriptor
            self._fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            self._fd_pid = pid
            self._check_unchanged(os.fstat(self._fd))
        offset, length = int(self._offsets[i]), int(self._lengths[i])
        if hasattr(os, "pread"):
            return os.pread(self._fd, length, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        return os.read(self._fd, length)

    def _check_unchanged(self, stat: os.stat_result) -> None:
        if (stat.st_size, stat.st_mtime_ns) != self._stamp:
            raise FormatError(self.path, None, "the file changed after it was indexed; index it again")

    def _sentence(self, i: int, raw: bytes) -> Sentence:
        text = self._text(i, raw)
        with self._true_lines(i):
            return self._parse(i, text)

    def _text(self, i: int, raw: bytes) -> str:
        """The decoded bytes of sentence ``i``'s block; an undecodable byte names its true line."""
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start)
            line_start = raw.rfind(b"\n", 0, exc.start) + 1
            raise decode_error(
                self.path, self.line_number(i) + line, exc, self.encoding, exc.start - line_start
            ) from None

    @contextlib.contextmanager
    def _true_lines(self, i: int) -> Iterator[None]:
        """Blocks are parsed with lines numbered from 1; errors get the line number in the file."""
        try:
            yield
        except FormatError as exc:
            if exc.line is None or exc.path != str(self.path):
                raise
            raise FormatError(self.path, self.line_number(i) + exc.line - 1, exc.message) from None

    def line_number(self, index: int) -> int:
        """The line on which sentence ``index`` begins (counts the file's newlines: for error messages)."""
        return self._line_at(int(self._offsets[index]))

    def token_counts(self) -> np.ndarray:
        """Words per sentence (int32), from the index; what token-budget batching sorts by."""
        if self._tokens is None:  # formats whose scan cannot count words (JSONL): one streaming pass
            self._tokens = np.fromiter((len(s) for s in self), dtype=np.int32, count=len(self))
        return self._tokens

    def byte_offsets(self) -> np.ndarray:
        """Where each sentence's block begins in the file (int64)."""
        return self._offsets

    def validate(self) -> None:
        """Parse every sentence once (streaming): a malformed one raises :class:`FormatError` now."""
        for _ in self:
            pass

    def is_in_memory(self) -> bool:
        return False

    def close(self) -> None:
        if self._fd is not None and self._fd_pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, {len(self)} sentences)"
