"""The record each file format registers: its name, extensions and the functions that read and write it.

Each format module defines one ``FORMAT`` record beside its parser; :mod:`polytag.formats.registry`
collects them, and the command line (input detection, output writers, ``--format`` choices) and the
configuration (which corpus class reads a format) ask the registry instead of keeping their own lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FormatSpec"]


@dataclass(frozen=True)
class FormatSpec:
    """One file format.

    ``read`` reads a whole file into a list of sentences; ``stream`` (or None) yields them a document at
    a time in bounded memory; ``index`` (or None) is the class that reads the file on demand
    (``in_memory=False``, a subclass of :class:`polytag.formats.indexed.IndexedSentenceFile`);
    ``write`` (or None) writes sentences back. ``extensions`` are lower-case suffixes with their dot.
    ``corpus`` names the :mod:`polytag.datasets` class that builds a corpus of such files (a name, not
    the class: datasets sit above formats), or None when there is none.
    """

    name: str
    extensions: tuple[str, ...]
    read: Callable[..., Any]
    stream: Callable[..., Any] | None = None
    index: type | None = None
    write: Callable[..., Any] | None = None
    corpus: str | None = None
    description: str = ""
