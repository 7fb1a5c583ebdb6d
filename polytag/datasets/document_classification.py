"""Text classification corpora: CSV and fastText folders, and AG News."""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path
from typing import Any

from polytag.data import Corpus, SentenceDataset
from polytag.datasets.base import (
    check_in_memory,
    corpus_folder,
    ensure_files,
    find_train_dev_test_files,
    offline,
    require_files,
)
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.formats.csv_format import read_csv_file
from polytag.formats.fasttext import read_fasttext_file
from polytag.formats.textio import atomic_writer, read_text

log = logging.getLogger("polytag")

PathLike = str | os.PathLike


def _split_paths(
    data_folder: Path,
    train_file: PathLike | None,
    dev_file: PathLike | None,
    test_file: PathLike | None,
    autofind_splits: bool,
) -> tuple[Path | None, Path | None, Path | None]:
    dev, test, train = find_train_dev_test_files(
        data_folder, dev_file, test_file, train_file, autofind_splits
    )
    if train is None and dev is None and test is None:
        raise DatasetNotFoundError(
            f"no corpus files found in {data_folder}: expected a file whose name contains 'train' "
            f"(and optionally 'dev' and 'test'), or pass train_file=/dev_file=/test_file="
        )
    return train, dev, test


class CSVClassificationCorpus(Corpus):
    """A folder of CSV files, one a split; ``column_name_map`` as in
    :func:`polytag.formats.csv_format.read_csv_file` (``"text"``, ``"label"``, ``"label_<type>"``)."""

    def __init__(
        self,
        data_folder: PathLike,
        column_name_map: dict[int, str],
        label_type: str = "class",
        name: str | None = None,
        train_file: PathLike | None = None,
        test_file: PathLike | None = None,
        dev_file: PathLike | None = None,
        autofind_splits: bool = True,
        skip_header: bool = False,
        delimiter: str = ",",
        encoding: str = "utf-8",
        use_tokenizer: bool = True,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        data_folder = Path(data_folder)
        paths = _split_paths(data_folder, train_file, dev_file, test_file, autofind_splits)

        def read(path: Path | None) -> SentenceDataset | None:
            if path is None:
                return None
            return SentenceDataset(
                read_csv_file(
                    path,
                    column_name_map,
                    label_type,
                    skip_header=skip_header,
                    delimiter=delimiter,
                    encoding=encoding,
                    use_tokenizer=use_tokenizer,
                ),
                source=path,
            )

        self.label_type = label_type
        train, dev, test = (read(p) for p in paths)  # _split_paths gives (train, dev, test)
        super().__init__(train, dev, test, name=name or str(data_folder), **corpusargs)


class ClassificationCorpus(Corpus):
    """A folder of fastText files (``__label__X text``), one a split."""

    def __init__(
        self,
        data_folder: PathLike,
        label_type: str = "class",
        train_file: PathLike | None = None,
        test_file: PathLike | None = None,
        dev_file: PathLike | None = None,
        autofind_splits: bool = True,
        label_name_map: dict[str, str] | None = None,
        label_prefix: str = "__label__",
        encoding: str = "utf-8",
        use_tokenizer: bool = True,
        in_memory: bool = True,
        name: str | None = None,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        data_folder = Path(data_folder)
        paths = _split_paths(data_folder, train_file, dev_file, test_file, autofind_splits)

        def read(path: Path | None) -> SentenceDataset | None:
            if path is None:
                return None
            return SentenceDataset(
                read_fasttext_file(
                    path,
                    label_type,
                    label_prefix,
                    use_tokenizer=use_tokenizer,
                    encoding=encoding,
                    label_name_map=label_name_map,
                ),
                source=path,
            )

        self.label_type = label_type
        train, dev, test = (read(p) for p in paths)  # _split_paths gives (train, dev, test)
        super().__init__(train, dev, test, name=name or str(data_folder), **corpusargs)


# -- AG News ----------------------------------------------------------------------------------------

AGNEWS_URL = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
AGNEWS_HEADER = ["label", "title", "text"]


def convert_agnews(source: Path, classes: list[str], target: Path) -> int:
    """Rewrite an official AG News CSV (class 1-4, title, description; no header) into the
    ``label,title,text`` schema with class names; returns the row count."""
    reader = csv.reader(io.StringIO(read_text(source), newline=""))
    rows = 0
    with atomic_writer(target) as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(AGNEWS_HEADER)
        for row in reader:
            if not row:
                continue
            if len(row) != 3 or not row[0].isdigit() or not 1 <= int(row[0]) <= len(classes):
                raise FormatError(
                    source, reader.line_num, f"expected 'class(1-{len(classes)}),title,text', got {row[:3]!r}"
                )
            writer.writerow([classes[int(row[0]) - 1], row[1], row[2]])
            rows += 1
    return rows


def _download_agnews(folder: Path, missing: list[str]) -> None:
    raw = folder / "raw"
    names = ["classes.txt"] + missing
    ensure_files(raw, names, {n: AGNEWS_URL + n for n in names}, "agnews")
    # the official class names ("Sci/Tech") are written as the shared schema spells them ("Sci_Tech")
    classes = [c.strip().replace("/", "_") for c in read_text(raw / "classes.txt").split("\n") if c.strip()]
    for name in missing:
        log.info(
            "AG News: %d rows converted into %s",
            convert_agnews(raw / name, classes, folder / name),
            folder / name,
        )


class AGNEWS(CSVClassificationCorpus):
    """AG News topic classification (``agnews/train.csv``, ``test.csv``; header ``label,title,text``).

    Label type ``topic`` (World, Sports, Business, Sci_Tech); the text is ``(title + " " + text).strip()``
    (the titles of the shared train sample are empty), read verbatim: AG's artefacts (``#39;``, ``\\``
    for line breaks, ``&lt;b&gt;``) are kept. The dev split is sampled from train (10 %, seeded).
    Missing files are downloaded from the official CSVs and rewritten into that schema.
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        in_memory: bool = True,
        label_type: str = "topic",
        use_tokenizer: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        folder = corpus_folder(base_path, "agnews")
        required = ["train.csv", "test.csv"]
        missing = [n for n in required if not (folder / n).is_file()]
        if missing and not offline():
            try:
                _download_agnews(folder, missing)
            except (DatasetNotFoundError, FormatError) as exc:
                log.warning("AG News download failed: %s", exc)
        require_files(folder, required, "agnews", {n: AGNEWS_URL + n + " (converted)" for n in required})
        corpusargs.setdefault("name", "agnews")
        super().__init__(
            folder,
            {0: "label", 1: "text", 2: "text"},
            label_type,
            train_file="train.csv",
            test_file="test.csv",
            skip_header=True,
            use_tokenizer=use_tokenizer,
            **corpusargs,
        )
