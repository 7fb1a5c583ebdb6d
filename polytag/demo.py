"""The README's main job: a POS + chunking multitask model on one shared encoder, trained and used.

It trains a small two-head model (UD English XPOS + CoNLL-2000 chunks) on the embedded default encoder
(all-MiniLM-L6-v2, shipped offline), prints each task's dev score, reloads the saved model and predicts
on a sentence. With no shared corpora at hand it trains on a few built-in sentences instead.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import cast

import torch

from polytag.data import Corpus, Sentence
from polytag.datasets import CONLL_2000, UD_ENGLISH
from polytag.embeddings import TransformerWordEmbeddings
from polytag.errors import DatasetNotFoundError
from polytag.models import MultitaskModel, TokenClassifier
from polytag.nn.multitask import make_multitask_model_and_corpus
from polytag.trainers import ModelTrainer
from polytag.training.outputs import CURVES, FINAL_MODEL, LOG_FILE, LOSS_FILE

# Chosen by runs on 2 CPU cores (docs/training.md, "The demo"): enough data and a fast head learning
# rate for the tutorial sentence to come out right; 33 s on a quiet machine, 3 minutes under load.
FRACTION = 0.1
EPOCHS = 1
LEARNING_RATE = 5e-4
HEAD_LEARNING_RATE = 5e-3
MAX_TOKENS_PER_BATCH = 1024

_BUILT_IN = [
    ("Mr Smith loves New York", "NNP NNP VBZ NNP NNP", [(0, 2, "NP"), (2, 3, "VP"), (3, 5, "NP")]),
    (
        "The cat sat on the mat .",
        "DT NN VBD IN DT NN .",
        [(0, 2, "NP"), (2, 3, "VP"), (3, 4, "PP"), (4, 6, "NP")],
    ),
    (
        "IBM made a lot of profit .",
        "NNP VBD DT NN IN NN .",
        [(0, 1, "NP"), (1, 2, "VP"), (2, 4, "NP"), (4, 5, "PP"), (5, 6, "NP")],
    ),
    ("She reads old books", "PRP VBZ JJ NNS", [(0, 1, "NP"), (1, 2, "VP"), (2, 4, "NP")]),
    (
        "We visited Paris in May .",
        "PRP VBD NNP IN NNP .",
        [(0, 1, "NP"), (1, 2, "VP"), (2, 3, "NP"), (3, 4, "PP"), (4, 5, "NP")],
    ),
]


def _built_in(layer: str) -> Corpus:
    sentences = []
    for text, tags, chunks in _BUILT_IN * 6:
        sentence = Sentence(text.split())
        if layer == "pos":
            for token, tag in zip(sentence, tags.split()):
                token.add_label("pos", tag)
        else:
            for start, end, kind in chunks:
                sentence[start:end].add_label("np", kind)
        sentences.append(sentence)
    return Corpus(sentences[:20], sentences[20:25], sentences[25:])


def _corpora(fraction: float) -> tuple[Corpus, Corpus]:
    try:
        pos, chunks = UD_ENGLISH().downsample(fraction), CONLL_2000().downsample(fraction)
        print(f"UD English EWT at {fraction:.0%}: {pos}")
        print(f"CoNLL-2000 at {fraction:.0%}: {chunks}")
        return pos, chunks
    except DatasetNotFoundError as exc:
        print(f"shared corpora not found ({exc.__class__.__name__}); training on built-in sentences")
        return _built_in("pos"), _built_in("np")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=FRACTION, help="share of each corpus to train on")
    parser.add_argument("--learning-rate", type=float, default=LEARNING_RATE, help="the encoder's")
    parser.add_argument("--head-learning-rate", type=float, default=HEAD_LEARNING_RATE, help="the heads'")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--max-tokens-per-batch", type=int, default=MAX_TOKENS_PER_BATCH)
    parser.add_argument("--output", default=None, help="folder for the model (default: a temp folder)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the heads' initialisation and training")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    pos_corpus, chunk_corpus = _corpora(args.fraction)
    torch.manual_seed(args.seed)  # the heads' initial weights; fine_tune(seed=...) covers the training
    shared = TransformerWordEmbeddings(fine_tune=True)
    pos = TokenClassifier(shared, pos_corpus.make_label_dictionary("pos"), "pos")
    chunks = TokenClassifier(shared, chunk_corpus.make_label_dictionary("np"), "np")
    model, corpus = make_multitask_model_and_corpus([(pos, pos_corpus), (chunks, chunk_corpus)])

    output = Path(args.output or tempfile.mkdtemp(prefix="polytag-demo-"))
    start = time.perf_counter()
    ModelTrainer(model, corpus).fine_tune(
        output,
        max_epochs=args.epochs,
        mini_batch_size=16,
        max_tokens_per_batch=args.max_tokens_per_batch,
        learning_rate=args.learning_rate,
        decoder_learning_rate=args.head_learning_rate,
        evaluate_on_test=False,
        seed=args.seed,
    )
    print(f"\ntrained in {time.perf_counter() - start:.0f} s")

    loaded = cast(MultitaskModel, MultitaskModel.load(output / "final-model.pt"))
    result = loaded.evaluate(list(corpus.dev), mini_batch_size=32)
    for task, (name, task_result) in vars(result)["task_results"].items():  # kept on the result, as in Flair
        label_type = getattr(loaded.heads()[task], "label_type", "?")
        print(f"dev {task} ({name}, {label_type}): {task_result.main_score:.4f}")
    sentence = Sentence("Mr Smith loves New York")
    loaded.predict(sentence)
    print(sentence)
    print(f"\nmodel:  {output / FINAL_MODEL}  (MultitaskModel.load or `polytag predict` read it)")
    print(f"curves: {output / CURVES}")
    print(f"log:    {output / LOG_FILE}  (per-epoch scores in {output / LOSS_FILE})")


if __name__ == "__main__":
    main()
