"""CleanCoNLL (Rücker and Akbik, 2023): CoNLL-03 with corrected NER labels and Wikipedia links.

CleanCoNLL is distributed as annotation files whose tokens are masked, plus patch files (in the
``diff`` "normal" format) that turn CoNLL-03's token column into CleanCoNLL's. :func:`build_cleanconll`
does what the project's ``create_cleanconll_from_conll03.sh`` does, in Python: take the first column of
CoNLL-03, apply the patches, and put the tokens back in front of the annotations.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

from polytag.datasets.archives import extract_zip
from polytag.datasets.base import (
    check_in_memory,
    datasets_root,
    ensure_files,
    find_train_dev_test_files,
    require_files,
)
from polytag.datasets.sequence_labeling import ColumnCorpus, known_span_layers
from polytag.errors import DatasetNotFoundError, FormatError
from polytag.formats.textio import atomic_writer

log = logging.getLogger("polytag")

PathLike = str | os.PathLike

SPLITS = ("train", "dev", "test")
# Token, POS, Wikipedia link (BIO), NER before the paper's phase 3 (BIO), final CleanCoNLL NER (BIO).
CLEANCONLL_COLUMNS = {0: "text", 1: "pos", 2: "nel", 4: "ner"}
CLEANCONLL_DATA_URL = "https://raw.githubusercontent.com/flairNLP/CleanCoNLL/main/data/"
CONLL03_ZIP_URL = "https://data.deepai.org/conll2003.zip"
_FALLBACK_COLUMNS = {0: "text", 1: "pos", 3: "ner"}

_COMMAND = re.compile(r"^(\d+)(?:,(\d+))?([acd])(\d+)(?:,(\d+))?$")


def apply_normal_diff(lines: list[str], diff_text: str, diff_path: PathLike | None = None) -> list[str]:
    """Apply a ``diff`` "normal format" patch (``12d11``, ``3c3,5``, ``7a8``) to ``lines``.

    Every removed line (``< ...``) must equal the line it removes; a mismatch raises
    :class:`~polytag.errors.FormatError` naming the patch line, since it means the patch was made
    against a different file.
    """
    out: list[str] = []
    consumed = 0  # lines of ``lines`` already copied or removed
    diff_lines = diff_text.split("\n")
    if diff_lines and diff_lines[-1] == "":
        diff_lines.pop()
    i = 0
    while i < len(diff_lines):
        match = _COMMAND.match(diff_lines[i])
        if match is None:
            raise FormatError(
                diff_path, i + 1, f"expected a diff command like '12d11' or '3c3,5', got {diff_lines[i]!r}"
            )
        first, last, action = int(match.group(1)), match.group(2), match.group(3)
        last_old = int(last) if last else first
        command_line = i + 1
        i += 1
        removed: list[str] = []
        added: list[str] = []
        while i < len(diff_lines) and diff_lines[i].startswith("<"):
            removed.append(diff_lines[i][2:])
            i += 1
        if i < len(diff_lines) and diff_lines[i] == "---":
            i += 1
        while i < len(diff_lines) and diff_lines[i].startswith(">"):
            added.append(diff_lines[i][2:])
            i += 1
        if action == "a":
            start, stop = first, first  # insert after old line ``first``
        else:
            start, stop = first - 1, last_old
        if start < consumed or stop > len(lines):
            raise FormatError(
                diff_path,
                command_line,
                f"command {diff_lines[command_line - 1]!r} does not fit a file of {len(lines)} lines "
                f"(or is out of order)",
            )
        if lines[start:stop] != removed:
            raise FormatError(
                diff_path,
                command_line,
                f"the lines to remove differ from lines {first}-{last_old} of the patched file: "
                f"expected {removed[:3]!r}, found {lines[start : min(stop, start + 3)]!r}",
            )
        out.extend(lines[consumed:start])
        out.extend(added)
        consumed = stop
    out.extend(lines[consumed:])
    return out


def _first_fields(path: Path) -> list[str]:
    """The first whitespace-separated field of every line ('' for a blank line), like ``awk '{print $1}'``."""
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [parts[0] if (parts := line.split()) else "" for line in lines]


def _strip_trailing_blanks(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


def merge_tokens(tokens: list[str], annotation_path: Path) -> list[str]:
    """Put ``tokens`` in front of the annotation columns (the annotations' masked column 0 is dropped)."""
    annotations = annotation_path.read_text(encoding="utf-8").split("\n")
    tokens = _strip_trailing_blanks(tokens)
    annotations = _strip_trailing_blanks(annotations)
    if len(tokens) != len(annotations):
        raise FormatError(
            annotation_path,
            None,
            f"has {len(annotations)} lines but the patched CoNLL-03 token column has {len(tokens)}; "
            f"the CoNLL-03 files are not the original English release",
        )
    merged = []
    for line_no, (token, annotation) in enumerate(zip(tokens, annotations), 1):
        rest = annotation.split("\t", 1)[1] if "\t" in annotation else annotation
        if not token and not rest.strip():
            merged.append("")
        elif not token or not rest.strip():
            raise FormatError(
                annotation_path, line_no, f"token {token!r} does not line up with {annotation!r}"
            )
        else:
            merged.append(f"{token}\t{rest}")
    return merged


def _conll03_sources(conll03_folder: Path | None, raw: Path) -> dict[str, Path]:
    """CoNLL-03 train/dev/test files: from ``conll03_folder`` if complete, else the public zip."""
    if conll03_folder is not None and conll03_folder.is_dir():
        dev, test, train = find_train_dev_test_files(conll03_folder)
        if train and dev and test:
            return {"train": train, "dev": dev, "test": test}
    ensure_files(raw, ["conll2003.zip"], {"conll2003.zip": CONLL03_ZIP_URL}, "cleanconll (CoNLL-03 source)")
    unpacked = raw / "conll03"
    if not (unpacked / "train.txt").is_file():
        extract_zip(raw / "conll2003.zip", unpacked)
    return {"train": unpacked / "train.txt", "dev": unpacked / "valid.txt", "test": unpacked / "test.txt"}


def build_cleanconll(target: Path, conll03_folder: Path | None = None) -> Path:
    """Create ``target/cleanconll.{train,dev,test}`` from CoNLL-03 and the CleanCoNLL annotations.

    The annotation and patch files are fetched into ``target/raw`` (files already there are used as
    they are); CoNLL-03 comes from ``conll03_folder`` when it holds the three splits, else from the
    public zip that CleanCoNLL's own script uses.
    """
    raw = target / "raw"
    names = [f"cleanconll_annotations.{s}" for s in SPLITS] + [f"{s}_tokens.patch" for s in SPLITS]
    urls = {n: f"{CLEANCONLL_DATA_URL}cleanconll_annotations/{n}" for n in names[:3]}
    urls.update({n: f"{CLEANCONLL_DATA_URL}patch_files/{n}" for n in names[3:]})
    ensure_files(raw, names, urls, "cleanconll (annotations and patches)")
    sources = _conll03_sources(conll03_folder, raw)
    for split in SPLITS:
        patch_path = raw / f"{split}_tokens.patch"
        tokens = apply_normal_diff(
            _first_fields(sources[split]), patch_path.read_text(encoding="utf-8"), patch_path
        )
        merged = merge_tokens(tokens, raw / f"cleanconll_annotations.{split}")
        with atomic_writer(target / f"cleanconll.{split}") as out:
            out.write("\n".join(merged) + "\n")
        log.info("CleanCoNLL %s: wrote %s (%d lines)", split, target / f"cleanconll.{split}", len(merged))
    return target


class CLEANCONLL(ColumnCorpus):
    """CleanCoNLL NER (``cleanconll/cleanconll.{train,dev,test}``): layers ``pos``, ``nel`` and ``ner``.

    The files have five tab-separated columns (token, POS, Wikipedia link, NER before the paper's
    phase 3, final NER); the default ``column_format`` reads the final NER column as ``ner`` and the
    links as ``nel``, and leaves the pre-phase-3 column out (add e.g. ``3: "ner_phase2"`` to read it).

    When the files are missing:

    - **fallback** (default, ``fallback_to_conll03=True``): if ``conll_03/`` is there, its files are
      read instead (layers ``pos`` and ``ner``) and a WARNING says so. This deviation from Flair
      (which would build the corpus) lets tutorials that use CLEANCONLL run offline on CoNLL-03; the
      original, noisier labels are what you then train on, and ``corpus.is_fallback`` is True.
    - otherwise the real corpus is built from CoNLL-03 (the local ``conll_03/`` files, else the public
      zip) plus the CleanCoNLL annotations and patches from github.com/flairNLP/CleanCoNLL
      (see :func:`build_cleanconll`); offline, a :class:`DatasetNotFoundError` lists what is missing.
    """

    def __init__(
        self,
        base_path: PathLike | None = None,
        in_memory: bool = True,
        column_format: dict[int, str] | None = None,
        fallback_to_conll03: bool = True,
        **corpusargs: Any,
    ) -> None:
        check_in_memory(in_memory)
        root = datasets_root(base_path)
        folder = root / "cleanconll"
        conll03 = root / "conll_03"
        files = [f"cleanconll.{s}" for s in SPLITS]
        self.is_fallback = False
        corpusargs.setdefault("document_separator_token", "-DOCSTART-")
        if not all((folder / f).is_file() for f in files):
            if fallback_to_conll03 and conll03.is_dir():
                dev, test, train = find_train_dev_test_files(conll03, quiet=True)
                if train is not None:
                    log.warning(
                        "CLEANCONLL: %s not found; reading CoNLL-03 from %s instead (original CoNLL-03 NER "
                        "labels, not CleanCoNLL's; no 'nel' layer). Pass fallback_to_conll03=False to build "
                        "the real CleanCoNLL (needs internet for its annotations and patches).",
                        folder,
                        conll03,
                    )
                    self.is_fallback = True
                    corpusargs.setdefault("name", "cleanconll (CoNLL-03 fallback)")
                    corpusargs.setdefault("span_layers", ["ner"])
                    super().__init__(
                        conll03,
                        _FALLBACK_COLUMNS,
                        train_file=train,
                        dev_file=dev,
                        test_file=test,
                        **corpusargs,
                    )
                    return
            try:
                build_cleanconll(folder, conll03)
            except DatasetNotFoundError as exc:
                require_files(
                    folder,
                    files,
                    "cleanconll",
                    note=(
                        "CleanCoNLL is built from CoNLL-03 plus the annotations and patches of "
                        "https://github.com/flairNLP/CleanCoNLL (run its create_cleanconll_from_conll03.sh "
                        f"and copy data/cleanconll/* here), or put CoNLL-03 into {conll03} to read it "
                        f"instead. Building failed with:\n{exc}"
                    ),
                )
        column_format = dict(column_format or CLEANCONLL_COLUMNS)
        corpusargs.setdefault("name", "cleanconll")
        corpusargs.setdefault("span_layers", known_span_layers(column_format))
        super().__init__(
            folder, column_format, train_file=files[0], dev_file=files[1], test_file=files[2], **corpusargs
        )
