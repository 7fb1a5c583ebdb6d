"""Byte-level line scanning with numpy, for the on-demand indexes of :mod:`polytag.formats.indexed`.

An index scans its file in chunks of bytes; these helpers find line bounds and classify lines (blank,
comment, starting with a prefix) without decoding or splitting the chunk into Python strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import numpy as np

SCAN_CHUNK = 1 << 20  # bytes scanned at a time: the scan's memory does not grow with the file
MAX_BLOCK = (1 << 31) - 1  # byte lengths are int32
UTF8_BOM = b"\xef\xbb\xbf"
NEWDOC = re.compile(rb"(?m)^#[^\n]*newdoc")
"""A CoNLL-U comment line that mentions ``newdoc`` (a candidate document start)."""
RANGE_OR_EMPTY = re.compile(rb"(?m)^[0-9]+[-.]")
"""A CoNLL-U multiword-range or empty-node line (not a word)."""


def byte_table(members: bytes) -> np.ndarray:
    """A 256-entry lookup table, true for the given bytes."""
    table = np.zeros(256, dtype=bool)
    table[list(members)] = True
    return table


COLUMN_BLANK = byte_table(b" \t\r\n")  # what rstrip(" \t\r") removes
# str.isspace() within ASCII; bytes >= 0x80 may or may not decode to a space (checked one by one)
STR_SPACE = byte_table(bytes([9, 10, 11, 12, 13, 28, 29, 30, 31, 32]))
HIGH = np.arange(256) >= 0x80


def line_bounds(arr: np.ndarray, eof: bool) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, without the ``\\n``) of the lines of a buffer; a last line without
    ``\\n`` counts only at the end of the file."""
    ends = np.flatnonzero(arr == 10)
    if eof and len(arr) and arr[-1] != 10:
        ends = np.append(ends, len(arr))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts, ends


def any_in(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For each line, whether ``mask`` is true at one of its bytes."""
    counts = np.zeros(len(mask) + 1, dtype=np.int64 if len(mask) >= 2**31 else np.int32)
    np.cumsum(mask, out=counts[1:])
    return counts[ends] > counts[starts]


def starts_with(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, prefix: bytes) -> np.ndarray:
    """For each line, whether it starts with ``prefix``."""
    ok = (ends - starts) >= len(prefix)
    last = len(arr) - 1
    for j, byte in enumerate(prefix):
        ok &= arr[np.minimum(starts + j, last)] == byte
    return ok


def lines_of(buf: bytes, starts: np.ndarray, positions: Iterable[int]) -> np.ndarray:
    """Indices (unique, sorted) of the lines that hold the given byte positions."""
    found = np.fromiter(positions, dtype=np.int64)
    return np.unique(np.searchsorted(starts, found, side="right") - 1)


def str_blank(buf: bytes, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, encoding: str) -> np.ndarray:
    """Lines that are empty or all whitespace as ``str.isspace`` sees it (decoded only when non-ASCII)."""
    blank = ~any_in(~STR_SPACE[arr] & ~HIGH[arr], starts, ends)
    for line in np.flatnonzero(blank & any_in(HIGH[arr], starts, ends)):
        try:
            blank[line] = buf[starts[line] : ends[line]].decode(encoding).isspace()
        except UnicodeDecodeError:
            blank[line] = False
    return blank


def find_all(buf: bytes, needle: bytes) -> Iterator[int]:
    """Every position of ``needle`` in ``buf``."""
    pos = buf.find(needle)
    while pos >= 0:
        yield pos
        pos = buf.find(needle, pos + 1)
