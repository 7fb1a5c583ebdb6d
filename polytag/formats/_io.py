"""Old name of :mod:`polytag.formats.textio`, kept for the modules that still import it from here."""

from polytag.formats.textio import (
    MAX_LINE_BYTES,
    PathLike,
    atomic_writer,
    check_bytes,
    gc_paused,
    iter_handle_chunks,
    iter_line_chunks,
    iter_lines,
    read_text,
    too_long,
)

__all__ = [
    "MAX_LINE_BYTES",
    "PathLike",
    "atomic_writer",
    "check_bytes",
    "gc_paused",
    "iter_handle_chunks",
    "iter_line_chunks",
    "iter_lines",
    "read_text",
    "too_long",
]
