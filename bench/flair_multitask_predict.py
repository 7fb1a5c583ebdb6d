"""Flair 0.15.1's loaded two-head (POS + chunk) model predicting EWT test at batch 32 (run in .venv-flair).

Prediction speed does not depend on the weights, so the model is saved right after construction; what
counts is how Flair runs a loaded multitask model (its encoder once per head) and its parameter count.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--encoder", required=True)
    args = parser.parse_args()

    import os

    from flair.data import Dictionary
    from flair.datasets import UniversalDependenciesCorpus
    from flair.embeddings import TransformerWordEmbeddings
    from flair.models import MultitaskModel, TokenClassifier

    folder = os.path.join(args.data, "ud_english")  # Flair's UD_ENGLISH would try to download
    test = list(
        UniversalDependenciesCorpus(
            folder,
            train_file="en_ewt-ud-dev.conllu",
            dev_file="en_ewt-ud-dev.conllu",
            test_file="en_ewt-ud-test.conllu",
        ).test
    )
    shared = TransformerWordEmbeddings(args.encoder, fine_tune=True)
    pos_dict = Dictionary(add_unk=False)
    for tag in ["NN", "NNP", "VB", "DT", "IN", "JJ", "RB", "PRP", "."]:
        pos_dict.add_item(tag)
    np_dict = Dictionary(add_unk=False)
    for tag in ["NP", "VP", "PP"]:
        np_dict.add_item(tag)
    np_dict.span_labels = True
    model = MultitaskModel(
        [TokenClassifier(shared, pos_dict, "pos"), TokenClassifier(shared, np_dict, "np")],
        task_ids=["Task_0", "Task_1"],
    )
    path = tempfile.mktemp(suffix=".pt")
    model.save(path)
    loaded = MultitaskModel.load(path)
    params = sum(p.numel() for p in loaded.parameters())
    start = time.perf_counter()
    loaded.predict(test, mini_batch_size=32)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "system": "flair-0.15.1",
                "predict_sentences_per_s": len(test) / seconds,
                "parameters_after_load": params,
            }
        )
    )


if __name__ == "__main__":
    main()
