"""Entity linking corpora: ZELDA (Milich and Akbik, 2023)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from polytag.data import ConcatDataset, Corpus
from polytag.datasets.archives import ZELDA_LIMITS, extract_zip
from polytag.datasets.base import (
    corpus_folder,
    download,
    offline,
    require_files,
)
from polytag.datasets.zelda_files import ZeldaFileDataset

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

ZELDA_URL = "https://nlp.informatik.hu-berlin.de/resources/datasets/zelda/zelda.zip"
# ZELDA's nine evaluation splits, in the order of its paper (and of Flair's loader).
ZELDA_TEST_SPLITS = (
    "aida-b",
    "cweb",
    "tweeki",
    "reddit-comments",
    "reddit-posts",
    "shadowlinks-top",
    "shadowlinks-shadow",
    "shadowlinks-tail",
    "wned-wiki",
)
ZELDA_TRAIN = Path("train_data") / "zelda_train.conll"
ZELDA_TEST_DIR = Path("test_data") / "conll"
# Above this size the train file is better read on demand (ZELDA's own is several GB).
LARGE_TRAIN_BYTES = 1 << 30


def _split_order(name: str) -> tuple[int, str]:
    return (ZELDA_TEST_SPLITS.index(name) if name in ZELDA_TEST_SPLITS else len(ZELDA_TEST_SPLITS), name)


def find_zelda_files(folder: Path) -> tuple[Path | None, dict[str, Path]]:
    """ZELDA's train file and its test files by split name, in the zip's layout or a flat folder.

    Zip layout: ``train_data/zelda_train.conll`` and ``test_data/conll/test_<split>.conll``. Flat
    layout: ``zelda_train.conll`` and ``test_<split>.conll`` directly in ``folder``.
    """
    train = next((p for p in (folder / ZELDA_TRAIN, folder / ZELDA_TRAIN.name) if p.is_file()), None)
    tests: dict[str, Path] = {}
    for test_dir in (folder / ZELDA_TEST_DIR, folder):
        if test_dir.is_dir():
            for path in test_dir.glob("test_*.conll"):
                tests.setdefault(path.stem[len("test_") :], path)
        if tests:
            break
    return train, {name: tests[name] for name in sorted(tests, key=_split_order)}


class ZELDA(Corpus):
    """ZELDA entity linking (``zelda/``): label ``nel`` (spans labelled with Wikipedia titles).

    ``column_format`` picks the label column: ``{0: "text", 2: "nel"}`` (titles, the default) or
    ``{0: "text", 1: "nel"}`` (Wikipedia page ids). Documents start with ``-DOCSTART-``; lines that
    start with ``"# "`` are comments. Each evaluation split stays addressable in
    ``corpus.test_splits`` (``{"aida-b": dataset, "cweb": ..., ...}``) and ``corpus.test`` is their
    concatenation in that order; the dev split is sampled from train (10 %, seeded), as in Flair.
    (``downsample`` replaces ``corpus.test`` but not ``test_splits``.)

    Both the layout of ZELDA's zip and a flat folder (``zelda/test_aida-b.conll``) are read. When
    neither is there the zip is downloaded and unpacked (unless offline). ZELDA's files are read as
    published: the ``O-<title>`` tags of ``test_tweeki.conll`` are outside any mention (read as ``O``,
    logged with their count; see :mod:`polytag.datasets.zelda_files`). ``in_memory=False`` (Flair's
    default for ZELDA) reads each sentence from disk on access, with flat memory however large the
    training file; the default ``True`` reads every file whole and links document neighbours.
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        column_format: dict[int, str] | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        column_format = dict(column_format or {0: "text", 2: "nel"})
        folder = corpus_folder(base_path, "zelda")
        train, tests = find_zelda_files(folder)
        errors: list[str] = []
        if train is None and not tests and not offline():
            archive = folder.parent / "zelda.zip"
            try:
                if not archive.is_file():
                    log.info("downloading %s to %s", ZELDA_URL, archive)
                    download(ZELDA_URL, archive)
                extract_zip(archive, folder.parent, ZELDA_LIMITS)
            except OSError as exc:
                errors.append(f"{ZELDA_URL}: {exc}")
            train, tests = find_zelda_files(folder)
        if train is None and not tests:
            require_files(
                folder,
                [str(ZELDA_TRAIN)] + [str(ZELDA_TEST_DIR / f"test_{s}.conll") for s in ZELDA_TEST_SPLITS],
                "zelda",
                errors=errors,
                note=f"ZELDA is published as one zip ({ZELDA_URL}); unpack it into {folder.parent}.",
            )
        if train is not None and in_memory and train.stat().st_size > LARGE_TRAIN_BYTES:
            log.warning(
                "ZELDA: %s is %.1f GB and in_memory=True reads it whole; pass in_memory=False (Flair's "
                "default) to read sentences on demand with flat memory",
                train,
                train.stat().st_size / 1e9,
            )
        train_data = ZeldaFileDataset(train, column_format, in_memory) if train is not None else None
        self.test_splits = {
            name: ZeldaFileDataset(path, column_format, in_memory) for name, path in tests.items()
        }
        if train is None:
            log.warning("ZELDA: no train file in %s; only the test split(s) %s are read", folder, list(tests))
        missing = [name for name in ZELDA_TEST_SPLITS if name not in self.test_splits]
        if tests and missing:
            log.info("ZELDA: %d of its 9 test splits are here; missing: %s", len(tests), ", ".join(missing))
        corpusargs.setdefault("name", "zelda")
        test = ConcatDataset(list(self.test_splits.values())) if self.test_splits else None
        super().__init__(train_data, None, test, **corpusargs)
