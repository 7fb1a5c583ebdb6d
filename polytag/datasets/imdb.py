"""IMDB movie-review sentiment (Flair's ``IMDB``): fastText lines ``__label__POSITIVE <review>``.

Folder layout as Flair's conversion leaves it: ``imdb_v4-rebalanced/train-all.txt`` (all 50,000 reviews
in one file; the dev and test splits are sampled from it, which is what Flair's "rebalanced" means), or
with ``rebalance_corpus=False`` ``imdb_v4/`` (``train.txt`` and ``test.txt`` when present, the official
25k/25k split; else ``train-all.txt``). When missing and online, the Stanford archive is downloaded and
converted without unpacking it: every ``{train,test}/{pos,neg}/*.txt`` review becomes one line, the
review's line breaks as spaces (Flair keeps the ``<br />`` tags, and so do we).
"""

from __future__ import annotations

import logging
import os
import tarfile
from pathlib import Path
from typing import Any

from polytag.datasets.base import check_in_memory, corpus_folder, download, offline, require_files
from polytag.datasets.document_classification import ClassificationCorpus
from polytag.tokenization import SegtokTokenizer, Tokenizer

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_LABELS = {"pos": "POSITIVE", "neg": "NEGATIVE"}


def convert_imdb(archive: Path, folder: Path, split_files: bool) -> int:
    """Write the archive's reviews as fastText lines; returns how many.

    ``split_files`` writes ``train.txt`` and ``test.txt`` (official split), else one ``train-all.txt``.
    """
    targets = ["train", "test"] if split_files else ["train-all"]
    partial = {name: folder / f".{name}.txt.part" for name in targets}
    handles = {name: open(path, "w", encoding="utf-8") for name, path in partial.items()}
    count = 0
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = member.name.split("/")
                # aclImdb/<split>/<pos|neg>/<id>_<rating>.txt
                if not member.isfile() or len(parts) != 4 or parts[1] not in ("train", "test"):
                    continue
                if parts[2] not in IMDB_LABELS or not parts[3].endswith(".txt"):
                    continue
                data = tar.extractfile(member)
                if data is None:
                    continue
                review = " ".join(data.read().decode("utf-8").split())
                out = handles[parts[1] if split_files else "train-all"]
                out.write(f"__label__{IMDB_LABELS[parts[2]]} {review}\n")
                count += 1
    finally:
        for handle in handles.values():
            handle.close()
    for name, path in partial.items():
        os.replace(path, folder / f"{name}.txt")
    return count


class IMDB(ClassificationCorpus):
    """IMDB reviews, label type ``sentiment`` (POSITIVE / NEGATIVE); see the module docstring.

    ``tokenizer`` is Flair's default :class:`~polytag.tokenization.SegtokTokenizer`; ``True`` is polytag's
    rule tokenizer, ``False`` whitespace only.
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        rebalance_corpus: bool = True,
        tokenizer: Tokenizer | bool | None = None,
        in_memory: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        name = "imdb_v4-rebalanced" if rebalance_corpus else "imdb_v4"
        folder = corpus_folder(base_path, name)
        split = not rebalance_corpus and (folder / "train.txt").is_file()
        required = ["train.txt", "test.txt"] if split else ["train-all.txt"]
        if not (folder / required[0]).is_file() and not offline():
            archive = folder / "aclImdb_v1.tar.gz"
            try:
                if not archive.is_file():
                    log.info("downloading %s to %s", IMDB_URL, archive)
                    download(IMDB_URL, archive, timeout=300.0)
                log.info("IMDB: %d reviews converted", convert_imdb(archive, folder, split_files=False))
            except (OSError, tarfile.TarError, UnicodeDecodeError) as error:
                log.warning("IMDB download failed: %s", error)
        require_files(folder, required, name, {required[0]: f"{IMDB_URL} (converted)"})
        corpusargs.setdefault("name", name)
        use_tokenizer: Any = SegtokTokenizer() if tokenizer is None else tokenizer
        test_file = "test.txt" if split else None
        super().__init__(
            folder,
            label_type="sentiment",
            use_tokenizer=use_tokenizer,
            train_file=required[0],
            test_file=test_file,
            **corpusargs,
        )
