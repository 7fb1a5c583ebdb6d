"""JSON-lines files read on demand: the index of :class:`polytag.formats.indexed.IndexedSentenceFile` for
JSON lines (one sentence a non-blank line)."""

from __future__ import annotations

import numpy as np

from polytag.data import Sentence
from polytag.formats.bytescan import line_bounds, str_blank
from polytag.formats.indexed import IndexedSentenceFile
from polytag.formats.jsonl_parse import parse_jsonl_line
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.textio import PathLike

__all__ = ["IndexedJsonlFile"]


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
        max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
    ) -> None:
        self.label_type = label_type
        self.span_type = span_type
        self.max_sentence_tokens = max_sentence_tokens
        super().__init__(path, encoding, max_line_bytes)
        if validate:
            self.validate()

    def _process(self, buf: bytes, base: int, eof: bool) -> tuple[int, tuple[np.ndarray, ...] | None]:
        arr = np.frombuffer(buf, dtype=np.uint8)
        starts, ends = line_bounds(arr, eof)
        if not len(starts):
            return len(buf), None
        blank = str_blank(buf, arr, starts, ends, self.encoding)
        keep = np.flatnonzero(~blank)
        return len(buf), (base + starts[keep], ends[keep] - starts[keep])

    def _parse(self, index: int, text: str) -> Sentence:
        return parse_jsonl_line(
            self.path, 1, text.removesuffix("\r"), self.label_type, self.span_type, self.max_sentence_tokens
        )
