"""fastText classification files: ``__label__A __label__B the text`` one document a line.

The leading words that start with ``label_prefix`` are labels of ``label_type`` (value verbatim, without
the prefix); the rest of the line is the text. A line without labels is an unlabelled sentence. Blank
lines are skipped; a line with labels but no text is skipped with one warning per file giving the count
and the first line number.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from polytag.data import Sentence
from polytag.errors import FormatError
from polytag.formats._io import PathLike, gc_paused, iter_lines

log = logging.getLogger("polytag")


def read_fasttext_file(
    path: PathLike,
    label_type: str = "class",
    label_prefix: str = "__label__",
    *,
    use_tokenizer: bool = True,
    encoding: str = "utf-8",
    label_name_map: dict[str, str] | None = None,
) -> list[Sentence]:
    """Read a fastText file into sentences with sentence labels of ``label_type``.

    ``label_name_map`` renames label values (applied after the prefix is removed).
    """
    if not label_prefix:
        raise ValueError("label_prefix must not be empty")
    path = Path(path)
    label_re = re.compile(r"\s*" + re.escape(label_prefix) + r"(\S*)")
    sentences: list[Sentence] = []
    no_text: list[int] = []
    with gc_paused():
        for line_no, line in iter_lines(path, encoding):
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
                pos = match.end()
            rest = line[pos:]
            text = rest.strip()
            if not text:
                no_text.append(line_no)
                continue
            sentence = Sentence(text, use_tokenizer=use_tokenizer)
            for value in labels:
                sentence.add_label(label_type, value)
            sentences.append(sentence)
    if no_text:
        log.warning(
            "%s: skipped %d line(s) with labels but no text (first: line %d)", path, len(no_text), no_text[0]
        )
    return sentences
