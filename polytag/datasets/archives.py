"""Unpacking downloaded corpus archives within stated bounds.

A downloaded archive is untrusted input: a few hundred kilobytes of zip can claim, or really hold,
hundreds of megabytes (a "zip bomb"), and a member name can point outside the target folder
("zip slip"). Every extraction here therefore

* refuses a member whose path would land outside the target (before anything is written);
* refuses more than ``max_members`` members, and a member or a total that the headers already say is
  too large;
* counts the bytes actually written while decompressing (headers can lie) and stops at
  ``max_member_bytes`` for one member or ``max_total_bytes`` for the whole archive;
* on any refusal removes what it had written and raises :class:`ArchiveError` naming the archive, the
  member and the bound.

The defaults suit small corpora (CoNLL-2003's zip unpacks to about 15 MB); a loader of a big official
corpus passes larger bounds (ZELDA: :data:`ZELDA_LIMITS`).
"""

from __future__ import annotations

import gzip
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from polytag.errors import PolytagError

MIB = 1024 * 1024
GIB = 1024 * MIB
MAX_TOTAL_BYTES = 1 * GIB  # all members of one archive together, uncompressed
MAX_MEMBER_BYTES = 512 * MIB  # one member (or one gunzipped file), uncompressed
MAX_MEMBERS = 10_000  # entries in one archive, directories included
_CHUNK = 1 * MIB


class ArchiveError(PolytagError, ValueError):
    """An archive that is refused: a member outside the target, or more data or members than allowed."""


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds of one extraction; the defaults are the module constants."""

    max_total_bytes: int = MAX_TOTAL_BYTES
    max_member_bytes: int = MAX_MEMBER_BYTES
    max_members: int = MAX_MEMBERS


# ZELDA's zip holds its 2.6-million-mention training file (several GB unpacked) and ten test files.
ZELDA_LIMITS = ArchiveLimits(max_total_bytes=16 * GIB, max_member_bytes=12 * GIB, max_members=1_000)


def _copy_bounded(source: Any, out: IO[bytes], budget: int, what: str) -> int:
    """Copy ``source`` to ``out``; raise :class:`ArchiveError` once more than ``budget`` bytes come."""
    written = 0
    while True:
        chunk = source.read(min(_CHUNK, budget - written + 1))
        if not chunk:
            return written
        written += len(chunk)
        if written > budget:
            raise ArchiveError(what)
        out.write(chunk)


def check_members(archive: Path, infos: list[zipfile.ZipInfo], root: Path, limits: ArchiveLimits) -> None:
    """Refuse, before anything is written, what the headers alone show: too many members, a path
    outside ``root``, claimed sizes over the bounds. (The claims are checked again, by counting, while
    :func:`extract_zip` writes.)"""
    if len(infos) > limits.max_members:
        raise ArchiveError(
            f"{archive}: {len(infos)} members, more than the limit of {limits.max_members} "
            "(pass larger limits for a corpus that needs them)"
        )
    claimed = 0
    for info in infos:
        destination = (root / info.filename).resolve()
        if destination != root and root not in destination.parents:
            raise ArchiveError(f"{archive}: member {info.filename!r} would be written outside {root}")
        if info.file_size > limits.max_member_bytes:
            raise ArchiveError(
                f"{archive}: member {info.filename!r} claims {info.file_size} bytes, more than the "
                f"per-member limit of {limits.max_member_bytes}"
            )
        claimed += info.file_size
    if claimed > limits.max_total_bytes:
        raise ArchiveError(
            f"{archive}: members claim {claimed} bytes in all, more than the limit of "
            f"{limits.max_total_bytes}"
        )


def extract_zip(archive: Path, target: Path, limits: ArchiveLimits | None = None) -> Path:
    """Unpack ``archive`` under ``target`` within ``limits`` (see the module docstring); returns ``target``.

    Each member is written to a temporary file and renamed into place, so a refused archive leaves
    no member (whole or partial) behind.
    """
    limits = limits or ArchiveLimits()
    root = Path(target).resolve()
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            check_members(Path(archive), infos, root, limits)
            total = 0
            for info in infos:
                destination = (root / info.filename).resolve()
                if info.is_dir() or destination == root:
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                if limits.max_member_bytes <= limits.max_total_bytes - total:
                    budget, bound = limits.max_member_bytes, "the per-member limit"
                else:
                    budget, bound = limits.max_total_bytes - total, "what is left of the total limit"
                what = f"{archive}: member {info.filename!r} unpacks to more than {bound} ({budget} bytes)"
                fd, tmp = tempfile.mkstemp(
                    dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
                )
                written.append(Path(tmp))
                with os.fdopen(fd, "wb") as out, zf.open(info) as source:
                    total += _copy_bounded(source, out, budget, what)
                os.replace(tmp, destination)
                written[-1] = destination
    except zipfile.BadZipFile as exc:
        _remove(written)
        raise ArchiveError(f"{archive}: not a readable zip archive ({exc})") from None
    except BaseException:
        _remove(written)
        raise
    return target


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def gunzip(source: Path, target: Path, max_bytes: int = MAX_MEMBER_BYTES) -> Path:
    """Decompress ``source`` (.gz) into ``target`` atomically, refusing more than ``max_bytes`` of output."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(source, "rb") as handle:
            _copy_bounded(
                handle, out, max_bytes, f"{source}: unpacks to more than the limit of {max_bytes} bytes"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


__all__ = [
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "ZELDA_LIMITS",
    "ArchiveError",
    "ArchiveLimits",
    "check_members",
    "extract_zip",
    "gunzip",
]
