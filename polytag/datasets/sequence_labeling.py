"""Column-format corpora (CoNLL style): the generic :class:`ColumnCorpus` and the named ones.

Every loader reads local files first; where the corpus has a public source the files are fetched
from it when missing (unless ``POLYTAG_OFFLINE=1``), otherwise a
:class:`~polytag.errors.DatasetNotFoundError` names the files and where to put them.
Labels are kept exactly as the files have them: nothing is converted to another tag scheme
(span columns become span labels; see :mod:`polytag.formats.column`).
"""

from __future__ import annotations

import bz2
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polytag.data import ConcatDataset, Corpus, MultiCorpus, SentenceDataset
from polytag.datasets.archives import gunzip
from polytag.datasets.base import (
    check_in_memory,
    corpus_folder,
    download,
    ensure_files,
    find_train_dev_test_files,
    offline,
    require_files,
)
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.formats.column import read_column_file
from polytag.formats.streaming import IndexedColumnFile

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

# Layer names whose columns hold BIO/IOB1/BIOES tags in the named corpora of this module.
_SPAN_LAYER_NAMES = frozenset({"np", "ner", "nel"})


def known_span_layers(column_format: dict[int, str]) -> list[str]:
    """The columns of ``column_format`` whose names mark span layers (``ner``, ``nel``...): read as spans."""
    return sorted({name for name in column_format.values() if name in _SPAN_LAYER_NAMES})


# Flair's column_delimiter values that mean what polytag's reader does anyway: a line with a tab is
# split on tabs, any other line on runs of spaces.
_SUPPORTED_DELIMITERS = (None, r"\s+", "\t", " ")


def _check_delimiter(column_delimiter: str | None) -> None:
    if column_delimiter not in _SUPPORTED_DELIMITERS:
        raise NotImplementedError(
            f"column_delimiter={column_delimiter!r} is not supported: lines are split on tabs when they have "
            f"one, else on runs of spaces (Flair's r'\\s+' and '\\t' behave the same on such files)"
        )


class ColumnDataset(SentenceDataset):
    """The sentences of one column file (Flair's ``ColumnDataset``).

    Takes the keyword arguments of :func:`polytag.formats.column.read_column_file`. With
    ``in_memory=True`` the file is read at construction; with ``in_memory=False`` only an index of
    byte offsets is kept and each access parses its sentence from disk
    (:class:`polytag.formats.streaming.IndexedColumnFile`, which also takes ``detect_sentences`` and
    ``validate``).
    """

    def __init__(
        self,
        path_to_column_file: PathLike,
        column_name_map: dict[int, str],
        in_memory: bool = True,
        **reader_args: Any,
    ) -> None:
        self.path_to_column_file = Path(path_to_column_file)
        if not self.path_to_column_file.is_file():
            raise DatasetNotFoundError(f"column file {self.path_to_column_file} does not exist")
        self.column_name_map = dict(column_name_map)
        self.in_memory = in_memory
        if in_memory:
            super().__init__(read_column_file(self.path_to_column_file, self.column_name_map, **reader_args))
        else:
            self.sentences = IndexedColumnFile(  # type: ignore[assignment]
                self.path_to_column_file, self.column_name_map, **reader_args
            )

    def is_in_memory(self) -> bool:
        return self.in_memory

    def token_counts(self) -> np.ndarray | None:
        """Words per sentence from the index (``in_memory=False``); None for an in-memory dataset."""
        return None if self.in_memory else self.sentences.token_counts()  # type: ignore[attr-defined]


class MultiFileColumnCorpus(Corpus):
    """A corpus whose splits are each one or more column files (read in the order given).

    A missing dev split (and a missing test split) is sampled from train by :class:`Corpus`;
    pass ``sample_missing_splits=False`` to keep it empty.
    """

    def __init__(
        self,
        column_format: dict[int, str],
        train_files: Sequence[PathLike] | None = None,
        test_files: Sequence[PathLike] | None = None,
        dev_files: Sequence[PathLike] | None = None,
        comment_symbol: str | None = None,
        encoding: str = "utf-8",
        document_separator_token: str | None = "-DOCSTART-",
        skip_first_line: bool = False,
        in_memory: bool = True,
        label_name_map: dict[str, str] | None = None,
        span_layers: Iterable[str] | None = None,
        tag_scheme: str = "auto",
        column_delimiter: str | None = None,
        **corpusargs: Any,
    ) -> None:
        _check_delimiter(column_delimiter)
        reader_args = {
            "span_layers": None if span_layers is None else list(span_layers),
            "tag_scheme": tag_scheme,
            "comment_symbol": comment_symbol,
            "document_separator_token": document_separator_token,
            "encoding": encoding,
            "label_name_map": label_name_map,
            "skip_first_line": skip_first_line,
        }
        self.column_format = dict(column_format)

        def read(files: Sequence[PathLike] | None) -> Any:
            if not files:
                return None
            datasets = [ColumnDataset(f, column_format, in_memory, **reader_args) for f in files]
            return datasets[0] if len(datasets) == 1 else ConcatDataset(datasets)

        super().__init__(read(train_files), read(dev_files), read(test_files), **corpusargs)


class ColumnCorpus(MultiFileColumnCorpus):
    """A corpus of column files in one folder (CoNLL-03, CoNLL-2000 and the like).

    ``column_format`` maps column indices to layer names (``{0: "text", 1: "pos", 3: "ner"}``).
    Without ``train_file`` the folder is searched (``autofind_splits``): names containing ``train``,
    ``dev``/``testa``/``valid`` and ``test``/``testb``; compressed copies (``.gz``, ``.bz2``, ``.zip``),
    swap files and hidden files are ignored (see
    :func:`~polytag.datasets.base.find_train_dev_test_files`). A missing dev (or test) split is
    sampled from train, 10 %, seeded, and logged. Lines are split on tabs when they have one, else on
    runs of spaces; ``column_delimiter`` is accepted for Flair scripts when it is ``r"\\s+"``, ``"\\t"``
    or ``" "``, which read such files the same way.

    ``in_memory=False`` keeps only a byte-offset index of each file and parses a sentence on each
    access (flat memory for corpora of millions of sentences; see :mod:`polytag.formats.streaming`
    for what differs: sentences are not linked to their document neighbours).
    """

    def __init__(
        self,
        data_folder: PathLike,
        column_format: dict[int, str],
        train_file: PathLike | None = None,
        test_file: PathLike | None = None,
        dev_file: PathLike | None = None,
        autofind_splits: bool = True,
        name: str | None = None,
        comment_symbol: str | None = None,
        document_separator_token: str | None = "-DOCSTART-",
        label_name_map: dict[str, str] | None = None,
        skip_first_line: bool = False,
        encoding: str = "utf-8",
        span_layers: Iterable[str] | None = None,
        tag_scheme: str = "auto",
        in_memory: bool = True,
        column_delimiter: str | None = None,
        **corpusargs: Any,
    ) -> None:
        _check_delimiter(column_delimiter)
        data_folder = Path(data_folder)
        dev_path, test_path, train_path = find_train_dev_test_files(
            data_folder, dev_file, test_file, train_file, autofind_splits
        )
        if train_path is None and dev_path is None and test_path is None:
            raise DatasetNotFoundError(
                f"no corpus files found in {data_folder}: expected a file whose name contains 'train' "
                f"(and optionally 'dev' and 'test'), or pass train_file=/dev_file=/test_file="
            )
        self.data_folder = data_folder
        super().__init__(
            column_format,
            train_files=[train_path] if train_path else None,
            test_files=[test_path] if test_path else None,
            dev_files=[dev_path] if dev_path else None,
            comment_symbol=comment_symbol,
            encoding=encoding,
            document_separator_token=document_separator_token,
            skip_first_line=skip_first_line,
            label_name_map=label_name_map,
            span_layers=span_layers,
            tag_scheme=tag_scheme,
            in_memory=in_memory,
            name=name if name is not None else str(data_folder),
            **corpusargs,
        )


# -- CoNLL-03 ---------------------------------------------------------------------------------------

CONLL_03_COLUMNS = {0: "text", 1: "pos", 2: "np", 3: "ner"}


def _conll_03_missing(folder: Path) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"CoNLL-03 (English) was not found in {folder}. It has no public download (the text is the "
        f"Reuters RCV1 corpus, research use only): obtain it as described at "
        f"https://www.clips.uantwerpen.be/conll2003/ner/ and put its three files into {folder} as\n"
        f"  {folder / 'train.txt'}\n  {folder / 'dev.txt'}\n  {folder / 'test.txt'}\n"
        f"(eng.train / eng.testa / eng.testb are found too), or set POLYTAG_DATASETS / base_path to "
        f"the folder that holds 'conll_03/'."
    )


def _conll_03_files(folder: Path) -> tuple[Path, Path | None, Path | None]:
    """(train, dev, test) of a CoNLL-03 folder, or the error that says where to put them."""
    if not folder.is_dir():
        raise _conll_03_missing(folder)
    dev, test, train = find_train_dev_test_files(folder, quiet=True)
    if train is None:
        raise _conll_03_missing(folder)
    return train, dev, test


class CONLL_03(ColumnCorpus):
    """CoNLL-2003 English NER (``conll_03/``): layers ``pos``, ``np`` (chunks, spans), ``ner`` (spans).

    There is no public download; a missing folder raises an error that says where to put the files.
    Documents (``-DOCSTART-``) link their sentences for document context.
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        column_format: dict[int, str] | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        column_format = dict(column_format or CONLL_03_COLUMNS)
        folder = corpus_folder(base_path, "conll_03")
        train, dev, test = _conll_03_files(folder)
        corpusargs.setdefault("span_layers", known_span_layers(column_format))
        corpusargs.setdefault("name", "conll_03")
        super().__init__(
            folder,
            column_format,
            train_file=train,
            dev_file=dev,
            test_file=test,
            document_separator_token="-DOCSTART-",
            in_memory=in_memory,
            **corpusargs,
        )


# -- CoNLL-2000 -------------------------------------------------------------------------------------

CONLL_2000_URL = "https://www.clips.uantwerpen.be/conll2000/chunking/"


class CONLL_2000(ColumnCorpus):
    """CoNLL-2000 chunking (``conll_2000/train.txt``, ``test.txt``): layers ``pos`` and ``np`` (spans).

    The dev split is sampled from train (10 %, seeded). There are no comment lines: ``#`` is a token.
    Missing files are downloaded (``.gz``) from the CoNLL-2000 site and unpacked.
    """

    def __init__(self, base_path: PathLike | None = None, in_memory: bool = True, **corpusargs: Any) -> None:
        folder = corpus_folder(base_path, "conll_2000")
        required = ["train.txt", "test.txt"]
        missing = [name for name in required if not (folder / name).is_file()]
        errors: list[str] = []
        if missing and not offline():
            for name in missing:
                archive = folder / f"{name}.gz"
                try:
                    if not archive.is_file():
                        log.info("downloading %s%s.gz to %s", CONLL_2000_URL, name, archive)
                        download(f"{CONLL_2000_URL}{name}.gz", archive)
                    gunzip(archive, folder / name)
                except OSError as exc:
                    errors.append(f"{CONLL_2000_URL}{name}.gz: {exc}")
        require_files(
            folder,
            required,
            "conll_2000",
            {n: f"{CONLL_2000_URL}{n}.gz (gunzip it)" for n in required},
            errors,
        )
        corpusargs.setdefault("name", "conll_2000")
        corpusargs.setdefault("span_layers", ["np"])
        super().__init__(
            folder,
            {0: "text", 1: "pos", 2: "np"},
            train_file="train.txt",
            test_file="test.txt",
            comment_symbol=None,
            in_memory=in_memory,
            **corpusargs,
        )


# -- WikiNER ----------------------------------------------------------------------------------------

WIKINER_URL = "https://raw.githubusercontent.com/dice-group/FOX/master/input/Wikiner/"
WIKINER_LANGUAGES = ("en", "de", "nl", "fr", "it", "es", "pt", "pl", "ru")


def convert_wikiner(source: Path, target: Path) -> int:
    """Write WikiNER's one-sentence-a-line file as a column file; returns the sentence count.

    ``word|POS|NER`` tokens are separated by spaces; a blank line separates documents and becomes a
    ``-DOCSTART-`` line, so the sentences of one article are linked. ``source`` may be ``.bz2``.
    """
    opener = bz2.open if source.suffix == ".bz2" else open
    sentences = 0
    with opener(source, "rt", encoding="utf-8") as handle, open(target, "w", encoding="utf-8") as out:
        pending_doc = True
        for line_no, line in enumerate(handle, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                pending_doc = True
                continue
            if pending_doc:
                out.write("-DOCSTART-\tO\tO\n\n")
                pending_doc = False
            rows = []
            for item in line.split():
                parts = item.rsplit("|", 2)
                if len(parts) != 3 or not all(parts):
                    raise FormatError(source, line_no, f"expected tokens 'word|POS|NER', got {item!r}")
                rows.append("\t".join(parts))
            out.write("\n".join(rows))
            out.write("\n\n")
            sentences += 1
    return sentences


def _wikiner_source(folder: Path, language: str) -> Path | None:
    stem = f"aij-wikiner-{language}-wp3"
    for candidate in (
        folder / language / stem,
        folder / language / f"{stem}.bz2",
        folder / stem,
        folder / f"{stem}.bz2",
    ):
        if candidate.is_file():
            return candidate
    return None


class NER_MULTI_WIKINER(MultiCorpus):
    """WikiNER (``ner_multi_wikiner/<language>/aij-wikiner-<language>-wp3[.bz2]``), one corpus a language.

    WikiNER's own format (one sentence a line, ``word|POS|NER`` tokens with IOB1 tags, blank lines
    between articles) is converted into a temporary column file and read from there; the user's file is
    never rewritten. Layers: ``pos`` and ``ner`` (spans). Dev and test are sampled from train. Missing
    files are downloaded (``.bz2``) from the FOX repository, as in Flair.
    """

    def __init__(
        self,
        languages: str | list[str] = "en",
        base_path: PathLike | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        if isinstance(languages, str):
            languages = [languages]
        unknown = [lc for lc in languages if lc not in WIKINER_LANGUAGES]
        if unknown:
            raise ValueError(f"WikiNER has no language(s) {unknown}; available: {list(WIKINER_LANGUAGES)}")
        folder = corpus_folder(base_path, "ner_multi_wikiner")
        name = corpusargs.pop("name", "multi-wikiner")
        corpora = []
        for language in languages:
            source = _wikiner_source(folder, language)
            if source is None:
                archive = f"aij-wikiner-{language}-wp3.bz2"
                urls = {archive: WIKINER_URL + archive}
                ensure_files(folder / language, [archive], urls, "ner_multi_wikiner")
                source = folder / language / archive
            with tempfile.TemporaryDirectory(prefix="polytag-wikiner-") as tmp:
                converted = Path(tmp) / f"aij-wikiner-{language}-wp3.txt"
                convert_wikiner(source, converted)
                sentences = read_column_file(
                    converted, {0: "text", 1: "pos", 2: "ner"}, span_layers=["ner"], tag_scheme="IOB1"
                )
            log.info("WikiNER %s: %d sentences from %s", language, len(sentences), source)
            corpora.append(Corpus(SentenceDataset(sentences), name=f"wikiner-{language}", **corpusargs))
        super().__init__(corpora, name=name)
