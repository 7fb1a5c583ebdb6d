"""AIDA-CoNLL entity linking benchmark: train on train, select on dev, score on test (AIDA-B).

Two runs, both with the default encoder (all-MiniLM-L6-v2) and the shared PPRforNED candidate list
(``aida_nel/candidates.tsv``):

* ``--task nel`` (the disambiguation figure): a :class:`SpanClassifier` over gold mention spans.
  In-KB accuracy on AIDA-B, accuracy on entities seen / unseen in training, candidate recall@k,
  training time per epoch and linking throughput (mentions per second).
* ``--task multitask`` (the end-to-end figure): NER (:class:`TokenClassifier`) and NEL
  (:class:`SpanClassifier` with ``span_label_type="ner"``) over one shared, fine-tuned encoder, trained on
  the aligned sentences with ``use_all_tasks=True``; one ``predict`` call finds the mentions and links
  them; strong-match end-to-end P/R/F1 on AIDA-B.

Both print one JSON line of figures (and write it to ``OUT/figures.json``). Trivial baselines are
printed too: the most popular candidate by ``in_count`` (the floor that a linker has to beat).

``--write-zelda DIR`` writes a folder in ZELDA's layout for the tutorial programs in ``examples/``:
``DIR/zelda/train_data/zelda_train.conll`` (AIDA train; column 1 and 2 both hold the title, since the
Wikipedia page ids are not in our data), ``DIR/zelda/test_data/conll/test_aida-b.conll`` (ZELDA's real
AIDA-B file) and ``DIR/zelda/candidates.tsv`` (the shared candidate list), so that with
``POLYTAG_DATASETS=DIR`` ``ZELDA()`` and ``CandidateGenerator("zelda")`` read them (the other shared
corpora are linked into DIR, so that the same setting serves every example).

On a 2-core CPU shared with other jobs, ``--threads 1`` is much faster than torch's default (threads
spinning against each other); it is the default here.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from polytag.data import Corpus, Dictionary, Sentence, Span  # noqa: E402
from polytag.datasets import AIDA_NEL  # noqa: E402
from polytag.datasets.base import datasets_root  # noqa: E402
from polytag.embeddings import TransformerWordEmbeddings  # noqa: E402
from polytag.evaluation import end_to_end_scores  # noqa: E402
from polytag.models.multitask import MultitaskModel  # noqa: E402
from polytag.models.span_classifier import SpanClassifier  # noqa: E402
from polytag.models.token_classifier import TokenClassifier  # noqa: E402
from polytag.nn.candidates import CandidateGenerator  # noqa: E402
from polytag.trainers import ModelTrainer  # noqa: E402

log = logging.getLogger("polytag")


def gold_links(sentences: list[Sentence], layer: str = "nel") -> dict[tuple, str]:
    return {
        (i, label.data_point.start, label.data_point.end): label.value
        for i, sentence in enumerate(sentences)
        for label in sentence.get_labels(layer)
        if isinstance(label.data_point, Span)
    }


def popularity_baseline(sentences: list[Sentence], candidates: CandidateGenerator) -> float:
    """Accuracy of always taking the candidate with the largest prior (in_count), ties by title."""
    gold = gold_links(sentences)
    correct = 0
    for (i, start, end), entity in gold.items():
        best = candidates.lookup(sentences[i][start:end].text, top_k=1)
        correct += bool(best) and best[0][0] == entity
    return correct / max(len(gold), 1)


def subset(data: list[Sentence], fraction: float, seed: int) -> list[Sentence]:
    """Whole documents, so that document context stays intact."""
    if fraction >= 1.0:
        return data
    documents: dict[str, list[Sentence]] = {}
    for sentence in data:
        documents.setdefault(str(sentence.document_id), []).append(sentence)
    keys = sorted(documents)
    random.Random(seed).shuffle(keys)
    keep = set(keys[: max(1, round(len(keys) * fraction))])
    return [s for s in data if str(s.document_id) in keep]


def encoder(args: argparse.Namespace, fine_tune: bool) -> TransformerWordEmbeddings:
    return TransformerWordEmbeddings(
        args.encoder,
        fine_tune=fine_tune,
        use_context=args.context,
        context_dropout=0.0 if not fine_tune else 0.5,
    )


def linker(
    args: argparse.Namespace,
    embeddings: TransformerWordEmbeddings,
    dictionary: Dictionary,
    candidates: CandidateGenerator,
    span_label_type: str | None = None,
) -> SpanClassifier:
    return SpanClassifier(
        embeddings,
        dictionary,
        label_type="nel",
        span_label_type=span_label_type,
        candidates=candidates,
        document_context=args.document_context,
        prototype_dropout=args.prototype_dropout,
    )


def train(model, corpus: Corpus, args: argparse.Namespace, out: Path, fine_tune: bool) -> tuple[float, int]:
    """Fine-tune with the trainer (best epoch on dev kept); returns (seconds per epoch, epochs)."""
    trainer = ModelTrainer(model, corpus)
    started = time.perf_counter()
    trainer.fine_tune(
        out,
        learning_rate=args.lr if fine_tune else args.head_lr,
        decoder_learning_rate=args.head_lr if fine_tune else None,
        mini_batch_size=args.batch,
        max_epochs=args.epochs,
        main_evaluation_metric=("accuracy", "") if args.task == "nel" else ("micro avg", "f1-score"),
        save_best_model=True,
        use_final_model_for_eval=False,
        evaluate_on_test=False,
        plot_training_curves=False,
        progress_bar=False,
        seed=args.seed,
    )
    return (time.perf_counter() - started) / args.epochs, args.epochs


def run_nel(args: argparse.Namespace, corpus: AIDA_NEL, candidates: CandidateGenerator, out: Path) -> dict:
    train_data = subset(list(corpus.train), args.train_fraction, args.seed)
    dev = subset(list(corpus.dev), args.dev_fraction, args.seed)
    test = list(corpus.test)
    small = Corpus(train_data, dev, test, name="aida_nel", sample_missing_splits=False)
    dictionary = small.make_label_dictionary("nel", add_unk=True)
    fine_tune = args.fine_tune
    model = linker(args, encoder(args, fine_tune), dictionary, candidates)
    started = time.perf_counter()
    model.precompute_entity_names()
    names_seconds = time.perf_counter() - started
    train_sentences = sum(1 for s in train_data if s.get_labels("nel"))
    per_epoch, epochs = train(model, small, args, out, fine_tune)
    best = out / "best-model.pt"
    loaded = SpanClassifier.load(best) if best.exists() else model
    figures = {
        "names_encoded": len(candidates.entities),
        "name_encoding_seconds": round(names_seconds, 1),
        "train_sentences_with_mentions": train_sentences,
        "epochs": epochs,
        "seconds_per_epoch": round(per_epoch, 1),
        "train_sentences_per_second": round(train_sentences / per_epoch, 1),
    }
    for split, data in (("dev", dev), ("test", test)):
        figures[split] = linking_figures(loaded, data, candidates, split)
    return figures


def linking_figures(
    model: SpanClassifier, data: list[Sentence], candidates: CandidateGenerator, split: str
) -> dict:
    """Disambiguation figures of ``model`` on the gold mention spans of ``data`` (names precomputed)."""
    model.precompute_entity_names()
    started = time.perf_counter()
    result = model.evaluate(
        data, mini_batch_size=64, main_evaluation_metric=("accuracy", ""), return_loss=False
    )
    seconds = time.perf_counter() - started
    mentions = len(gold_links(data))
    print(split, result.detailed_results, flush=True)
    return {
        "accuracy": round(result.scores["accuracy"], 4),
        "seen_accuracy": round(result.scores["seen_accuracy"], 4),
        "unseen_accuracy": round(result.scores["unseen_accuracy"], 4),
        "seen_mentions": result.scores["seen_count"],
        "unseen_mentions": result.scores["unseen_count"],
        **{f"recall@{k}": round(result.scores[f"recall@{k}"], 4) for k in (1, 5, 10, 30)},
        "mentions": mentions,
        "mentions_per_second": round(mentions / seconds, 1),
        "popularity_baseline": round(popularity_baseline(data, candidates), 4),
    }


def run_multitask(
    args: argparse.Namespace, corpus: AIDA_NEL, candidates: CandidateGenerator, out: Path
) -> dict:
    train_data = subset(list(corpus.train), args.train_fraction, args.seed)
    dev = subset(list(corpus.dev), args.dev_fraction, args.seed)
    test = list(corpus.test)
    small = Corpus(train_data, dev, test, name="aida_nel", sample_missing_splits=False)
    for sentence in train_data + dev:  # aligned data: both tasks on every sentence (tutorial style)
        if not sentence.get_labels("multitask_id"):
            sentence.add_label("multitask_id", "Task_0")
            sentence.add_label("multitask_id", "Task_1")
    shared = encoder(args, fine_tune=True)
    ner = TokenClassifier(shared, small.make_label_dictionary("ner", add_unk=False), "ner")
    nel = linker(
        args, shared, small.make_label_dictionary("nel", add_unk=True), candidates, span_label_type="ner"
    )
    model = MultitaskModel([ner, nel], use_all_tasks=True)
    per_epoch, epochs = train(model, small, args, out, fine_tune=True)
    best = out / "best-model.pt"
    loaded = MultitaskModel.load(best) if best.exists() else model
    linking = loaded.tasks["Task_1"]
    linking.span_label_type = None  # disambiguation: link the gold mention spans
    nel_test = linking_figures(linking, test, candidates, "test")
    linking.span_label_type = "ner"
    gold_ner = gold_links(test, "ner")
    gold_nel = gold_links(test, "nel")
    for sentence in test:  # nothing gold may remain: the linker falls back to nel spans without ner ones
        sentence.remove_labels("ner")
        sentence.remove_labels("nel")
    started = time.perf_counter()
    loaded.predict(test, mini_batch_size=64)  # NER first, then links on the predicted spans
    seconds = time.perf_counter() - started
    predicted_ner = gold_links(test, "ner")
    predicted_nel = gold_links(test, "nel")
    ner_scores = end_to_end_scores(gold_ner, predicted_ner)
    e2e = end_to_end_scores(gold_nel, predicted_nel)
    return {
        "epochs": epochs,
        "seconds_per_epoch": round(per_epoch, 1),
        "train_sentences_per_second": round(len(train_data) / per_epoch, 1),
        "test": nel_test,
        "test_end_to_end": {
            "ner_f1": round(ner_scores["f1"], 4),
            "end_to_end_precision": round(e2e["precision"], 4),
            "end_to_end_recall": round(e2e["recall"], 4),
            "end_to_end_f1": round(e2e["f1"], 4),
            "mention_f1": round(e2e["mention_f1"], 4),
            "sentences_per_second": round(len(test) / seconds, 1),
        },
    }


def write_zelda(target: Path, source: Path) -> Path:
    """ZELDA's folder layout from the shared AIDA files (see the module docstring)."""
    folder = target / "zelda"
    train_dir = folder / "train_data"
    test_dir = folder / "test_data" / "conll"
    train_dir.mkdir(parents=True, exist_ok=True)
    test_dir.mkdir(parents=True, exist_ok=True)
    with (
        open(source / "aida_nel" / "train.tsv", encoding="utf-8") as lines,
        open(train_dir / "zelda_train.conll", "w", encoding="utf-8") as handle,
    ):
        for line in lines:
            line = line.rstrip("\n")
            if not line or line.startswith("# "):
                handle.write(line + "\n")
                continue
            token, _ner, nel = line.split("\t")
            handle.write(f"{token}\t{nel}\t{nel}\n")
    shutil.copyfile(source / "zelda" / "test_aida-b.conll", test_dir / "test_aida-b.conll")
    shutil.copyfile(source / "aida_nel" / "candidates.tsv", folder / "candidates.tsv")
    for sibling in sorted(source.iterdir()):  # the other corpora stay reachable under the same root
        link = target / sibling.name
        if sibling.is_dir() and sibling.name != "zelda" and not link.exists():
            link.symlink_to(sibling.resolve(), target_is_directory=True)
    return folder


FLOORS = {  # issue 17's targets: (task, path into figures.json, floor)
    "in-KB accuracy": ("nel", ("test", "accuracy"), 0.90),
    "seen-entity accuracy": ("nel", ("test", "seen_accuracy"), 0.95),
    "unseen-entity accuracy": ("nel", ("test", "unseen_accuracy"), 0.80),
    "end-to-end F1 (NER+NEL, one predict)": ("multitask", ("test_end_to_end", "end_to_end_f1"), 0.82),
}


def run_seeds(args: argparse.Namespace, argv: list[str]) -> None:
    """One child process per seed (``--parallel`` at a time, one thread each), then every figure's mean,
    min, max and spread over the seeds next to its floor."""
    seeds = [int(s) for s in args.seeds.split(",")]
    skip: set[int] = set()
    for i, a in enumerate(argv):
        if a in ("--seeds", "--parallel", "--out", "--seed"):
            skip.update({i, i + 1})
    base = [a for i, a in enumerate(argv) if i not in skip and not a.startswith(("--seeds=", "--parallel="))]
    running: list[tuple[int, subprocess.Popen]] = []
    started = time.perf_counter()
    for seed in seeds:
        while len(running) >= args.parallel:
            running.pop(0)[1].wait()
        out = args.out / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, __file__, *base, "--seed", str(seed), "--out", str(out)]
        log.info("seed %d: %s", seed, " ".join(command))
        with open(out / "run.log", "w", encoding="utf-8") as handle:
            running.append((seed, subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)))
    for _, process in running:
        process.wait()
    runs = {}
    for seed in seeds:
        path = args.out / f"seed{seed}" / "figures.json"
        if not path.exists():
            raise SystemExit(f"seed {seed} wrote no figures; see {path.parent / 'run.log'}")
        runs[seed] = json.loads(path.read_text(encoding="utf-8"))
    summary = summarise(args.task, runs)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    summary["load_average"] = [round(x, 2) for x in os.getloadavg()]
    line = json.dumps(summary)
    (args.out / "summary.json").write_text(line + "\n", encoding="utf-8")
    print(line)


def summarise(task: str, runs: dict[int, dict]) -> dict:
    """Mean / min / max / spread of the headline figures over seeds, each with its floor."""
    rows: dict[str, dict] = {}
    for name, (floor_task, path, floor) in FLOORS.items():
        if floor_task != task:
            continue
        values = []
        for figures in runs.values():
            value: object = figures
            for key in path:
                value = value[key]  # type: ignore[index]
            values.append(float(value))  # type: ignore[arg-type]
        mean = sum(values) / len(values)
        rows[name] = {
            "values": values,
            "mean": round(mean, 4),
            "min": round(min(values), 4),
            "max": round(max(values), 4),
            "spread": round(max(values) - min(values), 4),
            "floor": floor,
            "meets_floor": min(values) >= floor,
        }
        print(
            f"{name:40} mean {mean:.4f}  min {min(values):.4f}  max {max(values):.4f}  "
            f"spread {max(values) - min(values):.4f}  floor {floor:.2f}  "
            f"{'ok' if min(values) >= floor else 'BELOW'}"
        )
    first = next(iter(runs.values()))
    extra = {
        "seconds_per_epoch": [r["seconds_per_epoch"] for r in runs.values()],
        "epochs": first["epochs"],
        "total_seconds": [r["total_seconds"] for r in runs.values()],
    }
    if task == "nel":
        extra["popularity_baseline"] = first["test"]["popularity_baseline"]
        extra["mentions_per_second"] = [r["test"]["mentions_per_second"] for r in runs.values()]
    print("training seconds per seed:", extra["total_seconds"], "per epoch:", extra["seconds_per_epoch"])
    return {"task": task, "seeds": list(runs), "figures": rows, **extra}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", choices=("nel", "multitask"), default="nel")
    parser.add_argument("--data", type=Path, default=None, help="folder holding aida_nel/ (POLYTAG_DATASETS)")
    parser.add_argument("--out", type=Path, default=Path("resources/bench/aida_nel"))
    parser.add_argument("--encoder", default="sentence-transformers/all-MiniLM-L6-v2")
    parser.add_argument("--fine-tune", action="store_true", help="fine-tune the encoder (nel task)")
    parser.add_argument("--context", type=int, default=0, help="use_context subtokens per side")
    parser.add_argument("--no-document-context", dest="document_context", action="store_false")
    parser.add_argument("--prototype-dropout", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-5, help="encoder learning rate when fine-tuning")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--dev-fraction", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--seeds", default=None, help="comma-separated seeds: one child run each, then a summary"
    )
    parser.add_argument("--parallel", type=int, default=2, help="seeds run at once (with --seeds)")
    parser.add_argument("--write-zelda", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = args.data or datasets_root()
    if args.write_zelda is not None:
        print(f"wrote {write_zelda(args.write_zelda, root)}")
        return
    if args.seeds:
        run_seeds(args, sys.argv[1:])
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    corpus = AIDA_NEL(root)
    candidates = CandidateGenerator(corpus.candidates_file)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    figures = {"task": args.task, "settings": {k: str(v) for k, v in vars(args).items()}}
    if args.task == "nel":
        figures.update(run_nel(args, corpus, candidates, args.out))
    else:
        figures.update(run_multitask(args, corpus, candidates, args.out))
    figures["total_seconds"] = round(time.perf_counter() - started, 1)
    line = json.dumps(figures)
    (args.out / "figures.json").write_text(line + "\n", encoding="utf-8")
    print(line)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
