"""All file formats by name and by extension: the one list the rest of polytag asks.

Each format module keeps its :class:`~polytag.formats.spec.FormatSpec` (``FORMAT``) beside its parser;
this module only collects them. ``get_format("column").read`` is the whole-file reader,
``format_for_path("train.conllu")`` finds a format from a file name.
"""

from __future__ import annotations

import os
from pathlib import Path

from polytag.errors import PolytagError
from polytag.formats import column, conllu, csv_format, fasttext, jsonl
from polytag.formats.spec import FormatSpec

__all__ = [
    "FormatSpec",
    "UnknownFormatError",
    "format_for_extension",
    "format_for_path",
    "format_names",
    "formats",
    "get_format",
]


class UnknownFormatError(PolytagError, ValueError):
    """A format name that no format module registered."""


_FORMATS: dict[str, FormatSpec] = {
    spec.name: spec
    for spec in (column.FORMAT, conllu.FORMAT, jsonl.FORMAT, fasttext.FORMAT, csv_format.FORMAT)
}
_BY_EXTENSION: dict[str, FormatSpec] = {}
for _spec in _FORMATS.values():
    for _ext in _spec.extensions:
        if _ext in _BY_EXTENSION:  # pragma: no cover - a programming error, caught by the tests
            raise RuntimeError(f"extension {_ext} claimed by {_BY_EXTENSION[_ext].name} and {_spec.name}")
        _BY_EXTENSION[_ext] = _spec


def format_names() -> tuple[str, ...]:
    """The names of all formats, in registration order."""
    return tuple(_FORMATS)


def formats() -> tuple[FormatSpec, ...]:
    """All format records, in registration order."""
    return tuple(_FORMATS.values())


def get_format(name: str) -> FormatSpec:
    """The format called ``name``; an unknown name raises :class:`UnknownFormatError` naming the known."""
    spec = _FORMATS.get(name)
    if spec is None:
        raise UnknownFormatError(f"unknown format {name!r}; known formats: {', '.join(_FORMATS)}")
    return spec


def format_for_extension(extension: str) -> FormatSpec | None:
    """The format that claims a file extension (``".conllu"``, any case), or None."""
    return _BY_EXTENSION.get(extension.lower())


def format_for_path(path: str | os.PathLike[str]) -> FormatSpec | None:
    """The format of a file from its extensions (the last known one wins: ``a.conllu.txt`` is CoNLL-U
    only if ``.txt`` is not a format's), or None when no format claims them."""
    for suffix in reversed([s.lower() for s in Path(str(path)).suffixes]):
        spec = _BY_EXTENSION.get(suffix)
        if spec is not None:
            return spec
    return None
