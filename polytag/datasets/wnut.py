"""WNUT-17 emerging entities (Flair's ``WNUT_17``): tab-separated ``word<TAB>B-creative-work`` columns.

Folder layout as Flair's download leaves it: ``wnut_17/wnut17train.conll`` (train),
``emerging.dev.conll`` (dev) and ``emerging.test.annotated`` (test), fetched from the shared task's
site when missing and online. Entity types contain ``-`` (``creative-work``): only the first ``-``
separates the BIO prefix, so the ``ner`` spans are ``person``, ``location``, ``corporation``,
``product``, ``creative-work`` and ``group``.
"""

from __future__ import annotations

import os
from typing import Any

from polytag.datasets.base import corpus_folder, ensure_files
from polytag.datasets.sequence_labeling import ColumnCorpus

PathLike = str | os.PathLike

WNUT_17_URL = "https://noisy-text.github.io/2017/files/"
WNUT_17_FILES = {"train": "wnut17train.conll", "dev": "emerging.dev.conll", "test": "emerging.test.annotated"}


class WNUT_17(ColumnCorpus):
    """WNUT-17 (layer ``ner``, spans), read from ``<datasets>/wnut_17/`` (see the module docstring)."""

    def __init__(self, base_path: PathLike | None = None, in_memory: bool = True, **corpusargs: Any) -> None:
        folder = corpus_folder(base_path, "wnut_17")
        names = list(WNUT_17_FILES.values())
        ensure_files(folder, names, {n: WNUT_17_URL + n for n in names}, "wnut_17")
        corpusargs.setdefault("name", "wnut_17")
        corpusargs.setdefault("span_layers", ["ner"])
        super().__init__(
            folder,
            {0: "text", 1: "ner"},
            train_file=WNUT_17_FILES["train"],
            dev_file=WNUT_17_FILES["dev"],
            test_file=WNUT_17_FILES["test"],
            in_memory=in_memory,
            **corpusargs,
        )
