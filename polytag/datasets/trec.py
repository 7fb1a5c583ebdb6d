"""TREC question classification (Flair's ``TREC_6`` and ``TREC_50``), read as fastText files.

Folder layout as Flair leaves it after its download: ``trec_6/train.txt`` and ``trec_6/test.txt``, one
``__label__NUM How far is it ...`` line a question (TREC_50 keeps the fine class, ``__label__NUM:dist``,
in ``trec_50/``). Missing files are converted from the official ``train_5500.label`` / ``TREC_10.label``
(Latin-1, ``NUM:dist How far ...``), which are downloaded into ``original/`` when online. The dev split
is sampled from train by :class:`~polytag.data.Corpus`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from polytag.datasets.base import check_in_memory, corpus_folder, ensure_files, offline, require_files
from polytag.datasets.document_classification import ClassificationCorpus
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.tokenization import SpaceTokenizer, Tokenizer

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

TREC_URL = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"
TREC_ORIGINAL_FILES = {"train.txt": "train_5500.label", "test.txt": "TREC_10.label"}


def convert_trec(source: Path, target: Path, fine: bool) -> int:
    """Rewrite an official TREC file (``COARSE:fine question``) as fastText lines; returns the count.

    ``fine=False`` keeps the coarse class (``NUM``, TREC-6), ``fine=True`` the whole label (TREC-50).
    """
    count = 0
    partial = target.with_name(f".{target.name}.part")  # renamed once complete: no half-written split
    with open(source, encoding="latin-1") as handle, open(partial, "w", encoding="utf-8") as out:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            label = fields[0]
            if ":" not in label or len(fields) < 2:
                raise FormatError(source, line_no, f"expected 'COARSE:fine question', got {line[:60]!r}")
            out.write(f"__label__{label if fine else label.split(':')[0]} {' '.join(fields[1:])}\n")
            count += 1
    os.replace(partial, target)
    return count


def _fetch_trec(folder: Path, missing: list[str], fine: bool) -> None:
    original = folder / "original"
    names = [TREC_ORIGINAL_FILES[name] for name in missing]
    ensure_files(original, names, {n: TREC_URL + n for n in names}, folder.name)
    for name in missing:
        count = convert_trec(original / TREC_ORIGINAL_FILES[name], folder / name, fine)
        log.info("%s: %d questions converted into %s", folder.name, count, folder / name)


class TREC_6(ClassificationCorpus):
    """TREC question classes (label type ``question_class``: ABBR, DESC, ENTY, HUM, LOC, NUM).

    ``tokenizer`` is Flair's default, :class:`~polytag.tokenization.SpaceTokenizer` (the questions are
    already tokenized); any polytag tokenizer, ``True`` (rule tokenizer) or ``False`` works.
    """

    FINE = False

    def __init__(
        self,
        base_path: PathLike | None = None,
        tokenizer: Tokenizer | bool | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        name = type(self).__name__.lower()
        folder = corpus_folder(base_path, name)
        required = list(TREC_ORIGINAL_FILES)
        missing = [n for n in required if not (folder / n).is_file()]
        if missing and not offline():
            try:
                _fetch_trec(folder, missing, self.FINE)
            except (DatasetNotFoundError, FormatError) as error:
                log.warning("%s download failed: %s", name, error)
        sources = {n: f"{TREC_URL}{TREC_ORIGINAL_FILES[n]} (converted)" for n in required}
        require_files(folder, required, name, sources)
        corpusargs.setdefault("name", name)
        use_tokenizer: Any = SpaceTokenizer() if tokenizer is None else tokenizer
        super().__init__(
            folder,
            label_type="question_class",
            train_file="train.txt",
            test_file="test.txt",
            use_tokenizer=use_tokenizer,
            **corpusargs,
        )


class TREC_50(TREC_6):
    """TREC with the 50 fine classes (``NUM:dist``) in ``trec_50/``; otherwise as :class:`TREC_6`."""

    FINE = True
