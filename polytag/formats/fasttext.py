"""fastText classification files: ``__label__A __label__B the text`` one document a line.

The leading words that start with ``label_prefix`` are labels of ``label_type`` (value verbatim, without
the prefix); the rest of the line is the text. A line without labels is an unlabelled sentence. Blank
lines are skipped; a line with labels but no text is skipped with one warning per file giving the count
and the first line number. The byte-level rules of :mod:`polytag.formats.textio` apply (an undecodable or
NUL byte, a ``\\r`` inside a line or a line longer than ``max_line_bytes`` raise
:class:`~polytag.errors.FormatError` with the line; see ``docs/robustness.md``), and so does a line of
more than ``max_sentence_tokens`` tokens (:mod:`polytag.formats.limits`), before it is tokenized.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats.limits import MAX_LINE_BYTES, MAX_SENTENCE_TOKENS, check_token_count, too_many_tokens
from polytag.formats.spec import FormatSpec
from polytag.formats.textio import PathLike, atomic_writer, gc_paused, iter_lines

log = logging.getLogger("polytag")


def read_fasttext_file(
    path: PathLike,
    label_type: str = "class",
    label_prefix: str = "__label__",
    *,
    use_tokenizer: bool = True,
    encoding: str = "utf-8",
    label_name_map: dict[str, str] | None = None,
    max_line_bytes: int = MAX_LINE_BYTES,
    max_sentence_tokens: int = MAX_SENTENCE_TOKENS,
) -> list[Sentence]:
    """Read a fastText file into sentences with sentence labels of ``label_type``.

    ``label_name_map`` renames label values (applied after the prefix is removed). A line with more
    than ``max_sentence_tokens`` tokens (or labels) raises before its tokens are built.
    """
    if not label_prefix:
        raise ValueError("label_prefix must not be empty")
    path = Path(path)
    label_re = re.compile(r"\s*" + re.escape(label_prefix) + r"(\S*)")
    sentences: list[Sentence] = []
    no_text: list[int] = []
    with gc_paused():
        for line_no, line in iter_lines(path, encoding, max_line_bytes=max_line_bytes):
            if not line.strip():
                continue
            labels: list[str] = []
            pos = 0
            while (match := label_re.match(line, pos)) is not None:
                value = match.group(1)
                if not value:
                    raise FormatError(path, line_no, f"empty label after {label_prefix!r}")
                if label_name_map is not None:
                    value = label_name_map.get(value, value)
                labels.append(value)
                if len(labels) > max_sentence_tokens:
                    raise too_many_tokens(path, line_no, max_sentence_tokens)
                pos = match.end()
            rest = line[pos:]
            text = rest.strip()
            if not text:
                no_text.append(line_no)
                continue
            check_token_count(path, line_no, text, max_sentence_tokens, use_tokenizer)
            sentence = Sentence(text, use_tokenizer=use_tokenizer)
            for value in labels:
                sentence.add_label(label_type, value)
            sentences.append(sentence)
    if no_text:
        log.warning(
            "%s: skipped %d line(s) with labels but no text (first: line %d)", path, len(no_text), no_text[0]
        )
    return sentences


def write_fasttext_file(
    path: PathLike, sentences: Iterable[Sentence], label_type: str = "class", label_prefix: str = "__label__"
) -> None:
    """Write one ``__label__A __label__B text`` line a sentence, which :func:`read_fasttext_file` reads back.

    The text is the sentence's original text. What the format cannot hold raises :class:`FormatError`:
    an empty text, a line break, ``\\r`` or NUL in it, a text whose first word starts with the label
    prefix, and a label value that is empty or holds whitespace.
    """
    if not label_prefix:
        raise ValueError("label_prefix must not be empty")
    path = Path(path)
    with atomic_writer(path) as out:
        for index, sentence in enumerate(sentences):
            text = sentence.to_original_text().strip()
            if not text or "\n" in text or "\r" in text or "\x00" in text:
                raise FormatError(path, None, f"sentence {index}: text {text!r} cannot be one fastText line")
            if text.startswith(label_prefix):
                raise FormatError(path, None, f"sentence {index}: text {text!r} would be read as a label")
            parts = []
            for label in sentence.get_labels(label_type):
                value = label.value
                if not value or any(ch.isspace() for ch in value) or "\x00" in value:
                    raise FormatError(path, None, f"sentence {index}: label {value!r} cannot be written")
                parts.append(label_prefix + value)
            parts.append(text)
            line = " ".join(parts) + "\n"
            if index == 0 and line.startswith("\ufeff"):
                out.write("\ufeff")  # the reader drops one byte-order mark at the start of the file
            out.write(line)


FORMAT = FormatSpec(
    name="fasttext",
    extensions=(".fasttext",),
    read=read_fasttext_file,
    write=write_fasttext_file,
    corpus="ClassificationCorpus",
    description="__label__A text, one document a line",
)
"""The fastText format's record for :mod:`polytag.formats.registry`."""
