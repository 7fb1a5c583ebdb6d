"""Runs one task on polytag in its own process and prints one JSON line of figures.

The same tasks, data, encoder and settings as ``bench/flair_runner.py``: one epoch of fine-tuning
(AdamW, linear warm-up/decay, lr 5e-5, batch 16) on the train split, then prediction of the test split
at batch 32 in fp32 and with the int8 quantized model, the test score of both, and peak memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from polytag.data import Corpus, Sentence  # noqa: E402
from polytag.datasets import CONLL_03, UD_ENGLISH  # noqa: E402
from polytag.embeddings import TransformerDocumentEmbeddings, TransformerWordEmbeddings  # noqa: E402
from polytag.models import Model, TextClassifier, TokenClassifier  # noqa: E402
from polytag.trainers import ModelTrainer  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def agnews_split(data: Path) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    """4,500 train / 500 dev from the shared train.csv (every 10th row is dev), the official test."""

    def read(name: str) -> list[Sentence]:
        with open(data / "agnews" / name, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        out = []
        for row in rows:
            sentence = Sentence((row["title"] + " " + row["text"]).strip())
            sentence.add_label("topic", row["label"])
            out.append(sentence)
        return out

    train_all = read("train.csv")
    train = [s for i, s in enumerate(train_all) if i % 10 != 9]
    dev = [s for i, s in enumerate(train_all) if i % 10 == 9]
    return train, dev, read("test.csv")


def load_task(task: str, data: Path) -> tuple[list[Sentence], list[Sentence], list[Sentence], str]:
    if task == "pos":
        corpus = UD_ENGLISH(base_path=data)
        return list(corpus.train), list(corpus.dev), list(corpus.test), "pos"
    if task == "ner":
        corpus = CONLL_03(base_path=data)
        return list(corpus.train), list(corpus.dev), list(corpus.test), "ner"
    if task == "agnews":
        train, dev, test = agnews_split(data)
        return train, dev, test, "topic"
    raise SystemExit(f"unknown task {task}")


def timed_predict(model: Model, sentences: list[Sentence], batch_size: int) -> float:
    start = time.perf_counter()
    model.predict(sentences, mini_batch_size=batch_size, label_name="bench")
    seconds = time.perf_counter() - start
    for s in sentences:
        s.remove_labels("bench")
    return len(sentences) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["pos", "ner", "agnews"])
    parser.add_argument(
        "--data", default=os.environ.get("POLYTAG_DATASETS", str(REPO.parent / "shared" / "datasets"))
    )
    parser.add_argument("--encoder", default=None, help="encoder directory (default: the shipped MiniLM)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-limit", type=int, default=0)
    parser.add_argument("--predict-batch-size", type=int, default=32)
    parser.add_argument("--max-tokens-per-batch", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--seed", type=int, default=1, help="seeds Python and torch (data order, dropout)")
    args = parser.parse_args()

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    train, dev, test, label_type = load_task(args.task, Path(args.data))
    if args.train_limit:
        train = train[: args.train_limit]
    corpus = Corpus(train, None, None, sample_missing_splits=False)
    labels = corpus.make_label_dictionary(label_type, add_unk=False)
    if args.task == "agnews":
        model = TextClassifier(
            TransformerDocumentEmbeddings(args.encoder, fine_tune=True), labels, label_type
        )
    else:
        emb = TransformerWordEmbeddings(args.encoder, fine_tune=True, layers="-1", subtoken_pooling="first")
        model = TokenClassifier(emb, labels, label_type)
    out = Path(args.out or tempfile.mkdtemp(prefix=f"polytag-bench-{args.task}-"))
    trainer = ModelTrainer(model, corpus)
    extra = {"max_tokens_per_batch": args.max_tokens_per_batch} if args.max_tokens_per_batch else {}
    start = time.perf_counter()
    trainer.fine_tune(
        out, learning_rate=args.lr, mini_batch_size=args.batch_size, max_epochs=args.epochs, **extra
    )
    train_seconds = time.perf_counter() - start

    loaded = Model.load(out / "final-model.pt")
    fp32_rate = timed_predict(loaded, test, args.predict_batch_size)
    fp32_score = loaded.evaluate(
        test, gold_label_type=label_type, mini_batch_size=args.predict_batch_size
    ).main_score
    quantized = Model.load(out / "final-model.pt", quantize="int8")
    int8_rate = timed_predict(quantized, test, args.predict_batch_size)
    int8_score = quantized.evaluate(
        test, gold_label_type=label_type, mini_batch_size=args.predict_batch_size
    ).main_score
    print(
        json.dumps(
            {
                "system": "polytag",
                "task": args.task,
                "score": fp32_score,
                "score_int8": int8_score,
                "train_sentences": len(train),
                "train_seconds": train_seconds,
                "train_sentences_per_s": len(train) * args.epochs / train_seconds,
                "predict_sentences_per_s": fp32_rate,
                "predict_int8_sentences_per_s": int8_rate,
                "peak_rss_mb": peak_rss_mb(),
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
