"""How ``polytag serve`` cuts a micro-batch call into encoder passes (``pass_size``)."""

from __future__ import annotations

from polytag.cli.serve_batcher import pass_size


def padded(lengths: list[int], size: int) -> int:
    ordered = sorted(lengths, reverse=True)
    return sum(ordered[s] * len(ordered[s : s + size]) for s in range(0, len(ordered), size))


def test_equal_lengths_take_one_pass() -> None:
    assert pass_size([12] * 40) == 40
    assert pass_size([7]) == 1 and pass_size([]) == 1


def test_mixed_lengths_are_cut_where_padding_costs_more_than_a_pass() -> None:
    lengths = [60] * 4 + [6] * 60  # four long sentences among many short ones, in arrival order
    size = pass_size(lengths, overhead=48)
    assert size < len(lengths)
    assert padded(lengths, size) + 48 * -(-len(lengths) // size) < padded(lengths, len(lengths)) + 48
    # with passes that cost more than any padding saved, one pass stays best
    assert pass_size(lengths, overhead=100_000) == len(lengths)
