"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def non_overlapping_spans(
    draw: st.DrawFn, n: int, types: st.SearchStrategy[str], max_gap: int = 3, max_length: int = 4
) -> list[tuple[int, int, str]]:
    """Random spans ``(start, end, type)`` over ``n`` tokens, none overlapping another."""
    spans = []
    i = 0
    while i < n:
        i += draw(st.integers(0, max_gap))
        if i >= n:
            break
        length = draw(st.integers(1, min(max_length, n - i)))
        if draw(st.booleans()):
            spans.append((i, i + length, draw(types)))
        i += length
    return spans
