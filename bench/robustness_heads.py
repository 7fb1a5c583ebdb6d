"""Robustness rows for issue 14 points 5 and 11 on the model-file side (loading checks before it builds).

    python bench/robustness_heads.py [--workdir DIR]

``run(workdir)`` returns one dict per check: ``{"point", "check", "expected", "observed", "ok"}``.
Point 5: a model file whose config asks for far more memory than the tensors it holds (a 1e8-row
vocabulary, a label dictionary larger than its decoder, a 1e12-entry candidate table) is refused by
``Model.load`` before anything is allocated and before any tensor is read. Point 11: deep JSON in the
header or config, a nested empty MultitaskModel and configs that cannot be built are one-line
ModelFileErrors naming the file, never a traceback; ``polytag info`` reads the header only.
Runs on a tiny random BERT in well under a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# name in tests.test_untrusted_model_files.HEADER_EDITS -> issue-14 point
CASES = {
    "encoder vocabulary of 1e8": 5,
    "label dictionary larger than its decoder": 5,
    "header nested too deep": 11,
    "config nested too deep": 11,
    "nested empty multitask model": 11,
    "label dictionary not an object": 11,
    "encoder width not a number": 11,
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _refusal_row(point: int, name: str, path: Path, fragment: str) -> dict[str, Any]:
    from tests.test_untrusted_model_files import load_refusal

    before = _peak_rss_mb()
    outcome, message = load_refusal(path)
    grown = _peak_rss_mb() - before
    ok = outcome == "refused" and fragment in message and str(path) in message and grown < 500
    return {
        "point": point,
        "check": f"Model.load of a model file with '{name}'",
        "expected": f"one-line ModelFileError naming the file ('{fragment[:60]}'), peak memory +<500 MB",
        "observed": f"{outcome}: {message[:140]} (peak memory +{grown:.0f} MB)",
        "ok": ok,
    }


def _candidate_row(workdir: Path, encoder_dir: Path) -> dict[str, Any]:
    """A 1e12-entry candidate table in the config of a SpanClassifier: refused before any read."""
    import torch

    from polytag.data import Dictionary
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models import SpanClassifier
    from polytag.nn.candidates import CandidateGenerator
    from tests.test_untrusted_model_files import join_file, load_refusal, split_file

    torch.manual_seed(0)
    labels = Dictionary(add_unk=True)
    labels.add_item("Smith")
    linker = SpanClassifier(
        TransformerWordEmbeddings(str(encoder_dir)),
        labels,
        "nel",
        candidates=CandidateGenerator({"Smith": ["Smith"]}),
    )
    good = workdir / "linker.pt"
    linker.save(good)
    header, data = split_file(good)
    config = json.loads(header["__metadata__"]["config"])
    config["model"]["candidates"]["sizes"]["mention_ids"] = 10**12
    header["__metadata__"]["config"] = json.dumps(config)
    damaged = join_file(workdir / "linker-huge-table.pt", header, data)
    import polytag.models.loading as loading

    read: list[Path] = []
    real = loading.load_model_tensors

    def watched(path: Any, *args: Any, **kwargs: Any) -> Any:
        read.append(path)
        return real(path, *args, **kwargs)

    loading.load_model_tensors = watched  # type: ignore[assignment]
    try:
        outcome, message = load_refusal(damaged)
    finally:
        loading.load_model_tensors = real  # type: ignore[assignment]
    ok = outcome == "refused" and "has shape" in message and not read
    return {
        "point": 5,
        "check": "Model.load of a SpanClassifier whose config declares a 1e12-entry candidate table",
        "expected": "ModelFileError from the meta-device comparison, no tensor data read",
        "observed": f"{outcome}: {message[:120]}; tensor data read: {bool(read)}",
        "ok": ok,
    }


def _info_row(path: Path) -> dict[str, Any]:
    """``polytag info`` must not build the model unless asked (``--verify``)."""
    from polytag.cli.main import run
    from polytag.models import Model

    built: list[object] = []
    real = Model.load.__func__  # type: ignore[attr-defined]

    def watched(cls: type, model_path: object, *args: Any, **kwargs: Any) -> Any:
        built.append(model_path)
        return real(cls, model_path, *args, **kwargs)

    Model.load = classmethod(watched)  # type: ignore[method-assign, assignment]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            plain = run(["info", str(path)])
            header_only = len(built)
            verified = run(["info", str(path), "--verify"])
    finally:
        Model.load = classmethod(real)  # type: ignore[method-assign, assignment]
    ok = plain == 0 and verified == 0 and header_only == 0 and len(built) == 1
    return {
        "point": 5,
        "check": "polytag info MODEL, then polytag info --verify MODEL",
        "expected": "the first reads the header only (no model built), --verify loads it once",
        "observed": f"exit {plain} after {header_only} loads; --verify: exit {verified}, {len(built)} in all",
        "ok": ok,
    }


def run(workdir: Path, encoder_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every row; builds a tiny encoder in ``workdir`` unless ``encoder_dir`` is given."""
    from tests.conftest import build_tiny_encoder
    from tests.test_cli_support import build_model
    from tests.test_untrusted_model_files import damaged_model_files

    workdir.mkdir(parents=True, exist_ok=True)
    encoder_dir = encoder_dir or build_tiny_encoder(workdir / "tiny-encoder")
    good = workdir / "good-model.pt"
    build_model(encoder_dir, tasks=("ner", "pos")).save(good)
    rows = []
    by_name = {
        name: (path, fragment) for name, path, fragment in damaged_model_files(good, workdir / "damaged")
    }
    for name, point in CASES.items():
        path, fragment = by_name[name]
        rows.append(_refusal_row(point, name, path, fragment))
    rows.append(_candidate_row(workdir, encoder_dir))
    rows.append(_info_row(good))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        rows = run(workdir)
    for row in rows:
        print(f"[{'ok' if row['ok'] else 'NO'}] point {row['point']}: {row['check']}")
        print(f"      expected: {row['expected']}\n      observed: {row['observed']}")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
