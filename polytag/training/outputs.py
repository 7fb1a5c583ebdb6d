"""Which files in a training folder a run wrote: ``polytag-run.json``, so no run deletes a user's files.

The trainer replaces or removes only names this manifest lists (its own outputs from earlier runs in the
same folder). A name is recorded *before* the file is written, so a run killed at any moment leaves no
output of its own unlisted. A file of an output name that the manifest does not list belongs to the
user: the run refuses to start rather than replace it, unless it was told to (``overwrite=True`` /
``polytag train --overwrite``), and even then nothing is globbed or removed wholesale.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from polytag.errors import PolytagError

MANIFEST = "polytag-run.json"
FORMAT = "polytag-run"
VERSION = 1

FINAL_MODEL = "final-model.pt"
BEST_MODEL = "best-model.pt"
INTERRUPTED_MODEL = "interrupted-model.pt"
CHECKPOINTS = "checkpoints"
LOSS_FILE = "loss.tsv"
TEST_FILE = "test.tsv"
LOG_FILE = "training.log"
CURVES = "training-curves.png"
CONFIG = "config.yaml"  # written by ``polytag train``, not by the trainer
# every fixed name the trainer may write in its folder (plus model_epoch_<k>.pt and, when it moves its
# own old checkpoints aside, checkpoints.previous)
TRAINER_NAMES = (
    FINAL_MODEL,
    BEST_MODEL,
    INTERRUPTED_MODEL,
    CHECKPOINTS,
    LOSS_FILE,
    TEST_FILE,
    LOG_FILE,
    CURVES,
    "tensorboard",
)
EPOCH_MODEL = re.compile(r"model_epoch_\d+\.pt")


class OutputFolderError(PolytagError, FileExistsError):
    """A training folder holds files the run would replace but did not write (or a broken manifest)."""


def epoch_model_name(epoch: int) -> str:
    """The name of the model saved after ``epoch`` (``save_model_each_k_epochs``)."""
    return f"model_epoch_{epoch}.pt"


class RunFolder:
    """A training folder and its manifest: what earlier runs here wrote, and what this run writes."""

    def __init__(self, path: str | os.PathLike, write: bool = True) -> None:
        self.path = Path(path)
        self.manifest = self.path / MANIFEST
        self.write = write  # False on ranks other than 0 of a distributed run: read, never write
        self.own: set[str] = self._read()

    def _read(self) -> set[str]:
        if not self.manifest.is_file():
            return set()
        try:
            data = json.loads(self.manifest.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or not isinstance(data.get("files"), list):
                raise ValueError(f"expected a {FORMAT!r} manifest with a 'files' list")
            return {str(name) for name in data["files"]}
        except (OSError, ValueError, AttributeError) as error:
            raise OutputFolderError(
                f"{self.manifest}: cannot read the run manifest ({error}); "
                "remove it only if no polytag run wrote this folder, or choose another folder"
            ) from None

    def is_run(self) -> bool:
        """Whether a polytag run wrote this folder (it has a manifest)."""
        return self.manifest.is_file()

    def entries(self) -> list[str]:
        """The names in the folder (none when it does not exist)."""
        return sorted(p.name for p in self.path.iterdir()) if self.path.is_dir() else []

    def foreign(self, names: tuple[str, ...] = TRAINER_NAMES) -> list[str]:
        """Names that exist here and that the trainer would write, but that no earlier run here wrote."""
        present = self.entries()
        self.own |= self._read()  # read after listing: a name is claimed before its file appears
        clashing = {n for n in present if n in names or EPOCH_MODEL.fullmatch(n)}
        return sorted(clashing - self.own)

    def own_files(self, suffix: str = "") -> list[Path]:
        """The files of this folder that runs here wrote (ending in ``suffix``), as they exist now."""
        self.own |= self._read()
        found = [self.path / n for n in sorted(self.own) if n.endswith(suffix)]
        return [p for p in found if p.is_file()]

    def check(self, overwrite: bool) -> None:
        """Refuse to start when the trainer would replace files it did not write (unless ``overwrite``).

        With ``overwrite`` such *files* count as the run's own from now on (it may replace them); a
        foreign *folder* (``checkpoints``) is never taken over: a fresh run moves it aside instead.
        """
        clashing = self.foreign()
        if clashing and not overwrite:
            shown = ", ".join(clashing[:5]) + (", ..." if len(clashing) > 5 else "")
            raise OutputFolderError(
                f"{self.path}: holds {shown}, which training would replace but no polytag run in this "
                f"folder wrote (not listed in {MANIFEST}); move them, choose another folder, or pass "
                "overwrite=True (polytag train --overwrite)"
            )
        self.claim(*[n for n in clashing if not (self.path / n).is_dir()])

    def set_aside(self, name: str) -> Path | None:
        """Move the folder ``name`` to ``<name>.previous`` (replacing an older one only if a run here
        wrote it; otherwise the first free ``<name>.previous-<k>``). The moved folder stays the run's
        own only if it was. Returns where it went (None when there was nothing to move)."""
        source = self.path / name
        if not self.write or not source.exists():
            return None
        target = self.path / f"{name}.previous"
        self.remove_own(target.name)
        k = 2
        while target.exists() or target.is_symlink():
            target = self.path / f"{name}.previous-{k}"
            k += 1
        if name in self.own:
            self.claim(target.name)
        source.rename(target)
        return target

    def claim(self, *names: str) -> None:
        """Record names as this run's outputs (before writing them)."""
        new = [n for n in names if n not in self.own]
        if not new:
            return
        self.own.update(new)
        if self.write:
            self._save()

    def _save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{MANIFEST}.tmp-{os.getpid()}"
        text = json.dumps({"format": FORMAT, "version": VERSION, "files": sorted(self.own)}, indent=1)
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, self.manifest)

    def remove_own(self, name: str) -> bool:
        """Delete ``name`` if an earlier run here wrote it (a file, or a folder it created); never
        anything else. Returns whether something was removed."""
        target = self.path / name
        if name not in self.own or not self.write or not (target.exists() or target.is_symlink()):
            return False
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
        self.own.discard(name)  # a file the user puts here later is theirs
        self._save()
        return True

    def own_epoch_models(self) -> list[str]:
        """The per-epoch model files an earlier run here wrote."""
        return sorted(n for n in self.own if EPOCH_MODEL.fullmatch(n))
