"""Entity linking corpora: ZELDA (Milich and Akbik, 2023)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from polytag.data import ConcatDataset, Corpus
from polytag.datasets.archives import ZELDA_LIMITS, extract_zip
from polytag.datasets.base import (
    check_in_memory,
    corpus_folder,
    download,
    offline,
    require_files,
)
from polytag.datasets.sequence_labeling import ColumnDataset

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
    neither is there the zip is downloaded and unpacked (unless offline).
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        column_format: dict[int, str] | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
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
        reader_args: dict[str, Any] = {
            "document_separator_token": "-DOCSTART-",
            "comment_symbol": "# ",
            "span_layers": ["nel"] if "nel" in column_format.values() else None,
        }
        train_data = ColumnDataset(train, column_format, **reader_args) if train is not None else None
        self.test_splits = {
            name: ColumnDataset(path, column_format, **reader_args) for name, path in tests.items()
        }
        if train is None:
            log.warning("ZELDA: no train file in %s; only the test split(s) %s are read", folder, list(tests))
        corpusargs.setdefault("name", "zelda")
        test = ConcatDataset(list(self.test_splits.values())) if self.test_splits else None
        super().__init__(train_data, None, test, **corpusargs)
