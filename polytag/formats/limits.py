"""The caps that bound a reader's memory on hostile input, in one place, and the cheap checks behind them.

- :data:`MAX_LINE_BYTES` (64 MiB): the longest line a reader accepts; a longer one raises
  :class:`~polytag.errors.FormatError` after about that many bytes, without being read whole.
- :data:`MAX_SENTENCE_TOKENS` (100,000): the most tokens one sentence (a fastText or JSON-lines line,
  a plain-text line, a column or CoNLL-U block) may have. It is checked *before* any per-token object
  is built: one 50 MB line of single-letter words would otherwise become 26 million Token objects
  (gigabytes) before anything could object. Readers take it as ``max_sentence_tokens``.
- :data:`JSON_VALUES_PER_TOKEN` (32): a JSON line is refused before it is parsed when it could hold
  more than this many values a token of the cap (counted by its commas, which is cheap): parsing a
  full-form line builds every value at once, so the cap must be checked on the raw text.

The checks cost nothing on ordinary lines: a text no longer than the cap (in characters) cannot hold
more tokens than the cap, so only longer texts are counted, lazily and in pieces of bounded size.
"""

from __future__ import annotations

import itertools
import os
import re

from polytag.data.tokenizer import tokenize
from polytag.errors import FormatError

__all__ = [
    "JSON_VALUES_PER_TOKEN",
    "MAX_LINE_BYTES",
    "MAX_SENTENCE_TOKENS",
    "check_json_size",
    "check_token_count",
    "count_tokens",
    "token_cap_message",
    "too_many_tokens",
]

MAX_LINE_BYTES = 64 << 20
"""The longest line (in bytes, without its ``\\n``) a reader accepts unless told otherwise."""

MAX_SENTENCE_TOKENS = 100_000
"""The most tokens a sentence (or a plain-text line) may have unless a reader is told otherwise."""

JSON_VALUES_PER_TOKEN = 32
"""Commas a JSON line may hold per token of the cap (a full-form token with five label layers has ~18)."""

_COUNT_PIECE = 1 << 16  # characters tokenized at a time while counting: bounds the counting's memory
_SPACE = re.compile(r"\s")
_WORD = re.compile(r"\S+")


def count_tokens(text: str, limit: int, use_tokenizer: bool = True) -> int:
    """How many tokens ``text`` has (polytag's tokenizer, or whitespace splitting), counted in bounded
    memory and only up to ``limit + 1``: past that the exact number does not matter.

    The text is tokenized in pieces of about 64K characters cut at whitespace, which no token spans; a
    run of more than 64K characters without whitespace is cut inside (its count may be off by one or
    two per cut, which only matters for a sentence within a few tokens of the cap).
    """
    if not use_tokenizer:
        return sum(1 for _ in itertools.islice(_WORD.finditer(text), limit + 1))
    count = 0
    start = 0
    n = len(text)
    while start < n and count <= limit:
        end = start + _COUNT_PIECE
        if end < n:
            space = _SPACE.search(text, end, end + _COUNT_PIECE)
            if space is not None:
                end = space.start()
        count += len(tokenize(text[start:end]))
        start = end
    return count


def token_cap_message(max_tokens: int) -> str:
    """What a reader says about a sentence over the token cap."""
    return (
        f"more than {max_tokens:,} tokens in one sentence (max_sentence_tokens); "
        f"split the text, or raise max_sentence_tokens if it really is one sentence"
    )


def too_many_tokens(path: str | os.PathLike[str] | None, line_no: int | None, max_tokens: int) -> FormatError:
    """The FormatError for a sentence over the token cap."""
    return FormatError(path, line_no, token_cap_message(max_tokens))


def check_token_count(
    path: str | os.PathLike[str] | None,
    line_no: int | None,
    text: str,
    max_tokens: int,
    use_tokenizer: bool = True,
) -> None:
    """Raise :class:`FormatError` when ``text`` would have more than ``max_tokens`` tokens, before
    tokenizing it; free for texts of at most ``max_tokens`` characters."""
    if len(text) <= max_tokens:
        return
    if count_tokens(text, max_tokens, use_tokenizer) > max_tokens:
        raise too_many_tokens(path, line_no, max_tokens)


def check_json_size(
    path: str | os.PathLike[str] | None, line_no: int | None, line: str, max_tokens: int
) -> None:
    """Raise :class:`FormatError` for a JSON line that may hold too many values to parse for a sentence
    of at most ``max_tokens`` tokens (see :data:`JSON_VALUES_PER_TOKEN`); free for short lines."""
    budget = JSON_VALUES_PER_TOKEN * max_tokens
    if len(line) > budget and line.count(",") > budget:
        raise FormatError(
            path,
            line_no,
            f"a JSON line with more than {budget:,} values cannot be a sentence of at most "
            f"{max_tokens:,} tokens (max_sentence_tokens)",
        )
