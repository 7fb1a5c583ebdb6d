"""Runs one task on the published Flair (0.15.1), inside its own virtual environment.

Called by the side-by-side benchmarks (``bench/compare.py``) as
``.venv-flair/bin/python bench/flair_runner.py TASK --data DIR --encoder DIR ...``; prints one JSON
line with the figures. It imports only Flair, so it measures Flair alone in its own process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sys
import time

import torch


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def agnews_split(data: str):
    """4,500 train / 500 dev from the shared train.csv (every 10th row is dev), official test."""
    from flair.data import Sentence

    def read(name):
        with open(os.path.join(data, "agnews", name), newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        out = []
        for row in rows:
            s = Sentence((row["title"] + " " + row["text"]).strip())
            s.add_label("topic", row["label"])
            out.append(s)
        return out

    train_all = read("train.csv")
    train = [s for i, s in enumerate(train_all) if i % 10 != 9]
    dev = [s for i, s in enumerate(train_all) if i % 10 == 9]
    return train, dev, read("test.csv")


def load_task(task: str, data: str):
    from flair.datasets import CONLL_03, UniversalDependenciesCorpus

    if task == "pos":
        # Flair's UD_ENGLISH fetches its files even when they are on disk; read the local folder directly
        folder = os.path.join(data, "ud_english")
        corpus = UniversalDependenciesCorpus(
            folder,
            train_file="en_ewt-ud-train.conllu",
            dev_file="en_ewt-ud-dev.conllu",
            test_file="en_ewt-ud-test.conllu",
        )
        return list(corpus.train), list(corpus.dev), list(corpus.test), "pos"
    if task == "ner":
        corpus = CONLL_03(base_path=data)
        keep = lambda ds: [s for s in ds if not s[0].text == "-DOCSTART-"]  # noqa: E731
        return keep(corpus.train), keep(corpus.dev), keep(corpus.test), "ner"
    if task == "agnews":
        train, dev, test = agnews_split(data)
        return train, dev, test, "topic"
    raise SystemExit(f"unknown task {task}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["pos", "ner", "agnews"])
    parser.add_argument("--data", required=True)
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-limit", type=int, default=0)
    parser.add_argument("--predict-batch-size", type=int, default=32)
    parser.add_argument("--out", default="/tmp/flair-bench")
    parser.add_argument("--seed", type=int, default=1, help="flair.set_seed (data order, dropout, init)")
    args = parser.parse_args()

    import flair
    from flair.data import Corpus
    from flair.datasets import FlairDatapointDataset
    from flair.embeddings import TransformerDocumentEmbeddings, TransformerWordEmbeddings
    from flair.models import TextClassifier, TokenClassifier
    from flair.trainers import ModelTrainer

    flair.set_seed(args.seed)
    train, dev, test, label_type = load_task(args.task, args.data)
    if args.train_limit:
        train = train[: args.train_limit]
    corpus = Corpus(FlairDatapointDataset(train), None, None, sample_missing_splits=False)
    labels = corpus.make_label_dictionary(label_type, add_unk=False)
    if args.task == "agnews":
        emb = TransformerDocumentEmbeddings(args.encoder, fine_tune=True)
        model = TextClassifier(emb, label_type=label_type, label_dictionary=labels)
    else:
        emb = TransformerWordEmbeddings(args.encoder, fine_tune=True, layers="-1", subtoken_pooling="first")
        model = TokenClassifier(emb, label_dictionary=labels, label_type=label_type)
    trainer = ModelTrainer(model, corpus)
    start = time.perf_counter()
    trainer.fine_tune(
        args.out,
        learning_rate=args.lr,
        mini_batch_size=args.batch_size,
        max_epochs=args.epochs,
        save_final_model=False,
    )
    train_seconds = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    model.predict(test, mini_batch_size=args.predict_batch_size, label_name="predicted")
    predict_seconds = time.perf_counter() - start
    result = model.evaluate(test, gold_label_type=label_type, mini_batch_size=args.predict_batch_size)
    print(
        json.dumps(
            {
                "system": "flair-0.15.1",
                "task": args.task,
                "score": result.main_score,
                "train_sentences": len(train),
                "train_seconds": train_seconds,
                "train_sentences_per_s": len(train) * args.epochs / train_seconds,
                "predict_sentences_per_s": len(test) / predict_seconds,
                "peak_rss_mb": peak_rss_mb(),
                "threads": torch.get_num_threads(),
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
