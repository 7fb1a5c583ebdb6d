"""Sentence files read on demand (``in_memory=False``): a byte-offset index, one sentence parsed per access.

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
The byte-level rules of :mod:`polytag.formats._io` are checked by the scan, so they raise at
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
import logging
import operator
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from polytag.data import ConcatDataset, Sentence, SubsetDataset
from polytag.data.corpus import reads_from_disk
from polytag.errors import FormatError
from polytag.formats._io import (
    _LONE_CR,
    MAX_LINE_BYTES,
    PathLike,
    _decode_error,
    gc_paused,
    too_long,
)
from polytag.formats.column import (
    _Builder,
    _detect_span_columns,
    _Settings,
    blocks_from_lines,
    split_fields,
)
from polytag.formats.conllu import _SentenceParts, build_sentence, parse_lines
from polytag.formats.jsonl import parse_jsonl_line

log = logging.getLogger("polytag")

_CHUNK = 1 << 20  # bytes scanned at a time: the scan's memory does not grow with the file
_MAX_BLOCK = (1 << 31) - 1  # byte lengths are int32
_UTF8_BOM = b"\xef\xbb\xbf"
_NEWDOC = re.compile(rb"(?m)^#[^\n]*newdoc")
_RANGE_OR_EMPTY = re.compile(rb"(?m)^[0-9]+[-.]")


def _byte_table(members: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(members)] = True
    return table


_COLUMN_BLANK = _byte_table(b" \t\r\n")  # what rstrip(" \t\r") removes
# str.isspace() within ASCII; bytes >= 0x80 may or may not decode to a space (checked one by one)
_STR_SPACE = _byte_table(bytes([9, 10, 11, 12, 13, 28, 29, 30, 31, 32]))
_HIGH = np.arange(256) >= 0x80


def _line_bounds(arr: np.ndarray, eof: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without the ``\\n``) of the lines of a buffer; a last line without
    ``\\n`` counts only at the end of the file."""
    ends = np.flatnonzero(arr == 10)
    if eof and len(arr) and arr[-1] != 10:
        ends = np.append(ends, len(arr))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts, ends


def _any_in(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each line, whether ``mask`` is true at one of its bytes."""
    counts = np.zeros(len(mask) + 1, dtype=np.int64 if len(mask) >= 2**31 else np.int32)
    np.cumsum(mask, out=counts[1:])
    return counts[ends] > counts[starts]


def _starts_with(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, prefix: bytes) -> np.ndarray:
    ok = (ends - starts) >= len(prefix)
    last = len(arr) - 1
    for j, byte in enumerate(prefix):
        ok &= arr[np.minimum(starts + j, last)] == byte
    return ok


def _lines_of(buf: bytes, starts: np.ndarray, positions: Iterable[int]) -> np.ndarray:
    """Indices (unique, sorted) of the lines that hold the given byte positions."""
    found = np.fromiter(positions, dtype=np.int64)
    return np.unique(np.searchsorted(starts, found, side="right") - 1)


def _str_blank(
    buf: bytes, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, encoding: str
) -> np.ndarray:
    """Lines that are empty or all whitespace as ``str.isspace`` sees it (decoded only when non-ASCII)."""
    blank = ~_any_in(~_STR_SPACE[arr] & ~_HIGH[arr], starts, ends)
    for line in np.flatnonzero(blank & _any_in(_HIGH[arr], starts, ends)):
        try:
            blank[line] = buf[starts[line] : ends[line]].decode(encoding).isspace()
        except UnicodeDecodeError:
            blank[line] = False
    return blank


def _find_all(buf: bytes, needle: bytes) -> Iterator[int]:
    pos = buf.find(needle)
    while pos >= 0:
        yield pos
        pos = buf.find(needle, pos + 1)


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
            head = handle.read(len(_UTF8_BOM))
        if head == _UTF8_BOM and codecs.lookup(self.encoding).name in ("utf-8", "utf-8-sig"):
            return len(_UTF8_BOM)
        return 0

    def _scan(self) -> Iterator[tuple[np.ndarray, ...]]:
        """Feed the file to :meth:`_process` in chunks of whole lines; unconsumed bytes are carried over."""
        base = self._scan_start()
        limit = self.max_line_bytes
        chunk = min(_CHUNK, limit)  # then only a line carried over from one read to the next can be too long
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
                if len(buf) > _MAX_BLOCK:
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
        """NUL bytes and lone carriage returns raise (see :mod:`polytag.formats._io`)."""
        bad = buf.find(b"\x00", checked)
        what = "NUL byte (binary data, or a UTF-16/UTF-32 file? convert it to UTF-8)"
        if bad < 0 and buf.find(b"\r", checked) >= 0:
            match = _LONE_CR.search(buf, max(0, checked - 1))
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
                data = handle.read(min(remaining, _CHUNK))
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
            raise _decode_error(
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


# -- column files ---------------------------------------------------------------------------------


class IndexedColumnFile(IndexedSentenceFile):
    """A column (CoNLL) file read on demand; takes the arguments of
    :func:`polytag.formats.column.read_column_file`, plus ``detect_sentences`` and ``validate``.

    A sentence's block runs from its first comment (comments before a sentence belong to it, as in the
    whole-file reader) to its last line; the word count is the number of its data lines.
    """

    def __init__(
        self,
        path: PathLike,
        column_format: dict[int, str],
        *,
        span_layers: Iterable[str] | None = None,
        tag_scheme: str = "auto",
        comment_symbol: str | None = None,
        document_separator_token: str | None = "-DOCSTART-",
        encoding: str = "utf-8",
        label_name_map: dict[str, str] | None = None,
        skip_first_line: bool = False,
        detect_sentences: int = 10_000,
        validate: bool = False,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self._cfg = _Settings(
            path,
            column_format,
            span_layers,
            tag_scheme,
            comment_symbol,
            document_separator_token,
            encoding,
            label_name_map,
            skip_first_line,
            max_line_bytes,
        )
        self._comment = None if comment_symbol is None else comment_symbol.encode(encoding)
        self._docsep = None if document_separator_token is None else document_separator_token.encode(encoding)
        self._docseps_seen = 0
        self._pending_start: int | None = None  # first comment waiting for its sentence
        super().__init__(path, encoding, max_line_bytes)
        self._builder = _Builder(self._cfg, self._span_columns(detect_sentences))
        if validate:
            self.validate()

    def _scan_start(self) -> int:
        start = super()._scan_start()
        if not self._cfg.skip_first_line:
            return start
        with open(self.path, "rb") as handle:
            handle.seek(start)
            while True:
                data = handle.read(1 << 16)
                if not data:
                    return start
                cut = data.find(b"\n")
                if cut >= 0:
                    return start + cut + 1
                start += len(data)

    def _process(self, buf: bytes, base: int, eof: bool) -> tuple[int, tuple[np.ndarray, ...] | None]:
        arr = np.frombuffer(buf, dtype=np.uint8)
        starts, ends = _line_bounds(arr, eof)
        if not len(starts):
            return len(buf), None
        if self._comment is not None:
            comment = _starts_with(arr, starts, ends, self._comment)
        else:
            comment = np.zeros(len(starts), dtype=bool)
        blank = ~_any_in(~_COLUMN_BLANK[arr], starts, ends) & ~comment
        docsep = np.zeros(len(starts), dtype=bool)
        if self._docsep is not None:
            for line in _lines_of(buf, starts, _find_all(buf, self._docsep)):
                docsep[line] = not comment[line] and self._is_docsep(buf[starts[line] : ends[line]])
        breaker = blank | docsep
        if eof:
            n = len(starts)
            consumed = len(buf)
        else:  # only up to the last blank or separator line: the sentence after it may go on
            last = np.flatnonzero(breaker)
            if not len(last):
                return 0, None
            n = int(last[-1]) + 1
            consumed = int(ends[n - 1]) + 1
        breaker = breaker[:n]
        docs_before = np.cumsum(docsep[:n]) + self._docseps_seen
        self._docseps_seen = int(docs_before[-1])
        lines = np.flatnonzero(~breaker)
        if not len(lines):
            return consumed, None
        new = np.ones(len(lines), dtype=bool)
        new[1:] = lines[1:] != lines[:-1] + 1
        seg_first = lines[new]
        seg_last = lines[np.append(new[1:], True)]
        data = (~comment[:n])[lines].astype(np.int32)
        seg_words = np.add.reduceat(data, np.flatnonzero(new))
        with_words = np.flatnonzero(seg_words > 0)
        # comment-only segments belong to the next sentence: its block starts at the first of them
        first_seg = np.empty_like(with_words)
        if len(with_words):
            first_seg[0] = 0
            first_seg[1:] = with_words[:-1] + 1
        block_start = base + starts[seg_first[first_seg]]
        if len(with_words) and self._pending_start is not None:
            block_start[0] = self._pending_start
        if len(with_words):
            self._pending_start = None
            rest = int(with_words[-1]) + 1
        else:
            rest = 0
        if rest < len(seg_first) and self._pending_start is None:
            self._pending_start = base + int(starts[seg_first[rest]])
        block_end = base + ends[seg_last[with_words]]
        return consumed, (
            block_start.astype(np.int64),
            (block_end - block_start).astype(np.int64),
            seg_words[with_words].astype(np.int32),
            docs_before[seg_first[with_words]].astype(np.int64),
        )

    def _is_docsep(self, raw: bytes) -> bool:
        try:
            line = raw.decode(self.encoding).rstrip(" \t\r")
        except UnicodeDecodeError:
            return False  # not a separator; the sentence it is in reports the bad byte
        return bool(line) and split_fields(line)[0] == self._cfg.docsep

    def _finish_index(self) -> None:
        pending = self._pending
        self._tokens = np.concatenate([p[0] for p in pending]) if pending else np.zeros(0, dtype=np.int32)
        raw_docs = np.concatenate([p[1] for p in pending]) if pending else np.zeros(0, dtype=np.int64)
        # an empty document takes no number (as in the whole-file reader)
        docs = np.zeros(len(raw_docs), dtype=np.int32)
        if len(raw_docs) > 1:
            np.cumsum(raw_docs[1:] != raw_docs[:-1], out=docs[1:])
        self._docs = docs

    def _blocks(self, text: str) -> list[Any]:
        return [b for b in blocks_from_lines(self._cfg, [(1, text.split("\n"))]) if b is not None]

    def _span_columns(self, detect_sentences: int) -> set[int]:
        cfg = self._cfg
        if cfg.span_layers is not None or not len(self) or not cfg.label_columns():
            return _detect_span_columns(cfg, ())
        k = min(len(self), max(1, detect_sentences))
        start = int(self._offsets[0])
        with open(self.path, "rb") as handle:
            handle.seek(start)
            raw = handle.read(int(self._offsets[k - 1]) + int(self._lengths[k - 1]) - start)
        if k < len(self):
            log.info(
                "%s: span columns detected from the first %d of %d sentences (pass span_layers to decide)",
                self.path,
                k,
                len(self),
            )
        text = self._text(0, raw)
        with self._true_lines(0), gc_paused():
            blocks = self._blocks(text)
        return _detect_span_columns(cfg, blocks)

    def _parse(self, index: int, text: str) -> Sentence:
        blocks = self._blocks(text)
        if len(blocks) != 1:
            raise FormatError(
                self.path,
                1,
                f"expected one sentence at this index entry, found {len(blocks)} (file changed?)",
            )
        sentence = self._builder.build(blocks[0])
        sentence.document_id = f"{self.path.name}#{self._docs[index]}"
        return sentence

    @property
    def column_format(self) -> dict[int, str]:
        return dict(self._cfg.column_format)

    @property
    def span_layer_names(self) -> list[str]:
        """The layers read as spans (declared or detected)."""
        return [name for _, name in self._builder.span_cols]


# -- CoNLL-U --------------------------------------------------------------------------------------


class IndexedConlluFile(IndexedSentenceFile):
    """A CoNLL-U file read on demand (arguments of :func:`polytag.formats.conllu.read_conllu_file`).

    A block is a run of non-blank lines (comments and word lines). The word count leaves out comment,
    multiword-range and empty-node lines. ``# newdoc`` lines are read at scan time for document ids.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        encoding: str = "utf-8",
        extra_layers: bool = False,
        validate: bool = False,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.extra_layers = extra_layers
        self._docs_seen = 0
        self._doc_ids: dict[int, str] = {}
        super().__init__(path, encoding, max_line_bytes)
        if validate:
            self.validate()

    def _process(self, buf: bytes, base: int, eof: bool) -> tuple[int, tuple[np.ndarray, ...] | None]:
        arr = np.frombuffer(buf, dtype=np.uint8)
        starts, ends = _line_bounds(arr, eof)
        if not len(starts):
            return len(buf), None
        blank = _str_blank(buf, arr, starts, ends, self.encoding)
        if eof:
            n, consumed = len(starts), len(buf)
        else:
            last = np.flatnonzero(blank)
            if not len(last):
                return 0, None
            n = int(last[-1]) + 1
            consumed = int(ends[n - 1]) + 1
        lines = np.flatnonzero(~blank[:n])
        if not len(lines):
            return consumed, None
        starts, ends = starts[:n], ends[:n]
        words = (arr[starts] != ord("#")) & (starts < ends)
        special = _lines_of(buf, starts, (m.start() for m in _RANGE_OR_EMPTY.finditer(buf, 0, consumed)))
        words[special] = False
        new = np.ones(len(lines), dtype=bool)
        new[1:] = lines[1:] != lines[:-1] + 1
        heads = np.flatnonzero(new)
        seg_first = lines[new]
        seg_last = lines[np.append(new[1:], True)]
        seg_words = np.add.reduceat(words[lines].astype(np.int32), heads)
        # a segment holding a "# ... newdoc" line starts a document; the shared parser reads its id
        new_doc = np.zeros(len(seg_first), dtype=bool)
        doc_lines = _lines_of(buf, starts, (m.start() for m in _NEWDOC.finditer(buf, 0, consumed)))
        seg_of_line = np.searchsorted(seg_first, doc_lines, side="right") - 1
        doc_ids: dict[int, str] = {}
        for seg in np.unique(seg_of_line[seg_of_line >= 0]):
            seg = int(seg)
            text = buf[starts[seg_first[seg]] : ends[seg_last[seg]]].decode(self.encoding, "replace")
            events = []
            try:
                for event in parse_lines(self.path, [(1, text.split("\n"))]):
                    events.append(event)
            except FormatError:
                pass  # reported when the sentence is read
            if any(not isinstance(e, _SentenceParts) for e in events):
                new_doc[seg] = True
                ids = [e for e in events if isinstance(e, str)]
                if ids:
                    doc_ids[seg] = ids[-1]
        if self._docs_seen == 0:
            new_doc[0] = True  # the first sentence opens the first document
        docs = np.cumsum(new_doc) - 1 + self._docs_seen
        for seg, doc_id in doc_ids.items():
            self._doc_ids[int(docs[seg])] = doc_id
        self._docs_seen = int(docs[-1]) + 1
        block_start = base + starts[seg_first]
        return consumed, (
            block_start.astype(np.int64),
            (base + ends[seg_last] - block_start).astype(np.int64),
            seg_words.astype(np.int32),
            docs.astype(np.int32),
        )

    def _finish_index(self) -> None:
        pending = self._pending
        self._tokens = np.concatenate([p[0] for p in pending]) if pending else np.zeros(0, dtype=np.int32)
        self._docs = np.concatenate([p[1] for p in pending]) if pending else np.zeros(0, dtype=np.int32)

    def _parse(self, index: int, text: str) -> Sentence:
        # the blank line that ends the block is added, so that errors found there read as in the file
        parts = [
            e for e in parse_lines(self.path, [(1, text.split("\n") + [""])]) if isinstance(e, _SentenceParts)
        ]
        if len(parts) != 1:
            raise FormatError(
                self.path, 1, f"expected one sentence at this index entry, found {len(parts)} (file changed?)"
            )
        sentence = build_sentence(parts[0], self.extra_layers)
        doc = int(self._docs[index])
        sentence.document_id = self._doc_ids.get(doc, f"{self.path.name}#{doc}")
        return sentence


# -- JSON lines -----------------------------------------------------------------------------------


class IndexedJsonlFile(IndexedSentenceFile):
    """A JSON-lines file read on demand (arguments of :func:`polytag.formats.jsonl.read_jsonl_file`).

    Every non-blank line is one sentence. Word counts need a parse: :meth:`token_counts` makes one
    streaming pass the first time it is called.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        encoding: str = "utf-8",
        label_type: str = "class",
        span_type: str = "ner",
        validate: bool = False,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.label_type = label_type
        self.span_type = span_type
        super().__init__(path, encoding, max_line_bytes)
        if validate:
            self.validate()

    def _process(self, buf: bytes, base: int, eof: bool) -> tuple[int, tuple[np.ndarray, ...] | None]:
        arr = np.frombuffer(buf, dtype=np.uint8)
        starts, ends = _line_bounds(arr, eof)
        if not len(starts):
            return len(buf), None
        blank = _str_blank(buf, arr, starts, ends, self.encoding)
        keep = np.flatnonzero(~blank)
        return len(buf), (base + starts[keep], ends[keep] - starts[keep])

    def _parse(self, index: int, text: str) -> Sentence:
        return parse_jsonl_line(self.path, 1, text.removesuffix("\r"), self.label_type, self.span_type)


# -- datasets that wrap an index ------------------------------------------------------------------


def dataset_token_counts(data: Any) -> np.ndarray | None:
    """Words per sentence of a dataset without parsing it, or None when its storage does not know them.

    Looks through :class:`SubsetDataset` and :class:`ConcatDataset` (in-memory parts are counted from
    their sentences, which costs nothing) and datasets whose ``token_counts()`` comes from an index.
    """
    if isinstance(data, IndexedSentenceFile):
        return data.token_counts()
    if isinstance(data, SubsetDataset):
        inner = dataset_token_counts(data.dataset)
        return None if inner is None else inner[np.asarray(data.indices, dtype=np.int64)]
    if isinstance(data, ConcatDataset):
        parts = [dataset_token_counts(d) for d in data.datasets]
        if all(p is None for p in parts):
            return None
        filled = [
            p if p is not None else np.fromiter((len(s) for s in d), dtype=np.int32, count=len(d))
            for p, d in zip(parts, data.datasets)
        ]
        return np.concatenate(filled) if filled else np.zeros(0, dtype=np.int32)
    counts = getattr(data, "token_counts", None)
    if callable(counts):
        return counts()
    return None


is_lazy = reads_from_disk  # the name the readers' callers use: True for data read from disk on access
