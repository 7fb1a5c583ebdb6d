"""fp32 vs int8 vs bf16 prediction: accuracy and sentences/s on EWT POS and CoNLL-03 NER, side by side.

    python bench/reduced_inference.py [--pos-model M.pt] [--ner-model M.pt] [--train-limit N]
                                      [--rounds 2] [--threads 2 1] [--profile] [--train-only]

Without ``--pos-model``/``--ner-model`` it fine-tunes a TokenClassifier on the default encoder (the
shipped all-MiniLM-L6-v2) as ``bench/polytag_runner.py`` does (one epoch, batch 16, lr 5e-5, seed 1;
``--train-limit`` keeps only the start of the train split for smoke runs) and caches the model under
``resources/bench/reduced/`` so reruns skip training. Then every mode (``fp32``: ``Model.load(path)``;
``int8``: ``quantize="int8"``; ``bf16``: ``quantize="bf16"``) predicts the whole test split at batch 32
at each thread count, the modes interleaved, over ``--rounds`` rounds (the best round counts). It prints
XPOS accuracy / NER micro F1 per mode with the difference to fp32 in points, sentences/s and the ratio
to fp32, how many test sentences get any different label at batch 32 than at batch 1 (batch
independence), the load average beside every timing, the commit and the date, and as its last line one
JSON object of all figures. ``--profile`` also prints, per mode and thread count, where prediction of
EWT test spends its time (torch.profiler op groups + Python/planning outside torch ops).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from git_commit import git_commit  # same folder: bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from polytag.data import Corpus, Sentence  # noqa: E402
from polytag.datasets import CONLL_03, UD_ENGLISH  # noqa: E402
from polytag.embeddings import TransformerWordEmbeddings  # noqa: E402
from polytag.models import Model, TokenClassifier  # noqa: E402
from polytag.trainers import ModelTrainer  # noqa: E402

TASKS = {"pos": ("pos", "EWT XPOS accuracy"), "ner": ("ner", "CoNLL-03 NER micro F1")}
MODES = {"fp32": None, "int8": "int8", "bf16": "bf16"}
CACHE = ROOT / "resources" / "bench" / "reduced"


def load_splits(task: str, data: Path) -> tuple[list[Sentence], list[Sentence]]:
    corpus = UD_ENGLISH(base_path=data) if task == "pos" else CONLL_03(base_path=data)
    return list(corpus.train), list(corpus.test)


def train_model(task: str, train: list[Sentence], limit: int) -> Path:
    """The cached fine-tuned model for ``task`` (trained now when missing), as bench/polytag_runner.py."""
    folder = CACHE / (f"{task}-limit{limit}" if limit else task)
    model_file = folder / "final-model.pt"
    if model_file.is_file():
        return model_file
    random.seed(1)
    torch.manual_seed(1)
    subset = train[:limit] if limit else train
    label_type = TASKS[task][0]
    corpus = Corpus(subset, None, None, sample_missing_splits=False)
    labels = corpus.make_label_dictionary(label_type, add_unk=False)
    emb = TransformerWordEmbeddings(None, fine_tune=True, layers="-1", subtoken_pooling="first")
    model = TokenClassifier(emb, labels, label_type)
    start = time.perf_counter()
    ModelTrainer(model, corpus).fine_tune(
        folder, learning_rate=5e-5, mini_batch_size=16, max_epochs=1, create_file_logs=False
    )
    print(f"trained {task} on {len(subset)} sentences in {time.perf_counter() - start:.0f} s", flush=True)
    return model_file


ENCODER_GROUPS = (
    ("attention", ("scaled_dot_product", "aten::bmm", "aten::baddbmm", "softmax")),
    ("GEMM (linear layers)", ("aten::addmm", "aten::mm", "aten::_int_mm", "mkldnn")),
    ("layer norm", ("layer_norm",)),
    ("GELU", ("gelu",)),
    ("int8 activation (de)quantization", ("int8 linear",)),
    ("bf16 casts", ("bf16 linear", "_to_copy")),
)
GROUP_ORDER = (
    "GEMM (linear layers)",
    "attention",
    "layer norm",
    "GELU",
    "int8 activation (de)quantization",
    "bf16 casts",
    "other encoder ops (embeddings, adds, masks)",
    "Python in the encoder (module calls)",
    "tokenize/plan",
    "head, decoding, label writing",
    "Python elsewhere (predict loop, batching)",
)


def _group(event: Any, parents: list[str]) -> str:
    """The profile group of one op event, from its own name and its callers' (nearest first)."""
    chain = [event.name, *parents]
    if "tokenize/plan" in chain:
        return "tokenize/plan"
    if "decode/write labels" in chain or "head" in chain:
        return "head, decoding, label writing"
    if "encoder" not in chain:
        return "Python elsewhere (predict loop, batching)"
    if event.name in ("encoder", "int8 linear", "bf16 linear"):
        return "Python in the encoder (module calls)"
    for group, needles in ENCODER_GROUPS:
        if any(needle in name for name in chain for needle in needles):
            return group
    return "other encoder ops (embeddings, adds, masks)"


def profile(model: Model, sentences: list[Sentence], batch_size: int) -> dict[str, float]:
    """Seconds per group of one ``predict`` over ``sentences`` (torch.profiler self times; Python time
    outside torch ops is the gap between the wall clock and the ops, inside labelled ranges)."""
    from torch.profiler import ProfilerActivity, record_function
    from torch.profiler import profile as torch_profile

    from polytag.embeddings import TransformerEmbeddings
    from polytag.nn.int8 import Int8Linear

    def labelled(function: Any, label: str) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with record_function(label):
                return function(*args, **kwargs)

        return wrapper

    patches: list[tuple[Any, str, Any]] = [
        (TransformerEmbeddings, "plan", "tokenize/plan"),
        (type(model), "write_predictions", "decode/write labels"),
        (Int8Linear, "forward", "int8 linear"),
    ]
    try:
        from polytag.nn.bf16 import BF16Linear

        patches.append((BF16Linear, "forward", "bf16 linear"))
    except ImportError:
        pass
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, label in patches:
        setattr(owner, name, labelled(getattr(owner, name), label))
    encoders = model.embedding_modules()
    for encoder in encoders:
        encoder.model.forward = labelled(encoder.model.forward, "encoder")
    try:
        model.predict(sentences[:64], mini_batch_size=batch_size, label_name="warm-up")
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            model.predict(sentences, mini_batch_size=batch_size, label_name="profile")
            wall = time.perf_counter() - start
        clear(sentences, "profile")
        clear(sentences[:64], "warm-up")
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)
        for encoder in encoders:
            del encoder.model.forward
    groups: dict[str, float] = defaultdict(float)
    for event in prof.events():
        parents = []
        parent = event.cpu_parent
        while parent is not None:
            parents.append(parent.name)
            parent = parent.cpu_parent
        groups[_group(event, parents)] += event.self_cpu_time_total / 1e6
    groups["Python elsewhere (predict loop, batching)"] += max(0.0, wall - sum(groups.values()))
    groups["wall"] = wall
    return dict(groups)


def print_profile(title: str, groups: dict[str, float]) -> None:
    wall = groups["wall"]
    print(f"  {title}: {wall:.2f} s under the profiler")
    for group in GROUP_ORDER:
        seconds = groups.get(group, 0.0)
        if seconds > 0.0005 * wall:
            print(f"    {group:<45} {seconds:7.2f} s  {100 * seconds / wall:5.1f} %")


def decisions(sentences: list[Sentence], label_name: str) -> list[list[str]]:
    """Every sentence's predicted labels (span or token, and value) under ``label_name``."""
    return [
        sorted(f"{label.unlabeled_identifier}/{label.value}" for label in s.get_labels(label_name))
        for s in sentences
    ]


def clear(sentences: list[Sentence], label_name: str) -> None:
    for sentence in sentences:
        sentence.remove_labels(label_name)


def timed(model: Model, sentences: list[Sentence], batch_size: int) -> float:
    """Seconds of one ``predict`` over ``sentences`` (labels written, then removed)."""
    start = time.perf_counter()
    model.predict(sentences, mini_batch_size=batch_size, label_name="bench")
    seconds = time.perf_counter() - start
    clear(sentences, "bench")
    return seconds


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# long: one benchmark task end to end (load, accuracy, interleaved timing rounds, independence, profile)
def bench_task(task: str, model_file: Path, test: list[Sentence], args: argparse.Namespace) -> dict[str, Any]:
    label_type, score_name = TASKS[task]
    models = {mode: Model.load(model_file, quantize=quantize) for mode, quantize in MODES.items()}
    result: dict[str, Any] = {"model": str(model_file), "sentences": len(test), "metric": score_name}
    torch.set_num_threads(max(args.threads))
    scores = {}
    for mode, model in models.items():
        scores[mode] = model.evaluate(
            test, gold_label_type=label_type, mini_batch_size=args.batch_size
        ).main_score
    result["score"] = scores
    result["delta_points"] = {m: round(100 * (scores[m] - scores["fp32"]), 3) for m in models}
    print(f"\n{task}: {score_name} on {len(test)} test sentences ({model_file})")
    for mode in models:
        print(f"  {mode:<5} {100 * scores[mode]:.2f}  ({result['delta_points'][mode]:+.2f} points vs fp32)")
    for model in models.values():  # warm-up: first calls pack weights, fill caches
        model.predict(test[:64], mini_batch_size=args.batch_size, label_name="warm-up")
        clear(test[:64], "warm-up")
    rounds: list[dict[str, Any]] = []
    best: dict[str, dict[str, float]] = {str(n): {} for n in args.threads}
    for round_index in range(args.rounds):
        for threads in args.threads:
            torch.set_num_threads(threads)
            for mode, model in models.items():
                load_before = load1()
                seconds = timed(model, test, args.batch_size)
                rate = len(test) / seconds
                rounds.append(
                    {
                        "round": round_index,
                        "threads": threads,
                        "mode": mode,
                        "sentences_per_s": rate,
                        "load1": load_before,
                    }
                )
                best[str(threads)][mode] = max(best[str(threads)].get(mode, 0.0), rate)
                print(
                    f"  round {round_index} threads {threads} {mode:<5} {rate:7.1f} sentences/s  "
                    f"(load {load_before})",
                    flush=True,
                )
    result["rounds"] = rounds
    result["sentences_per_s"] = best
    result["ratio_vs_fp32"] = {
        n: {m: round(rates[m] / rates["fp32"], 3) for m in rates} for n, rates in best.items()
    }
    for n, ratios in result["ratio_vs_fp32"].items():
        print(
            f"  best of {args.rounds} rounds at {n} threads: "
            + ", ".join(f"{m} {best[n][m]:.1f}/s ({r:.2f}x)" for m, r in ratios.items())
        )
    torch.set_num_threads(max(args.threads))
    changed = {}
    for mode in args.independence:
        model = models[mode]
        model.predict(test, mini_batch_size=args.batch_size, label_name="batched")
        model.predict(test, mini_batch_size=1, label_name="alone")
        changed[mode] = sum(a != b for a, b in zip(decisions(test, "batched"), decisions(test, "alone")))
        clear(test, "batched")
        clear(test, "alone")
        print(
            f"  {mode}: {changed[mode]} of {len(test)} sentences get any other label at batch "
            f"{args.batch_size} than at batch 1"
        )
    result["sentences_changed_batch_vs_alone"] = changed
    if args.profile and task == "pos":
        result["profile"] = {}
        for threads in args.threads:
            torch.set_num_threads(threads)
            for mode, model in models.items():
                groups = profile(model, test, args.batch_size)
                result["profile"][f"{mode}@{threads}"] = groups
                print_profile(f"profile {mode}, {threads} threads (load {load1()})", groups)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pos-model", help="an EWT POS TokenClassifier file (default: train one)")
    parser.add_argument("--ner-model", help="a CoNLL-03 NER TokenClassifier file (default: train one)")
    parser.add_argument(
        "--data", default=os.environ.get("POLYTAG_DATASETS", str(ROOT.parent / "shared" / "datasets"))
    )
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--train-limit", type=int, default=0, help="train on the first N sentences only")
    parser.add_argument("--train-only", action="store_true", help="train (and cache) the models, then stop")
    parser.add_argument(
        "--train-threads",
        type=int,
        default=1,
        help="torch threads while training (1 is fastest on a shared, busy machine)",
    )
    parser.add_argument("--test-limit", type=int, default=0, help="predict the first N test sentences only")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--independence",
        nargs="*",
        choices=list(MODES),
        default=["bf16"],
        help="modes whose batch-32 labels are compared with batch-1 labels",
    )
    parser.add_argument("--profile", action="store_true", help="also profile EWT test prediction per mode")
    args = parser.parse_args()
    data = Path(args.data)
    print(
        f"polytag reduced-precision inference, commit {git_commit()}, "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}, "
        f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"load {os.getloadavg()}"
    )
    figures: dict[str, Any] = {
        "bench": "reduced_inference",
        "commit": git_commit(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "threads": args.threads,
        "rounds": args.rounds,
        "batch_size": args.batch_size,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "tasks": {},
    }
    for task in args.tasks:
        train, test = load_splits(task, data)
        model_file = getattr(args, f"{task}_model")
        if model_file is None:
            torch.set_num_threads(args.train_threads)
            model_file = train_model(task, train, args.train_limit)
        if args.train_only:
            print(model_file, flush=True)
            continue
        if args.test_limit:
            test = test[: args.test_limit]
        figures["tasks"][task] = bench_task(task, Path(model_file), test, args)
    figures["load_end"] = os.getloadavg()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
