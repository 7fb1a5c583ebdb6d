"""CoNLL-U (Universal Dependencies) files.

Each word line (integer ID) becomes a token with the TOKEN labels ``lemma``, ``upos``, ``pos`` (XPOS),
``head`` (the head's ID as a string) and ``deprel``, values verbatim (``_`` included); with
``extra_layers=True`` also ``feats``, ``deps`` and ``misc``. As Flair's UD reader does, each word also
gets ``dependency`` (DEPREL again) and one layer per morphological feature of its FEATS, named by the
lower-cased feature (``Number=Sing`` -> ``number`` = ``Sing``). All layers are built on first use only.

- Multiword-token ranges (``1-2``) and empty nodes (``8.1``) are not tokens. A range is kept in
  ``sentence.metadata["multiword_tokens"]`` as ``{"start", "end", "form", "misc"}`` with 0-based token
  indices ``[start, end)``; the words inside a range get ``whitespace_after = 0`` except the last, which
  takes the range's ``SpaceAfter``. Empty nodes are kept as raw lines in ``metadata["empty_nodes"]``.
- ``SpaceAfter=No`` in MISC sets ``token.whitespace_after = 0``.
- A comment ``# key = value`` becomes ``metadata[key] = value``; ``# newdoc`` / ``# newpar`` without a
  value become keys with the value None; other comments go to the list ``metadata["comment"]``.
- ``# newdoc`` starts a document: its sentences share ``document_id`` (the ``newdoc id`` or
  ``"<file name>#<n>"``) and are linked (``previous_sentence()``/``next_sentence()``). A file without
  ``newdoc`` is one document.
- A line that is not a comment, blank, or ten tab-separated non-empty fields with a valid ID (ASCII
  digits) raises :class:`~polytag.errors.FormatError` with file and line, as do the byte-level
  problems of :mod:`polytag.formats.textio` (undecodable or NUL byte, ``\\r`` inside a line, a line longer
  than ``max_line_bytes``), and a sentence of more than ``max_sentence_tokens`` words
  (:mod:`polytag.formats.limits`). See ``docs/robustness.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from polytag.data import Sentence, link_document
from polytag.errors import FormatError
from polytag.formats.conllu_index import IndexedConlluFile
from polytag.formats.conllu_parse import (
    COMMENT_KEY,
    EMPTY_NODES_KEY,
    INTERNAL_KEYS,
    MULTIWORD_KEY,
    SentenceParts,
    build_sentence,
    parse_lines,
)
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS
from polytag.formats.spec import FormatSpec
from polytag.formats.textio import PathLike, atomic_writer, gc_paused, iter_line_chunks

__all__ = [
    "COMMENT_KEY",
    "EMPTY_NODES_KEY",
    "FORMAT",
    "MULTIWORD_KEY",
    "IndexedConlluFile",
    "iter_conllu_file",
    "read_conllu_file",
    "write_conllu_file",
]


def parse_file(
    path: Path,
    encoding: str,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> Iterator[SentenceParts | str | None]:
    """Yield sentences' parts, a document id (``str``) or None (a ``newdoc`` without id) when one starts."""
    chunks = iter_line_chunks(path, encoding, max_line_bytes=max_line_bytes)
    return parse_lines(path, chunks, max_sentence_tokens)


def iter_conllu_file(
    path: PathLike,
    *,
    encoding: str = "utf-8",
    extra_layers: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> Iterator[Sentence]:
    """Yield the sentences of a CoNLL-U file one document at a time (a document is linked first)."""
    path = Path(path)
    document: list[Sentence] = []
    doc_id: str | None = None
    doc_count = 0
    pending_id: str | None = None
    pending_new = False
    events = parse_file(path, encoding, max_line_bytes, max_sentence_tokens)
    while True:
        with gc_paused():
            finished: list[Sentence] = []
            done = True
            for event in events:
                if isinstance(event, SentenceParts):
                    if pending_new or not document:
                        if document:
                            link_document(document, doc_id)
                            finished = document
                            document = []
                        doc_id = pending_id if pending_id is not None else f"{path.name}#{doc_count}"
                        doc_count += 1
                        pending_new, pending_id = False, None
                    document.append(build_sentence(event, extra_layers))
                    if finished:
                        done = False
                        break
                else:  # a newdoc comment: the next sentence starts a document
                    pending_new = True
                    if event is not None:
                        pending_id = event
            else:
                if document:
                    link_document(document, doc_id)
                finished, document = document, []
        if finished:
            yield from finished
        if done:
            return


def read_conllu_file(
    path: PathLike,
    *,
    encoding: str = "utf-8",
    extra_layers: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> list[Sentence]:
    """Read a whole CoNLL-U file (see the module docstring for what becomes what)."""
    with gc_paused():
        return list(
            iter_conllu_file(
                path,
                encoding=encoding,
                extra_layers=extra_layers,
                max_line_bytes=max_line_bytes,
                max_sentence_tokens=max_sentence_tokens,
            )
        )


def _label_value(token: Any, layer: str) -> str:
    labels = token.annotation_layers.get(layer)
    return labels[0].value if labels else "_"


# long: one pass that writes the ten CoNLL-U columns of each token; the columns share per-token state.
def write_conllu_file(path: PathLike, sentences: Iterable[Sentence]) -> None:
    """Write sentences as CoNLL-U; :func:`read_conllu_file` reads back the same tokens, labels and metadata.

    Missing labels are written as ``_``. Metadata is written as comments in its order (a missing
    ``text`` is added); ``multiword_tokens`` and ``empty_nodes`` metadata become range and empty-node
    lines again. ``SpaceAfter=No`` is written for a token with ``whitespace_after == 0`` unless a
    ``misc`` label says otherwise. A new ``document_id`` without ``newdoc`` metadata gets a
    ``# newdoc id`` line.
    """
    path = Path(path)

    def field(value: str, index: int, what: str) -> str:
        if not value or "\t" in value or "\n" in value or "\r" in value or "\x00" in value:
            raise FormatError(path, None, f"sentence {index}: {what} {value!r} cannot be a CoNLL-U field")
        return value

    def comment(line: str, index: int) -> str:
        """A comment line, refused when the reader would not give back what it says."""
        body = line[1:].strip()
        if "\n" in line or "\r" in line or "\x00" in line or body != line[2:]:
            raise FormatError(path, None, f"sentence {index}: {line!r} cannot be written as a comment line")
        return line

    with atomic_writer(path) as out:
        current_doc: Any = object()
        for index, sentence in enumerate(sentences):
            if len(sentence) == 0:
                raise FormatError(path, None, f"sentence {index} has no tokens; CoNLL-U cannot hold it")
            lines: list[str] = []
            metadata = sentence.metadata
            if sentence.document_id != current_doc:
                current_doc = sentence.document_id
                has_newdoc = any(key == "newdoc" or key.startswith("newdoc ") for key in metadata)
                if current_doc is not None and not has_newdoc:
                    lines.append(f"# newdoc id = {current_doc}")
            for key, value in metadata.items():
                if key in INTERNAL_KEYS:
                    continue
                if value is None:
                    lines.append(comment(f"# {key}", index))
                elif " = " in key or key != key.strip():
                    raise FormatError(path, None, f"sentence {index}: metadata key {key!r} cannot be written")
                else:
                    line = f"# {key} = {value}"
                    lines.append(line if value == "" else comment(line, index))
            for text in metadata.get(COMMENT_KEY, ()):
                if " = " in text:
                    raise FormatError(
                        path, None, f"sentence {index}: comment {text!r} would be read back as metadata"
                    )
                lines.append(comment(f"# {text}", index))
            if "text" not in metadata:
                lines.append(f"# text = {sentence.text}")
            ranges = {r["start"]: r for r in metadata.get(MULTIWORD_KEY, ())}
            empty_after: dict[int, list[str]] = {}
            for raw in metadata.get(EMPTY_NODES_KEY, ()):
                empty_after.setdefault(int(raw.split("\t", 1)[0].split(".", 1)[0]), []).append(raw)
            lines.extend(empty_after.get(0, ()))
            inside_until = 0  # tokens before this index are covered by a range line
            for i, token in enumerate(sentence.tokens):
                r = ranges.get(i)
                if r is not None:
                    if not i < r["end"] <= len(sentence):
                        raise FormatError(path, None, f"sentence {index}: bad multiword range {r!r}")
                    form = field(r["form"], index, "multiword form")
                    misc = field(r.get("misc") or "_", index, "multiword misc")
                    lines.append(f"{i + 1}-{r['end']}\t{form}" + "\t_" * 7 + f"\t{misc}")
                    inside_until = r["end"]
                misc_labels = token.annotation_layers.get("misc")
                if misc_labels:
                    misc = misc_labels[0].value
                elif token.whitespace_after == 0 and i >= inside_until:
                    misc = "SpaceAfter=No"
                else:
                    misc = "_"
                lines.append(
                    "\t".join(
                        (
                            str(i + 1),
                            field(token.form, index, "token"),
                            field(_label_value(token, "lemma"), index, "lemma"),
                            field(_label_value(token, "upos"), index, "upos"),
                            field(_label_value(token, "pos"), index, "pos"),
                            field(_label_value(token, "feats"), index, "feats"),
                            field(_label_value(token, "head"), index, "head"),
                            field(_label_value(token, "deprel"), index, "deprel"),
                            field(_label_value(token, "deps"), index, "deps"),
                            field(misc, index, "misc"),
                        )
                    )
                )
                lines.extend(empty_after.get(i + 1, ()))
            out.write("\n".join(lines) + "\n\n")


FORMAT = FormatSpec(
    name="conllu",
    extensions=(".conllu",),
    read=read_conllu_file,
    stream=iter_conllu_file,
    index=IndexedConlluFile,
    write=write_conllu_file,
    corpus="UniversalDependenciesCorpus",
    description="Universal Dependencies CoNLL-U",
)
"""The CoNLL-U format's record for :mod:`polytag.formats.registry`."""
