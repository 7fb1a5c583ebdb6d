"""The physical limit: the bare Hugging Face encoder against polytag's TransformerEmbeddings.

Prediction: the EWT test split in length-sorted batches of 32 under ``torch.inference_mode`` (fp32), the
bare model (fast tokenizer + ``model(**encoding)``) against ``TransformerEmbeddings.forward_batch``.
Training: forward + backward on batches of 16 train sentences, the sum of the last hidden state (bare)
or of the token vectors (polytag) as a dummy loss. Both run each batch back to back (order alternating)
and each batch keeps its best time over ``--rounds``, to damp the noise of a shared machine. Usage::

    python bench/bare_encoder.py [--rounds 3] [--train-sentences 320] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from polytag.data import Sentence  # noqa: E402
from polytag.embeddings import TransformerEmbeddings, resolve_model_path  # noqa: E402


def datasets_dir() -> Path:
    return Path(os.environ.get("POLYTAG_DATASETS") or REPO.parent / "shared" / "datasets")


def read_forms(path: Path) -> list[list[str]]:
    """Word forms of each sentence of a CoNLL-U file (multiword ranges and empty nodes skipped)."""
    result: list[list[str]] = []
    current: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                if current:
                    result.append(current)
                current = []
            elif not line.startswith("#"):
                columns = line.split("\t")
                if columns[0].isdigit():
                    current.append(columns[1])
    if current:
        result.append(current)
    return result


def batches(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(
    bare_step, our_step, bare_groups: list, our_groups: list, rounds: int, device: torch.device
) -> tuple[list[float], list[float]]:
    """Seconds per batch (best of ``rounds``) for both, the two runs of a batch back to back.

    On a shared machine the load drifts within seconds; timing both on the same batch one right after
    the other (order alternating) and keeping each batch's best time compares like with like.
    """
    bare_best = [float("inf")] * len(bare_groups)
    our_best = [float("inf")] * len(our_groups)
    for round_index in range(rounds):
        for i, (words, sentences) in enumerate(zip(bare_groups, our_groups)):
            order = [(bare_step, words, bare_best), (our_step, sentences, our_best)]
            if (i + round_index) % 2:
                order.reverse()
            for step, group, best in order:
                sync(device)
                start = time.perf_counter()
                step(group)
                sync(device)
                best[i] = min(best[i], time.perf_counter() - start)
    return bare_best, our_best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-batch-size", type=int, default=16)
    parser.add_argument("--train-sentences", type=int, default=320)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    ud = datasets_dir() / "ud_english"
    test_forms = read_forms(ud / "en_ewt-ud-test.conllu")
    train_forms = read_forms(ud / "en_ewt-ud-train.conllu")[: args.train_sentences]
    test_forms.sort(key=len)
    n_test = len(test_forms)
    print(
        f"EWT test: {n_test} sentences, {sum(map(len, test_forms))} tokens; device {device}, "
        f"torch threads {torch.get_num_threads()}, load average before {os.getloadavg()}"
    )

    from transformers import AutoModel, AutoTokenizer

    path = resolve_model_path(None)
    tokenizer = AutoTokenizer.from_pretrained(path)
    bare = AutoModel.from_pretrained(path).to(device).eval()
    embeddings = TransformerEmbeddings(None).to(device).eval()

    word_groups = batches(test_forms, args.batch_size)
    sentence_groups = batches([Sentence.from_tokens(f) for f in test_forms], args.batch_size)

    def bare_predict(words: list[list[str]]) -> None:
        encoding = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt").to(device)
        bare(**encoding)

    def ours_predict(group: list[Sentence]) -> None:
        embeddings.forward_batch(group)

    start = time.perf_counter()
    with torch.inference_mode():
        for group in sentence_groups:  # fills the word cache, as the first pass over new data does
            ours_predict(group)
    cold = time.perf_counter() - start
    with torch.inference_mode():
        bare_times, our_times = interleaved(
            bare_predict, ours_predict, word_groups, sentence_groups, args.rounds, device
        )
    bare_rate = n_test / sum(bare_times)
    our_rate = n_test / sum(our_times)
    print(
        f"prediction, batch {args.batch_size}: bare {bare_rate:8.1f} sent/s | polytag {our_rate:8.1f} "
        f"sent/s | ratio polytag/bare {our_rate / bare_rate:.3f} "
        f"(polytag's cold first pass {n_test / cold:.1f} sent/s)"
    )

    # training: forward + backward, dropout on, fresh copies so both start from the same weights
    bare_train = AutoModel.from_pretrained(path).to(device).train()
    ours_train = TransformerEmbeddings(None, fine_tune=True).to(device).train()
    train_word_groups = batches(train_forms, args.train_batch_size)
    train_sentence_groups = batches([Sentence.from_tokens(f) for f in train_forms], args.train_batch_size)
    n_train = len(train_forms)

    def bare_step(words: list[list[str]]) -> None:
        encoding = tokenizer(words, is_split_into_words=True, padding=True, return_tensors="pt").to(device)
        bare_train(**encoding).last_hidden_state.sum().backward()
        bare_train.zero_grad(set_to_none=True)

    def ours_step(group: list[Sentence]) -> None:
        ours_train.forward_batch(group).token_embeddings.sum().backward()
        ours_train.zero_grad(set_to_none=True)

    for _ in range(2):  # warm-up (allocator, word cache)
        bare_step(train_word_groups[0])
        ours_step(train_sentence_groups[0])
    bare_train_times, our_train_times = interleaved(
        bare_step, ours_step, train_word_groups, train_sentence_groups, args.rounds, device
    )
    bare_train_rate = n_train / sum(bare_train_times)
    our_train_rate = n_train / sum(our_train_times)
    print(
        f"training fwd+bwd, batch {args.train_batch_size}, {n_train} sentences: "
        f"bare {bare_train_rate:8.1f} sent/s | polytag {our_train_rate:8.1f} sent/s | "
        f"ratio {our_train_rate / bare_train_rate:.3f}"
    )
    print(f"load average after {os.getloadavg()}")
    if args.json:
        print(
            json.dumps(
                {
                    "bare_predict_per_s": bare_rate,
                    "polytag_embeddings_predict_per_s": our_rate,
                    "bare_train_per_s": bare_train_rate,
                    "polytag_embeddings_train_per_s": our_train_rate,
                }
            )
        )


if __name__ == "__main__":
    main()
