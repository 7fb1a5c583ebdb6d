"""Column (CoNLL) files read on demand: the index of :class:`polytag.formats.indexed.IndexedSentenceFile`
for the column format, parsing each sentence with the whole-file reader's rules."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.bytescan import COLUMN_BLANK, any_in, find_all, line_bounds, lines_of, starts_with
from polytag.formats.column_build import ColumnBuilder
from polytag.formats.column_parse import ColumnSettings, blocks_from_lines, detect_span_columns, split_fields
from polytag.formats.indexed import IndexedSentenceFile
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.textio import PathLike, gc_paused

log = logging.getLogger("polytag")

__all__ = ["IndexedColumnFile"]


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
        max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
    ) -> None:
        self._cfg = ColumnSettings(
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
            max_sentence_tokens,
        )
        self._comment = None if comment_symbol is None else comment_symbol.encode(encoding)
        self._docsep = None if document_separator_token is None else document_separator_token.encode(encoding)
        self._docseps_seen = 0
        self._pending_start: int | None = None  # first comment waiting for its sentence
        super().__init__(path, encoding, max_line_bytes)
        self._builder = ColumnBuilder(self._cfg, self._span_columns(detect_sentences))
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
        starts, ends = line_bounds(arr, eof)
        if not len(starts):
            return len(buf), None
        if self._comment is not None:
            comment = starts_with(arr, starts, ends, self._comment)
        else:
            comment = np.zeros(len(starts), dtype=bool)
        blank = ~any_in(~COLUMN_BLANK[arr], starts, ends) & ~comment
        docsep = np.zeros(len(starts), dtype=bool)
        if self._docsep is not None:
            for line in lines_of(buf, starts, find_all(buf, self._docsep)):
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
            return detect_span_columns(cfg, ())
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
        return detect_span_columns(cfg, blocks)

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
