"""CoNLL-U files read on demand: the index of :class:`polytag.formats.indexed.IndexedSentenceFile` for
CoNLL-U, parsing each sentence with the whole-file reader's rules."""

from __future__ import annotations

import numpy as np

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.bytescan import NEWDOC, RANGE_OR_EMPTY, line_bounds, lines_of, str_blank
from polytag.formats.conllu_parse import SentenceParts, build_sentence, parse_lines
from polytag.formats.indexed import IndexedSentenceFile
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.textio import PathLike

__all__ = ["IndexedConlluFile"]


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
        max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
    ) -> None:
        self.extra_layers = extra_layers
        self._docs_seen = 0
        self._doc_ids: dict[int, str] = {}
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
        special = lines_of(buf, starts, (m.start() for m in RANGE_OR_EMPTY.finditer(buf, 0, consumed)))
        words[special] = False
        new = np.ones(len(lines), dtype=bool)
        new[1:] = lines[1:] != lines[:-1] + 1
        heads = np.flatnonzero(new)
        seg_first = lines[new]
        seg_last = lines[np.append(new[1:], True)]
        seg_words = np.add.reduceat(words[lines].astype(np.int32), heads)
        # a segment holding a "# ... newdoc" line starts a document; the shared parser reads its id
        new_doc = np.zeros(len(seg_first), dtype=bool)
        doc_lines = lines_of(buf, starts, (m.start() for m in NEWDOC.finditer(buf, 0, consumed)))
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
            if any(not isinstance(e, SentenceParts) for e in events):
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
            e
            for e in parse_lines(self.path, [(1, text.split("\n") + [""])], self.max_sentence_tokens)
            if isinstance(e, SentenceParts)
        ]
        if len(parts) != 1:
            raise FormatError(
                self.path, 1, f"expected one sentence at this index entry, found {len(parts)} (file changed?)"
            )
        sentence = build_sentence(parts[0], self.extra_layers)
        doc = int(self._docs[index])
        sentence.document_id = self._doc_ids.get(doc, f"{self.path.name}#{doc}")
        return sentence
