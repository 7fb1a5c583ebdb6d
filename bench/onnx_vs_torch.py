"""PyTorch vs onnxruntime prediction throughput on the CoNLL-2003 test split, and their label agreement.

    python bench/onnx_vs_torch.py [--model MODEL.pt] [--threads 1] [--steps 300] [--json OUT]

Without ``--model`` it fine-tunes a TokenClassifier for NER on the default encoder (the shipped
all-MiniLM-L6-v2) for ``--steps`` steps of batch 16 on the start of the CoNLL-2003 train split
(ModelTrainer.fine_tune, one epoch, lr 5e-5). The model is exported with ``export_onnx``; then the test
split (``$POLYTAG_DATASETS/conll_03/test.txt``) is predicted at batch 32 with ``model.predict`` and with
``OnnxPredictor.predict`` (both after a short warm-up, both with ``--threads`` threads). It prints
sentences/s of both, their ratio, the label agreement (share of sentences with identical labels: it must
be 100 %) and the largest score difference, and exits with 1 when the agreement is not 100 % or a score
differs by more than 1e-4.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from polytag.data import Corpus, Sentence  # noqa: E402
from polytag.datasets import CONLL_03  # noqa: E402
from polytag.embeddings import TransformerWordEmbeddings  # noqa: E402
from polytag.export import OnnxPredictor, compare_predictions, export_onnx  # noqa: E402
from polytag.models import Model, TokenClassifier  # noqa: E402
from polytag.trainers import ModelTrainer  # noqa: E402


def train_model(train: list[Sentence], steps: int, folder: Path) -> Model:
    """A quickly fine-tuned NER TokenClassifier on the default encoder."""
    torch.manual_seed(1)
    subset = train[: steps * 16]
    corpus = Corpus(subset, None, None, sample_missing_splits=False)
    labels = corpus.make_label_dictionary("ner", add_unk=False)
    model = TokenClassifier(TransformerWordEmbeddings(None, fine_tune=True), labels, "ner")
    ModelTrainer(model, corpus).fine_tune(
        folder, learning_rate=5e-5, mini_batch_size=16, max_epochs=1, create_file_logs=False
    )
    return Model.load(folder / "final-model.pt")


def timed(predict, sentences: list[Sentence], batch_size: int, label_name: str) -> float:
    """Sentences per second of one prediction pass over ``sentences``."""
    predict(sentences[:64], mini_batch_size=batch_size, label_name="warm-up")
    start = time.perf_counter()
    predict(sentences, mini_batch_size=batch_size, label_name=label_name)
    return len(sentences) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a NER model file (default: fine-tune one)")
    parser.add_argument(
        "--data", default=os.environ.get("POLYTAG_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    )
    parser.add_argument("--steps", type=int, default=300, help="fine-tuning steps without --model")
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime threads")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    corpus = CONLL_03(base_path=args.data)
    test = list(corpus.test)
    work = Path(tempfile.mkdtemp(prefix="polytag-onnx-bench-"))
    if args.model:
        model = Model.load(args.model)
    else:
        start = time.perf_counter()
        model = train_model(list(corpus.train), args.steps, work / "run")
        print(f"fine-tuned {args.steps} steps in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    model.eval()
    start = time.perf_counter()
    folder = export_onnx(model, work / "onnx")
    export_seconds = time.perf_counter() - start
    predictor = OnnxPredictor(folder, threads=args.threads)

    torch_rate = timed(model.predict, test, args.batch_size, "torch")
    onnx_rate = timed(predictor.predict, test, args.batch_size, "onnx")
    agreement = compare_predictions(test, ["torch"], ["onnx"])
    f1 = model.evaluate(test, gold_label_type="ner", mini_batch_size=args.batch_size).main_score
    figures = {
        "sentences": len(test),
        "tokens": sum(len(s) for s in test),
        "threads": args.threads,
        "batch_size": args.batch_size,
        "export_seconds": round(export_seconds, 1),
        "torch_sentences_per_s": round(torch_rate, 1),
        "onnxruntime_sentences_per_s": round(onnx_rate, 1),
        "onnx_over_torch": round(onnx_rate / torch_rate, 3),
        "label_agreement_percent": round(100 * agreement.label_agreement, 3),
        "labels_compared": agreement.labels_reference,
        "max_score_difference": agreement.max_score_difference,
        "test_f1": round(f1, 4),
        "model": args.model or f"fine-tuned {args.steps} steps (default encoder)",
    }
    print(f"CoNLL-2003 test: {len(test)} sentences, batch {args.batch_size}, {args.threads} thread(s)")
    print(f"  PyTorch       {torch_rate:8.1f} sentences/s")
    print(f"  onnxruntime   {onnx_rate:8.1f} sentences/s   ({onnx_rate / torch_rate:.2f} x PyTorch)")
    print(
        f"  label agreement {figures['label_agreement_percent']:.1f} % of sentences "
        f"({agreement.labels_equal}/{agreement.labels_reference} labels), "
        f"largest score difference {agreement.max_score_difference:.1e}; test F1 {f1:.4f}"
    )
    for example in agreement.examples:
        print(f"  differs: {example}")
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    ok = agreement.label_agreement == 1.0 and agreement.max_score_difference <= 1e-4
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
