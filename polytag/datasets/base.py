"""Where named corpora live on disk, and the fetch-or-local step every loader shares.

Loaders read local files first. Only when a file is missing do they try the original public URL;
offline (or with ``POLYTAG_OFFLINE=1`` / ``HF_HUB_OFFLINE=1``) they raise an error that lists which
files to put where.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from polytag.errors import DatasetNotFoundError

log = logging.getLogger("polytag")


def datasets_root(base_path: str | os.PathLike | None = None) -> Path:
    """The folder that holds the corpora's folders: ``base_path``, else ``$POLYTAG_DATASETS``,
    else ``~/.polytag/datasets``."""
    if base_path is not None:
        return Path(base_path)
    env = os.environ.get("POLYTAG_DATASETS")
    if env:
        return Path(env)
    return Path.home() / ".polytag" / "datasets"


def offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("POLYTAG_OFFLINE", "HF_HUB_OFFLINE"))


def download(url: str, target: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``target`` atomically (temporary file in the same folder, then rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def ensure_files(
    folder: Path,
    required: Sequence[str],
    urls: dict[str, str] | None = None,
    corpus_name: str = "",
) -> Path:
    """Make sure every file in ``required`` exists under ``folder``.

    Missing files are downloaded from ``urls`` (file name -> URL) when we are online; otherwise, or
    when a download fails, a :class:`DatasetNotFoundError` names each missing file and its place.
    """
    missing = [name for name in required if not (folder / name).exists()]
    if not missing:
        return folder
    errors: list[str] = []
    if urls and not offline():
        for name in list(missing):
            url = urls.get(name)
            if url is None:
                continue
            try:
                log.info("downloading %s to %s", url, folder / name)
                download(url, folder / name)
                missing.remove(name)
            except OSError as exc:  # network down, refused, 404 ...
                errors.append(f"{url}: {exc}")
    if missing:
        lines = "\n".join(f"  {folder / name}" for name in missing)
        hint = (f"\nDownloads tried and failed:\n  " + "\n  ".join(errors)) if errors else ""
        raise DatasetNotFoundError(
            f"corpus {corpus_name or folder.name}: these files are missing; put them here "
            f"(or set POLYTAG_DATASETS / base_path to the folder that holds '{folder.name}/'):\n"
            f"{lines}{hint}"
        )
    return folder
