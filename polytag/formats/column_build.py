"""Column blocks to labelled sentences: token and span layers, documents, and the tag-repair report.

Shared by the whole-file readers and the on-demand index; labels are filed with the bulk API of
:class:`~polytag.data.Sentence` (``add_token_layer``, ``add_span_layer``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

from polytag.data import Sentence, link_document
from polytag.errors import FormatError
from polytag.formats.column_parse import Block, ColumnSettings
from polytag.formats.tags import BadTag, TagStats, decode_tags, expected_forms
from polytag.formats.textio import gc_paused

log = logging.getLogger("polytag")


class ColumnBuilder:
    """Turns raw blocks into labelled sentences and tracks documents and tag repairs."""

    def __init__(self, cfg: ColumnSettings, span_cols: set[int]) -> None:
        self.cfg = cfg
        columns = cfg.label_columns()
        self.token_cols = [(c, name) for c, name in columns if c not in span_cols]
        self.span_cols = [(c, name) for c, name in columns if c in span_cols]
        self.stats: dict[str, TagStats] = {name: TagStats() for _, name in self.span_cols}
        self.caches: dict[int, dict[str, Any]] = {c: {} for c, _ in self.span_cols}
        self.document: list[Sentence] = []
        self.doc_index = 0

    def build(self, block: Block) -> Sentence:
        """The labelled sentence of one block (its document is linked by :meth:`end_document`)."""
        rows, line_nos, comments = block
        cfg = self.cfg
        text_col = cfg.text_col
        name_map = cfg.label_name_map
        sentence = Sentence.from_tokens([row[text_col] for row in rows])
        for c, layer in self.token_cols:
            values = [row[c] for row in rows]
            if name_map is not None:
                values = [name_map.get(v, v) for v in values]
            sentence.add_token_layer(layer, values)
        for c, layer in self.span_cols:
            tags = [row[c] for row in rows]
            try:
                spans = decode_tags(tags, cfg.tag_scheme, self.stats[layer], self.caches[c])
            except BadTag as exc:
                raise FormatError(
                    cfg.path,
                    line_nos[exc.index],
                    f"column {c} ({layer!r}) holds tag {exc.tag!r}; expected "
                    f"{expected_forms(cfg.tag_scheme)} (tag_scheme={cfg.tag_scheme!r})",
                ) from None
            if name_map is not None:
                spans = [(start, end, name_map.get(typ, typ)) for start, end, typ in spans]
                spans = [span for span in spans if span[2] != "O"]
            sentence.add_span_layer(layer, spans)  # in text order, as decoded
        if comments:
            sentence.metadata["comment"] = comments
        return sentence

    def end_document(self) -> list[Sentence]:
        """The finished document's sentences, linked; an empty document takes no number."""
        sentences = self.document
        if not sentences:
            return []
        link_document(sentences, f"{self.cfg.path.name}#{self.doc_index}")
        self.doc_index += 1
        self.document = []
        return sentences

    def report(self) -> None:
        """Log one warning with the counts of repaired tags, if any (once per file)."""
        parts = []
        total = 0
        for layer, stats in self.stats.items():
            scheme = stats.resolved_scheme(self.cfg.tag_scheme)
            for kind, n in stats.repairs(self.cfg.tag_scheme).items():
                parts.append(f"{layer} ({scheme}): {n} x {kind}")
                total += n
        if total:
            log.warning(
                "%s: repaired %d invalid tag(s) [%s]; policy: such a tag starts a new span of its type",
                self.cfg.path,
                total,
                "; ".join(parts),
            )


def documents(
    cfg: ColumnSettings, blocks: Iterable[Block | None], span_cols: set[int]
) -> Iterator[list[Sentence]]:
    """One list of linked sentences per document (the garbage collector paused while one is built)."""
    builder = ColumnBuilder(cfg, span_cols)
    blocks = iter(blocks)
    while True:
        with gc_paused():
            done = True
            for block in blocks:
                if block is None:
                    document = builder.end_document()
                    if document:
                        done = False
                        break
                else:
                    builder.document.append(builder.build(block))
            else:
                document = builder.end_document()
        if document:
            yield document
        if done:
            break
    builder.report()
