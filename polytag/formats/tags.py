"""BIO / IOB1 / BIOES tag sequences <-> spans.

Repair policy for invalid sequences (the conlleval / IOB1 convention), used by every reader:

- ``I-X`` that does not continue an open ``X`` span (after ``O``, at sentence start, after a
  ``B-Y``/``I-Y`` of another type, or after a closing ``E-X``/``S-X``) starts a new span of type ``X``.
  In BIO (IOB2) and BIOES this is counted as a repair; in IOB1 it is the normal way a span starts.
- In BIOES, ``E-X`` without an open ``X`` span is a one-token span of type ``X`` (counted), and a span
  opened by ``B-X`` that ends without ``E-X`` keeps the tokens it has (counted as "not closed").
- ``B-X`` always starts a new span; ``S-X`` is always a one-token span. ``L-``/``U-`` (BILOU) are read
  as ``E-``/``S-``.

Decoding is the same for every scheme; the scheme only decides what counts as a repair and which
prefixes are allowed. With ``"auto"`` the scheme of a column is found from its tags: BIOES when any
``E-``/``S-``/``L-``/``U-`` occurs, IOB1 when ``B-X`` only ever follows a token of type ``X`` (it then
only separates two adjacent spans), BIO otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

SCHEMES = ("auto", "BIO", "IOB1", "BIOES")

_PREFIX_ALIASES = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S"}
_ALLOWED = {
    "auto": frozenset("BIESLU"),
    "BIO": frozenset("BI"),
    "IOB1": frozenset("BI"),
    "BIOES": frozenset("BIESLU"),
}
_EXPECTED = {
    "auto": "'O', B-<type>, I-<type>, E-<type>, S-<type> (or L-/U-)",
    "BIO": "'O', B-<type>, I-<type>",
    "IOB1": "'O', B-<type>, I-<type>",
    "BIOES": "'O', B-<type>, I-<type>, E-<type>, S-<type> (or L-/U-)",
}


def check_scheme(tag_scheme: str) -> str:
    if tag_scheme not in SCHEMES:
        raise ValueError(f"tag_scheme must be one of {SCHEMES}, got {tag_scheme!r}")
    return tag_scheme


def expected_forms(tag_scheme: str) -> str:
    return _EXPECTED[tag_scheme]


def is_span_tag(value: str) -> bool:
    """True for ``O`` and for ``<P>-<type>`` with P one of B I E S L U and a non-empty type."""
    return value == "O" or (len(value) > 2 and value[1] == "-" and value[0] in "BIESLU")


class BadTag(Exception):
    """Raised by :func:`decode_tags` with the position of a tag it cannot read."""

    def __init__(self, index: int, tag: str) -> None:
        super().__init__(index, tag)
        self.index = index
        self.tag = tag


class TagStats:
    """What a column's tags looked like: enough to pick the scheme and count repairs afterwards."""

    __slots__ = ("i_starts", "e_starts", "unclosed", "b_starts", "bioes_prefix")

    def __init__(self) -> None:
        self.i_starts = 0  # I-X continuing no open X span
        self.e_starts = 0  # E-X continuing no open X span
        self.unclosed = 0  # spans opened by B-X that ended without E-X
        self.b_starts = 0  # B-X not directly after a token of type X (IOB1 never has these)
        self.bioes_prefix = False  # an E-/S-/L-/U- tag occurred

    def merge(self, other: TagStats) -> None:
        self.i_starts += other.i_starts
        self.e_starts += other.e_starts
        self.unclosed += other.unclosed
        self.b_starts += other.b_starts
        self.bioes_prefix = self.bioes_prefix or other.bioes_prefix

    def resolved_scheme(self, tag_scheme: str) -> str:
        if tag_scheme != "auto":
            return tag_scheme
        if self.bioes_prefix:
            return "BIOES"
        if self.b_starts == 0 and self.i_starts > 0:
            return "IOB1"
        return "BIO"

    def repairs(self, tag_scheme: str) -> dict[str, int]:
        """Counts of repaired tags under the (resolved) scheme, by kind; empty when all was valid."""
        scheme = self.resolved_scheme(tag_scheme)
        counts: dict[str, int] = {}
        if scheme in ("BIO", "BIOES") and self.i_starts:
            counts["I- tag continuing no open span of its type"] = self.i_starts
        if scheme == "BIOES":
            if self.e_starts:
                counts["E- tag without an open span of its type"] = self.e_starts
            if self.unclosed:
                counts["span opened by B- and not closed by E-"] = self.unclosed
        return counts


def parse_tag(tag: str, tag_scheme: str = "auto") -> tuple[str, str] | None:
    """``(prefix, type)`` of a tag with L/U read as E/S, or None for ``O``; raises ValueError if invalid."""
    if tag == "O":
        return None
    if len(tag) > 2 and tag[1] == "-" and tag[0] in _ALLOWED[tag_scheme]:
        return _PREFIX_ALIASES[tag[0]], tag[2:]
    raise ValueError(tag)


def decode_tags(
    tags: Sequence[str],
    tag_scheme: str = "auto",
    stats: TagStats | None = None,
    cache: dict[str, tuple[str, str] | None] | None = None,
) -> list[tuple[int, int, str]]:
    """Spans ``(start, end_exclusive, type)`` of a tag sequence, repaired by the module's policy.

    Raises :class:`BadTag` for a tag that is not ``O`` or ``<prefix>-<type>`` with a prefix the scheme
    allows. ``stats`` (if given) collects what is needed to count repairs; ``cache`` memoises parsing.
    """
    if cache is None:
        cache = {}
    if stats is None:
        stats = TagStats()
    spans: list[tuple[int, int, str]] = []
    open_type: str | None = None
    open_start = 0
    opened_by_b = False
    prev_type: str | None = None  # type of the previous token (None after O)
    for i, tag in enumerate(tags):
        try:
            parsed = cache[tag]
        except KeyError:
            try:
                parsed = parse_tag(tag, tag_scheme)
            except ValueError:
                raise BadTag(i, tag) from None
            cache[tag] = parsed
        if parsed is None:
            if open_type is not None:
                spans.append((open_start, i, open_type))
                stats.unclosed += opened_by_b
                open_type = None
            prev_type = None
            continue
        prefix, typ = parsed
        if prefix == "I":
            if open_type != typ:
                if open_type is not None:
                    spans.append((open_start, i, open_type))
                    stats.unclosed += opened_by_b
                stats.i_starts += 1
                open_type, open_start, opened_by_b = typ, i, False
        elif prefix == "B":
            if open_type is not None:
                spans.append((open_start, i, open_type))
                stats.unclosed += opened_by_b
            if prev_type != typ:
                stats.b_starts += 1
            open_type, open_start, opened_by_b = typ, i, True
        else:
            stats.bioes_prefix = True
            if prefix == "E" and open_type == typ:
                spans.append((open_start, i + 1, typ))
            else:
                if open_type is not None:
                    spans.append((open_start, i, open_type))
                    stats.unclosed += opened_by_b
                if prefix == "E":
                    stats.e_starts += 1
                spans.append((i, i + 1, typ))
            open_type = None
        prev_type = typ
    if open_type is not None:
        spans.append((open_start, len(tags), open_type))
        stats.unclosed += opened_by_b
    return spans


def encode_spans(
    length: int, spans: Sequence[tuple[int, int, str]], tag_scheme: str = "BIO", outside: str = "O"
) -> list[str]:
    """Tags for ``length`` tokens from non-overlapping spans ``(start, end_exclusive, type)``.

    ``tag_scheme`` is "BIO" (IOB2) or "BIOES". Raises ValueError for overlapping or out-of-range spans.
    """
    if tag_scheme not in ("BIO", "BIOES"):
        raise ValueError(f"spans can be written as 'BIO' or 'BIOES' tags, not {tag_scheme!r}")
    tags = [outside] * length
    taken = [False] * length
    for start, end, typ in spans:
        if not 0 <= start < end <= length:
            raise ValueError(f"span [{start}:{end}] does not fit a sentence of {length} tokens")
        if any(taken[start:end]):
            raise ValueError(f"span [{start}:{end}] ({typ}) overlaps another span of the same layer")
        for i in range(start, end):
            taken[i] = True
        if tag_scheme == "BIOES":
            if end - start == 1:
                tags[start] = "S-" + typ
                continue
            tags[end - 1] = "E-" + typ
            end -= 1
        tags[start] = "B-" + typ
        for i in range(start + 1, end):
            tags[i] = "I-" + typ
    return tags
