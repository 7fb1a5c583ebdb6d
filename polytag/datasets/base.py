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

from polytag.errors import DatasetNotFoundError, PolytagError

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
    return require_files(folder, required, corpus_name, urls, errors)


def require_files(
    folder: Path,
    required: Sequence[str],
    corpus_name: str = "",
    sources: dict[str, str] | None = None,
    errors: Sequence[str] = (),
    note: str = "",
) -> Path:
    """Raise :class:`DatasetNotFoundError` listing the files of ``required`` missing under ``folder``.

    ``sources`` (file name -> public URL) and failed download ``errors`` are added to the message,
    as is ``note`` (e.g. how to obtain a corpus that has no public download). Downloads nothing.
    """
    missing = [name for name in required if not (folder / name).exists()]
    if not missing:
        return folder
    lines = "\n".join(f"  {folder / name}" for name in missing)
    hint = ("\nDownloads tried and failed:\n  " + "\n  ".join(errors)) if errors else ""
    listed = [f"{sources[name]} -> {name}" for name in missing if sources and name in sources]
    if listed:
        why = (
            "Offline (POLYTAG_OFFLINE / HF_HUB_OFFLINE is set), so nothing was downloaded; "
            if offline()
            else ""
        )
        hint += f"\n{why}the public sources are:\n  " + "\n  ".join(listed)
    if note:
        hint += "\n" + note
    raise DatasetNotFoundError(
        f"corpus {corpus_name or folder.name}: these files are missing; put them here "
        f"(or set POLYTAG_DATASETS / base_path to the folder that holds '{folder.name}/'):\n"
        f"{lines}{hint}"
    )


# -- shared helpers of the named corpora ----------------------------------------------------------


class AmbiguousSplitError(PolytagError, ValueError):
    """Several files in a corpus folder look like the same split; name them explicitly."""


# Files that autofind never takes as a split: compressed or archived copies (the loaders unpack
# them first), editor swap files, partial downloads and hidden files.
IGNORED_SUFFIXES = frozenset({".gz", ".bz2", ".xz", ".zip", ".tar", ".tgz", ".swp", ".part", ".tmp"})


def check_in_memory(in_memory: bool) -> None:
    """For corpora that are read whole (CSV/fastText documents, AIDA, CleanCoNLL): say so rather
    than silently reading everything. Column, CoNLL-U and JSONL corpora stream with ``in_memory=False``."""
    if not in_memory:
        raise NotImplementedError(
            "in_memory=False is not supported by this corpus (it is read whole); column, CoNLL-U and JSONL "
            "corpora such as ColumnCorpus, CONLL_03 and UD_ENGLISH stream with in_memory=False"
        )


def corpus_folder(base_path: str | os.PathLike | None, name: str) -> Path:
    """``<datasets root>/<name>``: the folder of one named corpus."""
    return datasets_root(base_path) / name


def _split_of(name: str) -> str | None:
    lowered = name.lower()
    if "train" in lowered:
        return "train"
    if "dev" in lowered or "testa" in lowered or "valid" in lowered:
        return "dev"
    if "test" in lowered:  # "testb" or plain "test"
        return "test"
    return None


def _ignored(path: Path) -> bool:
    if path.name.startswith(".") or path.name.endswith("~") or not path.is_file():
        return True
    return any(suffix.lower() in IGNORED_SUFFIXES for suffix in path.suffixes)


def find_train_dev_test_files(
    data_folder: str | os.PathLike,
    dev_file: str | os.PathLike | None = None,
    test_file: str | os.PathLike | None = None,
    train_file: str | os.PathLike | None = None,
    autofind_splits: bool = True,
    quiet: bool = False,
) -> tuple[Path | None, Path | None, Path | None]:
    """Resolve the split files of a corpus folder; returns ``(dev, test, train)`` as Flair does.

    Explicit names are taken relative to ``data_folder`` (absolute paths stay as they are) and
    must exist. As in Flair, the folder is searched only when ``train_file`` is not given: a file
    whose name contains ``train`` is the train split; ``dev``, ``testa`` or ``valid`` the dev split;
    ``test`` or ``testb`` the test split. Compressed and archived copies (``.gz``, ``.bz2``, ``.zip``
    ...), swap files, partial downloads and hidden files are ignored, so a folder that still holds
    the downloaded ``train.txt.gz`` next to ``train.txt`` is not ambiguous. Two candidates for one
    split raise :class:`AmbiguousSplitError` (Flair silently takes one of them). The result is
    logged unless ``quiet``.
    """
    folder = Path(data_folder)
    resolved: dict[str, Path | None] = {}
    for split, given in (("train", train_file), ("dev", dev_file), ("test", test_file)):
        if given is None:
            resolved[split] = None
            continue
        path = folder / given
        if not path.is_file():
            raise DatasetNotFoundError(f"{split} file {path} does not exist")
        resolved[split] = path
    if train_file is None and autofind_splits:
        if not folder.is_dir():
            raise DatasetNotFoundError(f"corpus folder {folder} does not exist")
        found: dict[str, list[Path]] = {"train": [], "dev": [], "test": []}
        for path in sorted(folder.iterdir()):
            if _ignored(path):
                continue
            kind = _split_of(path.name)
            if kind is not None:
                found[kind].append(path)
        for split, paths in found.items():
            if resolved[split] is not None:
                continue
            if len(paths) > 1:
                names = ", ".join(p.name for p in paths)
                raise AmbiguousSplitError(
                    f"{folder}: several files look like the {split} split ({names}); "
                    f"pass {split}_file=... to choose one"
                )
            resolved[split] = paths[0] if paths else None
    if not quiet:
        log.info(
            "corpus folder %s: train=%s dev=%s test=%s",
            folder,
            *(getattr(resolved[s], "name", None) for s in ("train", "dev", "test")),
        )
    return resolved["dev"], resolved["test"], resolved["train"]
