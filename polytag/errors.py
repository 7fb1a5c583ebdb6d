"""polytag's own error types. Every layer raises these, so callers can catch one family."""

from __future__ import annotations

import os


class PolytagError(Exception):
    """Base class of every error polytag raises on purpose."""


class FormatError(PolytagError, ValueError):
    """Malformed input: says which file, which line, and what was expected there."""

    def __init__(self, path: str | os.PathLike | None, line: int | None, message: str) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where += f", line {line}"
        super().__init__(f"{where}: {message}")


class ModelFileError(PolytagError, ValueError):
    """A model file that cannot be trusted or read: wrong format, version, shapes or truncated."""


class DatasetNotFoundError(PolytagError, FileNotFoundError):
    """A named corpus whose files are neither on disk nor downloadable (offline)."""
