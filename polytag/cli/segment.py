"""A small rule-based sentence splitter for plain-text input (``polytag predict``, ``polytag serve``).

Why our own: the CLI must not download a model or pull in a large dependency to cut text into
sentences. The rules are the common ones for English-like text:

* a blank line always ends a sentence (paragraphs never run together);
* ``.``, ``!`` or ``?`` (a run of them, optionally followed by closing quotes or brackets) ends a
  sentence when whitespace follows and the next word starts with an uppercase letter, a digit or an
  opening quote / bracket;
* a period does not end a sentence after a known abbreviation (``Mr.``, ``Dr.``, ``e.g.``, ``Inc.``),
  after a single letter (an initial: ``J. Smith``) or after dotted abbreviations (``U.S.``).

Every sentence is returned as character offsets into the input, so predictions can be mapped back.
"""

from __future__ import annotations

import re

# Lower-cased, without the final period.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof st jr sr vs etc inc ltd co corp mt gen col lt sgt capt cmdr adm gov sen rep
    rev hon pres fig figs no nos vol vols pp ed eds approx dept est jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue wed thu fri sat sun al cf ca viz ave blvd rd e.g i.e a.m p.m u.s u.k u.n e.u
    """.split()
)

_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+([\"'“‘(\[]?)(\S)")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_WORD_BEFORE = re.compile(r"(\S+)$")


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the period at ``text[dot]`` closes an abbreviation rather than a sentence."""
    # only the last 64 characters: a search from 0 rescans the text for every period (quadratic; a 1 MB
    # text took minutes), and no abbreviation is longer
    match = _WORD_BEFORE.search(text, max(0, dot - 64), dot)
    if match is None:
        return False
    word = match.group(1).lstrip("\"'“‘([")
    if not word:
        return False
    if len(word) == 1 and word.isalpha():  # an initial: "J. Smith"
        return True
    lowered = word.lower()
    if lowered in ABBREVIATIONS:
        return True
    # dotted abbreviations such as "U.S" (the final period is the one at ``dot``)
    return bool(re.fullmatch(r"(?:[^\W\d_]\.)+[^\W\d_]", word))


def _split_paragraph(text: str, offset: int, out: list[tuple[int, int]]) -> None:
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        following = _NEXT_START.match(text, end)
        if following is None:
            continue
        opener, first = following.group(1), following.group(2)
        if not (opener or first.isupper() or first.isdigit()):
            continue
        punctuation = match.group()
        if (
            punctuation.startswith(".")
            and punctuation.rstrip("\"'”’)]") == "."
            and _is_abbreviation(text, match.start())
        ):
            continue
        _append(text, start, end, offset, out)
        start = following.start(1)
    _append(text, start, len(text), offset, out)


def _append(text: str, start: int, end: int, offset: int, out: list[tuple[int, int]]) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    out.append((offset + start + lead, offset + start + lead + len(stripped)))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of the sentences of ``text`` (whitespace trimmed)."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _PARAGRAPH.finditer(text):
        _split_paragraph(text[position : match.start()], position, spans)
        position = match.end()
    _split_paragraph(text[position:], position, spans)
    return spans


def make_sentences(text: str, split: bool = True, document_id: str | None = None) -> list:
    """Tokenized :class:`~polytag.data.Sentence` objects for ``text``, with absolute start offsets.

    Each sentence's ``start_position`` is its offset in ``text``, so a token's offset in ``text`` is
    ``sentence.start_position + token.start_position``. The sentences are linked as one document
    (what context-aware encoders read).
    """
    from polytag.data import Sentence, link_document

    ranges = split_sentences(text) if split else _whole(text)
    sentences = []
    for start, end in ranges:
        sentence = Sentence(text[start:end], start_position=start)
        if len(sentence):
            sentences.append(sentence)
    if len(sentences) > 1 or document_id is not None:
        link_document(sentences, document_id)
    return sentences


def _whole(text: str) -> list[tuple[int, int]]:
    stripped = text.strip()
    if not stripped:
        return []
    lead = len(text) - len(text.lstrip())
    return [(lead, lead + len(stripped))]
