"""The line rules of CoNLL-U: word, range, empty-node and comment lines into sentence parts.

Shared by the whole-file reader (:mod:`polytag.formats.conllu`, where the rules are described) and the
on-demand index (:mod:`polytag.formats.conllu_index`), so that both read a file the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from sys import intern
from typing import Any

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.limits import MAX_SENTENCE_TOKENS, too_many_tokens

MULTIWORD_KEY = "multiword_tokens"
EMPTY_NODES_KEY = "empty_nodes"
COMMENT_KEY = "comment"
INTERNAL_KEYS = (MULTIWORD_KEY, EMPTY_NODES_KEY, COMMENT_KEY)
"""Metadata keys the reader fills from the file's structure (not from ``# key = value`` comments)."""

# (layer, column) of the word labels always read, then those read with extra_layers=True
_LAYERS = (("lemma", 2), ("upos", 3), ("pos", 4))  # then head and deprel, built with Flair's layers
_EXTRA_LAYERS = (("feats", 5), ("deps", 8), ("misc", 9))
_FIELD_NAMES = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")
DEPENDENCY_LAYER = "dependency"
"""Flair's name for the DEPREL column; filed beside ``deprel`` so that Flair scripts find it."""
_FEATS_CACHE: dict[str, tuple[tuple[str, str], ...]] = {}
_FEATS_CACHE_MAX = 50_000  # distinct FEATS strings kept split; EWT has about 1,000


def split_feats(feats: str) -> tuple[tuple[str, str], ...]:
    """``Number=Sing|Person=3`` -> ``(("number", "Sing"), ("person", "3"))``: Flair's layer per feature
    (lower-cased name); items without ``=`` (``_``) are skipped."""
    pairs = _FEATS_CACHE.get(feats)
    if pairs is None:
        found = []
        for item in feats.split("|"):
            name, sep, value = item.partition("=")
            if sep and name and value:
                found.append((name.lower(), value))
        pairs = tuple(found)
        if len(_FEATS_CACHE) >= _FEATS_CACHE_MAX:
            _FEATS_CACHE.clear()
        _FEATS_CACHE[feats] = pairs
    return pairs


class WordColumns:
    """HEAD, DEPREL and FEATS of a sentence's words, kept as one flat tuple of interned strings until
    a layer built from them is asked for (see :meth:`~polytag.data.Sentence.add_token_layer_group`).

    Calling it gives ``head`` and ``deprel`` (ours), then what Flair's UD reader files: ``dependency``
    (DEPREL again) and one layer per morphological feature (``number`` -> ``Sing``; None where a word
    lacks it) in name order, which is each word's own order since UD sorts FEATS by name. A feature
    named like a layer before it is left out.
    """

    __slots__ = ("columns",)

    def __init__(self, rows: Sequence[Sequence[str]]) -> None:
        columns = [row[6] for row in rows] + [row[7] for row in rows] + [row[5] for row in rows]
        self.columns = tuple([intern(value) for value in columns])

    def __call__(self) -> dict[str, Sequence[str | None]]:
        n = len(self.columns) // 3
        deprels = self.columns[n : 2 * n]
        layers: dict[str, Sequence[str | None]] = {
            "head": self.columns[:n],
            "deprel": deprels,
            DEPENDENCY_LAYER: deprels,
        }
        features: dict[str, list[str | None]] = {}
        for i, text in enumerate(self.columns[2 * n :]):
            if text == "_":
                continue
            for name, value in split_feats(text):
                values = features.get(name)
                if values is None:
                    values = features[name] = [None] * n
                if values[i] is None:  # a repeated feature keeps its first value
                    values[i] = value
        for name in sorted(features):
            layers.setdefault(name, features[name])
        return layers


def _number(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts ``²``, which ``int`` rejects)."""
    return text.isdigit() and text.isascii()


def _space_after_no(misc: str) -> bool:
    return misc != "_" and "SpaceAfter=No" in misc.split("|")


class SentenceParts:
    """One sentence as parsed, before the Sentence is built: word rows, spaces, metadata, ranges."""

    __slots__ = ("rows", "ws", "metadata", "ranges", "empty", "range_end", "range_no_space", "first_line")

    def __init__(self) -> None:
        self.rows: list[list[str]] = []
        self.ws: list[int] = []
        self.metadata: dict[str, Any] = {}
        self.ranges: list[dict[str, Any]] = []
        self.empty: list[str] = []
        self.range_end = 0
        self.range_no_space = False
        self.first_line = 0


# long: the per-line hot loop of the CoNLL-U reader; helper calls per line would cost read speed.
def parse_lines(
    path: Path, chunks: Iterable[tuple[int, list[str]]], max_sentence_tokens: int = MAX_SENTENCE_TOKENS
) -> Iterator[SentenceParts | str | None]:
    """The line rules of the format, shared by the whole-file and the per-sentence (lazy) readers.

    ``chunks`` yields ``(number of the first line, lines without their \\n)``; out come the events of
    :func:`polytag.formats.conllu.parse_file`.
    """
    parts = SentenceParts()
    for first, lines in chunks:
        for line_no, line in enumerate(lines, first):
            if line.endswith("\r"):
                line = line[:-1]
            if not line or line.isspace():
                if parts.rows:
                    if parts.range_end > len(parts.rows):
                        raise FormatError(
                            path, line_no, f"sentence ends inside a multiword token up to {parts.range_end}"
                        )
                    yield parts
                    parts = SentenceParts()
                elif parts.metadata or parts.empty:
                    raise FormatError(path, line_no, "comment lines without a sentence after them")
                continue
            if line[0] == "#":
                if parts.rows:
                    raise FormatError(path, line_no, "comment line inside a sentence (expected a word line)")
                body = line[1:].strip()
                key, sep, value = body.partition(" = ")
                if not sep and body.endswith(" ="):
                    key, sep, value = body[:-2], " =", ""
                if sep:
                    key = key.strip()
                    parts.metadata[key] = value
                    if key == "newdoc id":
                        yield value
                elif body in ("newdoc", "newpar") or body.startswith(("newdoc ", "newpar ")):
                    parts.metadata[body] = None
                    if body.startswith("newdoc"):
                        yield None
                else:
                    parts.metadata.setdefault(COMMENT_KEY, []).append(body)
                continue
            fields = line.split("\t")
            if len(fields) != 10:
                raise FormatError(
                    path,
                    line_no,
                    f"expected 10 tab-separated fields (ID FORM LEMMA UPOS XPOS FEATS HEAD "
                    f"DEPREL DEPS MISC), got {len(fields)}: {line!r}",
                )
            if "" in fields:
                name = _FIELD_NAMES[fields.index("")]
                raise FormatError(path, line_no, f"empty {name} field (write _ for no value): {line!r}")
            word_id = fields[0]
            n = len(parts.rows) + 1
            if _number(word_id):
                if int(word_id) != n:
                    raise FormatError(path, line_no, f"word ID {word_id!r} out of order; expected {n}")
                if not parts.rows:
                    parts.first_line = line_no
                elif n > max_sentence_tokens:
                    raise too_many_tokens(path, line_no, max_sentence_tokens)
                parts.rows.append(fields)
                if n < parts.range_end:
                    parts.ws.append(0)
                elif n == parts.range_end and parts.range_no_space:
                    parts.ws.append(0)
                else:
                    parts.ws.append(0 if _space_after_no(fields[9]) else 1)
            elif "-" in word_id:
                start_s, _, end_s = word_id.partition("-")
                if not (_number(start_s) and _number(end_s)) or int(start_s) != n or int(end_s) <= n:
                    raise FormatError(
                        path,
                        line_no,
                        f"multiword range {word_id!r} must be <next word>-<later word>; the next word is {n}",
                    )
                parts.range_end = int(end_s)
                parts.range_no_space = _space_after_no(fields[9])
                parts.ranges.append(
                    {"start": n - 1, "end": parts.range_end, "form": fields[1], "misc": fields[9]}
                )
            elif "." in word_id:
                major, _, minor = word_id.partition(".")
                if not (_number(major) and _number(minor)):
                    raise FormatError(path, line_no, f"empty node ID {word_id!r} must be <int>.<int>")
                parts.empty.append(line)
            else:
                raise FormatError(
                    path, line_no, f"ID {word_id!r} is not a word (1), range (1-2) or empty node (1.1)"
                )
    if parts.rows:
        if parts.range_end > len(parts.rows):
            raise FormatError(path, None, f"file ends inside a multiword token ending at {parts.range_end}")
        yield parts
    elif parts.metadata or parts.empty:
        raise FormatError(path, None, "comment lines at the end of the file without a sentence after them")


def build_sentence(parts: SentenceParts, extra_layers: bool) -> Sentence:
    """The sentence of one parsed block (its document is set by the caller)."""
    rows = parts.rows
    sentence = Sentence.from_tokens([row[1] for row in rows], parts.ws)
    for layer, column in _LAYERS:
        sentence.add_token_layer(layer, [row[column] for row in rows])
    sentence.add_token_layer_group(WordColumns(rows))  # one tuple, split on first use
    if extra_layers:
        for layer, column in _EXTRA_LAYERS:
            sentence.add_token_layer(layer, [row[column] for row in rows])
    metadata = parts.metadata
    if parts.ranges:
        metadata[MULTIWORD_KEY] = parts.ranges
    if parts.empty:
        metadata[EMPTY_NODES_KEY] = parts.empty
    sentence.metadata = metadata
    return sentence
