"""``polytag export MODEL --onnx DIR``: the whole model as ONNX, checked against PyTorch on the spot.

After writing the folder the command predicts a few built-in sentences (or the sentences of ``--check``
FILE) with PyTorch and with onnxruntime and reports the label agreement and the largest score
difference; a disagreement makes the command fail (exit code 1) so that a broken export is noticed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Any

from polytag.cli.inputs import UsageError, detect_format, iter_input, load_model

CHECK_TEXT = (
    "George Washington went to Washington on Monday. The European Union and the United Nations met in "
    "Geneva, Switzerland!\n"
    'Apple Inc. hired Tim Cook. He said: "Nothing changes." Is it raining in Paris?\n'
    "Short one.\n"
    + " ".join(["Anna visited Berlin, Rome and Madrid while Mr. Smith stayed home in London."] * 30)
)


def _check_sentences(check: str | None, limit: int) -> list[Any]:
    from polytag.cli.segment import make_sentences

    if check is None:
        sentences = []
        for number, line in enumerate(CHECK_TEXT.split("\n"), start=1):
            sentences.extend(make_sentences(line, document_id=f"line-{number}"))
        return sentences
    if not Path(check).is_file():
        raise UsageError(f"--check file not found: {check}")
    return list(islice(iter_input(check, detect_format(check)), limit))


def run_export(
    model_path: str | os.PathLike,
    onnx_dir: str | os.PathLike,
    opset: int | None = None,
    check: str | None = None,
    check_limit: int = 1000,
    verify: bool = True,
) -> int:
    """Export ``model_path`` into ``onnx_dir``; returns 0, or 1 when onnxruntime disagrees with PyTorch."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise UsageError("polytag export needs onnxruntime and onnx (pip install onnxruntime onnx)") from None
    from polytag.export import OnnxPredictor, compare_predictions, export_onnx
    from polytag.export.exporter import DEFAULT_OPSET
    from polytag.models import MultitaskModel

    model = load_model(model_path, device="cpu")
    start = time.perf_counter()
    folder = export_onnx(model, onnx_dir, opset=opset or DEFAULT_OPSET)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    seconds = time.perf_counter() - start
    print(
        f"exported {type(model).__name__} to {folder} ({size / 1e6:.1f} MB) in {seconds:.1f} s",
        file=sys.stderr,
    )
    if not verify:
        return 0
    sentences = _check_sentences(check, check_limit)
    model.predict(sentences, label_name="torch")
    OnnxPredictor(folder).predict(sentences, label_name="onnx")
    tasks = list(model.tasks) if isinstance(model, MultitaskModel) else []
    agreement = compare_predictions(
        sentences,
        [f"torch_{t}" for t in tasks] or ["torch"],
        [f"onnx_{t}" for t in tasks] or ["onnx"],
    )
    print(
        f"checked {agreement.sentences} sentences: label agreement {100 * agreement.label_agreement:.1f} %, "
        f"largest score difference {agreement.max_score_difference:.2e}",
        file=sys.stderr,
    )
    if agreement.label_agreement < 1.0:
        for example in agreement.examples:
            print(f"  differs: {example}", file=sys.stderr)
        return 1
    return 0


# -- the command line ----------------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``export`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    export = commands.add_parser(
        "export", parents=[common], help="export a model to ONNX (checked against PyTorch)"
    )
    export.add_argument("model", help="a model file")
    export.add_argument("--onnx", required=True, metavar="DIR", help="folder to write the ONNX export to")
    export.add_argument("--opset", type=int, help="ONNX opset (default: 17)")
    export.add_argument(
        "--check",
        metavar="FILE",
        help="data file whose sentences (up to --check-limit) check the export (default: built-in sentences)",
    )
    export.add_argument("--check-limit", type=int, default=1000)
    export.add_argument("--no-check", action="store_true", help="do not compare onnxruntime with PyTorch")
    export.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run_export(args.model, args.onnx, args.opset, args.check, args.check_limit, not args.no_check)
