"""Universal Dependencies treebanks (CoNLL-U): token layers ``upos``, ``pos`` (XPOS), ``lemma``,
``head`` and ``deprel`` (see :mod:`polytag.formats.conllu`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from polytag.data import Corpus, SentenceDataset
from polytag.datasets.base import corpus_folder, ensure_files, find_train_dev_test_files
from polytag.errors import DatasetNotFoundError
from polytag.formats.conllu import read_conllu_file
from polytag.formats.streaming import IndexedConlluFile

PathLike = str | os.PathLike


class UniversalDependenciesDataset(SentenceDataset):
    """The sentences of one CoNLL-U file (multiword tokens are split into their words).

    ``in_memory=False`` keeps a byte-offset index and parses each sentence on access
    (:class:`polytag.formats.streaming.IndexedConlluFile`).
    """

    def __init__(
        self, path_to_conll_file: PathLike, in_memory: bool = True, extra_layers: bool = False
    ) -> None:
        self.path_to_conll_file = Path(path_to_conll_file)
        self.in_memory = in_memory
        if in_memory:
            super().__init__(read_conllu_file(self.path_to_conll_file, extra_layers=extra_layers))
        else:
            self.sentences = IndexedConlluFile(  # type: ignore[assignment]
                self.path_to_conll_file, extra_layers=extra_layers
            )

    def is_in_memory(self) -> bool:
        return self.in_memory

    def token_counts(self) -> np.ndarray | None:
        """Words per sentence from the index (``in_memory=False``); None for an in-memory dataset."""
        return None if self.in_memory else self.sentences.token_counts()  # type: ignore[attr-defined]


class UniversalDependenciesCorpus(Corpus):
    """A treebank folder with CoNLL-U splits, found as in :class:`~polytag.datasets.ColumnCorpus`."""

    def __init__(
        self,
        data_folder: PathLike,
        train_file: PathLike | None = None,
        test_file: PathLike | None = None,
        dev_file: PathLike | None = None,
        in_memory: bool = True,
        split_multiwords: bool = True,
        extra_layers: bool = False,
        **corpusargs: Any,
    ) -> None:
        if not split_multiwords:
            raise NotImplementedError(
                "split_multiwords=False is not supported: multiword tokens are always read as their words "
                "(the surface ranges are kept in sentence.metadata['multiword_tokens'])"
            )
        data_folder = Path(data_folder)
        dev, test, train = find_train_dev_test_files(data_folder, dev_file, test_file, train_file)
        if train is None and dev is None and test is None:
            raise DatasetNotFoundError(f"no CoNLL-U files (names with train/dev/test) found in {data_folder}")

        def read(path: Path | None) -> UniversalDependenciesDataset | None:
            if path is None:
                return None
            return UniversalDependenciesDataset(path, in_memory=in_memory, extra_layers=extra_layers)

        corpusargs.setdefault("name", str(data_folder))
        super().__init__(read(train), read(dev), read(test), **corpusargs)


UD_URL = "https://raw.githubusercontent.com/UniversalDependencies/{repository}/{revision}/{name}"


class UDTreebankCorpus(UniversalDependenciesCorpus):
    """One UD treebank with one train, dev and test file; subclasses set the three class attributes."""

    FOLDER = ""  # ud_german
    REPOSITORY = ""  # UD_German-GSD
    PREFIX = ""  # de_gsd

    def __init__(
        self,
        base_path: PathLike | None = None,
        in_memory: bool = True,
        split_multiwords: bool = True,
        revision: str = "master",
        **corpusargs: Any,
    ) -> None:
        folder = corpus_folder(base_path, self.FOLDER)
        names = {split: f"{self.PREFIX}-ud-{split}.conllu" for split in ("train", "dev", "test")}
        urls = {
            name: UD_URL.format(repository=self.REPOSITORY, revision=revision, name=name)
            for name in names.values()
        }
        ensure_files(folder, list(names.values()), urls, self.FOLDER)
        corpusargs.setdefault("name", self.FOLDER)
        super().__init__(
            folder,
            train_file=names["train"],
            dev_file=names["dev"],
            test_file=names["test"],
            in_memory=in_memory,
            split_multiwords=split_multiwords,
            **corpusargs,
        )


class UD_ENGLISH(UDTreebankCorpus):
    """The English Web Treebank (``ud_english/en_ewt-ud-{train,dev,test}.conllu``).

    Label types: ``upos`` (universal POS), ``pos`` (XPOS, Penn tags), ``lemma``, ``head``, ``deprel``.
    Missing files are downloaded from the UD_English-EWT repository at ``revision``.
    """

    FOLDER, REPOSITORY, PREFIX = "ud_english", "UD_English-EWT", "en_ewt"
