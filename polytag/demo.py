"""The README's main job: train a small tagger on the embedded default encoder, then predict.

Uses the shared UD English corpus when ``$POLYTAG_DATASETS`` has it, otherwise a few built-in
sentences, so it runs anywhere in a few minutes on two cores.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from polytag.data import Corpus, Sentence
from polytag.datasets import UD_ENGLISH
from polytag.embeddings import TransformerWordEmbeddings
from polytag.errors import DatasetNotFoundError
from polytag.models import TokenClassifier
from polytag.trainers import ModelTrainer

log = logging.getLogger("polytag")

_BUILT_IN = [
    ("Mr Smith loves New York", "NNP NNP VBZ NNP NNP"),
    ("The cat sat on the mat .", "DT NN VBD IN DT NN ."),
    ("IBM made a lot of profit .", "NNP VBD DT NN IN NN ."),
    ("She reads old books", "PRP VBZ JJ NNS"),
    ("We visited Paris in May .", "PRP VBD NNP IN NNP ."),
    ("Big dogs bark loudly", "JJ NNS VBP RB"),
]


def _built_in_corpus() -> Corpus:
    sentences = []
    for text, tags in _BUILT_IN * 5:
        sentence = Sentence(text.split())
        for token, tag in zip(sentence, tags.split()):
            token.add_label("pos", tag)
        sentences.append(sentence)
    return Corpus(sentences[:24], sentences[24:27], sentences[27:])


def _corpus(fraction: float) -> Corpus:
    try:
        corpus = UD_ENGLISH().downsample(fraction)
        print(f"UD English EWT (downsampled to {fraction:.0%}): {corpus}")
        return corpus
    except DatasetNotFoundError as exc:
        print(f"shared corpora not found ({exc.__class__.__name__}); using the built-in sentences")
        return _built_in_corpus()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fraction", type=float, default=0.05, help="share of UD English to train on")
    parser.add_argument("--output", default=None, help="folder for the model (default: a temp folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    corpus = _corpus(args.fraction)
    embeddings = TransformerWordEmbeddings(fine_tune=True)
    model = TokenClassifier(embeddings, corpus.make_label_dictionary("pos"), "pos")
    output = Path(args.output or tempfile.mkdtemp(prefix="polytag-demo-"))
    start = time.perf_counter()
    ModelTrainer(model, corpus).fine_tune(output, max_epochs=1, mini_batch_size=16)
    print(f"trained in {time.perf_counter() - start:.0f} s; model at {output / 'final-model.pt'}")

    loaded = TokenClassifier.load(output / "final-model.pt")
    result = loaded.evaluate(corpus.dev, gold_label_type="pos", mini_batch_size=32)
    print(f"dev accuracy (XPOS): {result.main_score:.4f}")
    sentence = Sentence("Mr Smith loves New York")
    loaded.predict(sentence)
    print(sentence)


if __name__ == "__main__":
    main()
