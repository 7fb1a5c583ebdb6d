"""Rule-based word tokenizer that keeps the character offsets of every token.

The rules follow what Flair's default (segtok) produces for English in the common cases:
punctuation becomes its own token, abbreviations like ``U.S.`` stay whole, numbers keep their
inner separators, and English clitics (``n't``, ``'s``, ``'re`` ...) are split off.
Every token is a slice ``text[start:end]`` of the input, which a property test checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TOKEN_RE = re.compile(
    r"""
    (?:https?://|www\.)[^\s]+[^\s.,;:!?)\]}'"]        # URLs, minus trailing punctuation
    | [\w.+-]+@[\w-]+(?:\.[\w-]+)+                     # e-mail addresses
    | (?:[^\W\d_]\.){2,}                               # abbreviations: U.S. e.g.
    | (?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|etc|Inc|Ltd|Co|Corp)\.(?=\s|$)   # common titles
    | \d+(?:[.,:/]\d+)+                                # 3.14  1,000  12:30  1/2
    | \w+(?=n't\b)                                     # do|n't
    | n't\b
    | ['’](?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b          # clitics
    | \w+(?:-\w+|['’](?!(?:s|re|ve|ll|d|m|S|RE|VE|LL|D|M)\b)\w+)*   # words, inner - and '
    | \S                                               # any other single visible character
    """,
    re.VERBOSE,
)

Tokenizer = Callable[[str], list[tuple[str, int]]]


def tokenize(text: str) -> list[tuple[str, int]]:
    """Split ``text`` into ``(token_text, start_offset)`` pairs."""
    return [(m.group(), m.start()) for m in _TOKEN_RE.finditer(text)]


def whitespace_tokenize(text: str) -> list[tuple[str, int]]:
    """Split only on whitespace (what ``use_tokenizer=False`` means)."""
    return [(m.group(), m.start()) for m in re.finditer(r"\S+", text)]
