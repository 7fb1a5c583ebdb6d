"""``polytag evaluate MODEL DATA``: score a saved model on a corpus, a config's corpora or a data file."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

from polytag.cli.inputs import (
    UsageError,
    detect_format,
    is_named_corpus,
    iter_input,
    load_model,
    named_corpus,
)
from polytag.cli.results import model_layers

SPLITS = ("train", "dev", "test")


def _split_of(corpus: Any, split: str, what: str) -> list[Any]:
    data = getattr(corpus, split)
    if data is None or len(data) == 0:
        raise UsageError(f"{what} has no {split} split")
    return list(data)


def evaluation_data(
    model: Any, data: str, split: str = "test", fmt: str | None = None, columns: dict[int, str] | None = None
) -> list[Any]:
    """The sentences to score: a config's corpora (``.yaml``), a named corpus, or a data file."""
    if split not in SPLITS:
        raise UsageError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    path = Path(data)
    if path.suffix.lower() in (".yaml", ".yml") and path.is_file():
        from polytag.config import build_corpora, load_and_resolve

        resolved = load_and_resolve(path)
        corpus, _ = build_corpora(resolved)
        return _split_of(corpus, split, f"the corpora of {path}")
    if not path.exists() and is_named_corpus(data):
        return _split_of(named_corpus(data), split, data)
    if not path.is_file():
        raise UsageError(f"{data}: neither a data file, a config (.yaml) nor a named corpus")
    kind = detect_format(path, fmt)
    if kind == "text" and fmt in (None, "auto"):
        kind = "column"  # files with gold labels and no telling extension (train.txt) are column files
    if kind == "text":
        raise UsageError(f"{data}: plain text has no gold labels; give a column, CoNLL-U or JSONL file")
    if kind == "column" and columns is None:
        columns = {0: "text", **{i + 1: layer.label_type for i, layer in enumerate(model_layers(model))}}
    return list(iter_input(path, kind, columns))


def _assign_tasks(model: Any, sentences: list[Any]) -> None:
    """Give sentences without ``multitask_id`` the ids of the tasks whose gold layer the data has."""
    tasks = getattr(model, "tasks", None)
    if tasks is None:
        return
    present: set[str] = set()
    for sentence in sentences:
        present.update(sentence.annotation_layers)
    wanted = [task for task, head in tasks.items() if head.label_type in present]
    if not wanted:
        expected = sorted({head.label_type for head in tasks.values()})
        raise UsageError(
            f"the data has none of the model's label types {expected}; "
            f"it has {sorted(present) or 'no labels'}"
        )
    for sentence in sentences:
        if not sentence.get_labels("multitask_id"):
            for task in wanted:
                sentence.add_label("multitask_id", task)


def _clean(value: Any) -> Any:
    """JSON-safe copy of a report (NaN and infinities become None)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        return _clean(value.item())
    return str(value)


def result_to_dict(model: Any, result: Any, n_sentences: int) -> dict[str, Any]:
    """The evaluation as JSON: main score, loss, and per task its head, label type and scores."""
    layers = {layer.task: layer for layer in model_layers(model)}
    per_task = getattr(result, "task_results", None)
    if per_task is None:
        only = next(iter(layers))
        per_task = {only: (type(model).__name__, result)}
    tasks = {}
    for task, (head, task_result) in per_task.items():
        layer = layers.get(task)
        tasks[task] = {
            "head": head,
            "label_type": layer.label_type if layer else None,
            "main_score": task_result.main_score,
            "loss": task_result.loss,
            "scores": _clean(task_result.scores),
            "classification_report": _clean(task_result.classification_report),
        }
    return {"sentences": n_sentences, "main_score": result.main_score, "loss": result.loss, "tasks": tasks}


def _check_label_type(model: Any, sentences: list[Any]) -> None:
    if getattr(model, "tasks", None) is None:
        present = set()
        for sentence in sentences:
            present.update(sentence.annotation_layers)
        if model.label_type not in present:
            raise UsageError(
                f"the data has no '{model.label_type}' labels (the model's label type); "
                f"it has {sorted(present) or 'no labels'}"
            )


def _score(model: Any, sentences: list[Any], batch_size: int, out_path: str | None = None) -> Any:
    """One evaluation of ``sentences`` (tasks assigned, label type checked)."""
    _assign_tasks(model, sentences)
    _check_label_type(model, sentences)
    kwargs: dict[str, Any] = {"mini_batch_size": batch_size}
    if out_path and getattr(model, "tasks", None) is None:
        kwargs["out_path"] = out_path
    return model.evaluate(sentences, gold_label_type=getattr(model, "label_type", None), **kwargs)


def split_accuracy(result: Any) -> tuple[str, float]:
    """(metric name, value) of one split: the linking accuracy when the result has it, else the main score.

    For a multitask model the task results are searched (ZELDA's data has only the linking layer, so
    only its task is scored).
    """
    per_task = getattr(result, "task_results", None)
    results = [task_result for _, task_result in per_task.values()] if per_task else [result]
    for candidate in results:
        value = (getattr(candidate, "scores", None) or {}).get("accuracy")
        if value is not None:
            return "accuracy", float(value)
    return "main score", float(result.main_score)


def evaluate_test_splits(
    model: Any, corpus: Any, batch_size: int = 32, as_json: bool = False
) -> dict[str, Any]:
    """Score every test split of ``corpus.test_splits`` (ZELDA) and their macro average; print and return it.

    ZELDA's official figure is the unweighted mean of the accuracies over its 9 splits; with fewer
    splits on disk the mean is over those, and the missing ones are named.
    """
    from polytag.datasets.entity_linking import ZELDA_TEST_SPLITS

    splits: dict[str, Any] = {}
    metric = "accuracy"
    for name, data in corpus.test_splits.items():
        sentences = list(data)
        if not sentences:
            raise UsageError(f"test split {name!r} of {corpus.name} has no sentences")
        result = _score(model, sentences, batch_size)
        metric, value = split_accuracy(result)
        label_type = getattr(model, "label_type", None) or "nel"
        splits[name] = {
            "sentences": len(sentences),
            "mentions": sum(len(s.get_labels(label_type)) for s in sentences),
            metric.replace(" ", "_"): value,
            "result": result_to_dict(model, result, len(sentences)),
        }
    key = metric.replace(" ", "_")
    macro = sum(entry[key] for entry in splits.values()) / len(splits)
    expected = ZELDA_TEST_SPLITS if getattr(corpus, "name", "") == "zelda" else tuple(splits)
    missing = [name for name in expected if name not in splits]
    report = {"metric": metric, "splits": splits, "macro_avg": macro, "main_score": macro, "missing": missing}
    if as_json:
        print(json.dumps(_clean(report), indent=2))
        return report
    width = max(len(name) for name in [*splits, "macro avg"])
    print(f"{'split':<{width}}  {metric:>10}  mentions")
    for name, entry in splits.items():
        print(f"{name:<{width}}  {entry[key]:>10.4f}  {entry['mentions']:>8}")
    print(f"{'macro avg':<{width}}  {macro:>10.4f}  ({len(splits)} of {len(expected)} splits)")
    if missing:
        print(f"missing splits (not on disk, not in the average): {', '.join(missing)}")
    return report


def run_evaluate(
    model_path: str | os.PathLike,
    data: str,
    split: str = "test",
    fmt: str | None = None,
    columns: dict[int, str] | None = None,
    batch_size: int = 32,
    as_json: bool = False,
    out_path: str | None = None,
) -> dict[str, Any]:
    """Evaluate and print the per-task report (or JSON); returns the JSON form.

    A named corpus with several test splits (ZELDA) is scored split by split on ``--split test``:
    accuracy per split and the macro average (see :func:`evaluate_test_splits`).
    """
    model = load_model(model_path)
    if split == "test" and not Path(data).exists() and is_named_corpus(data):
        corpus = named_corpus(data)
        if getattr(corpus, "test_splits", None):
            return evaluate_test_splits(model, corpus, batch_size, as_json)
        sentences = _split_of(corpus, split, data)
    else:
        sentences = evaluation_data(model, data, split, fmt, columns)
    if not sentences:
        raise UsageError(f"{data}: no sentences to evaluate")
    result = _score(model, sentences, batch_size, out_path)
    report = result_to_dict(model, result, len(sentences))
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{len(sentences)} sentences; main score {result.main_score:.4f}")
        per_task = getattr(result, "task_results", None)
        if per_task:
            for task, (head, task_result) in per_task.items():
                entry = report["tasks"][task]
                print(f"\n=== {task} - {head} ({entry['label_type']}): {task_result.main_score:.4f}")
                print(task_result.detailed_results)
        else:
            print(result.detailed_results)
    return report


# -- the command line ----------------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``evaluate`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    evaluate = commands.add_parser(
        "evaluate", parents=[common], help="score a model on a corpus or a data file"
    )
    evaluate.add_argument("model", help="a model file (final-model.pt, best-model.pt ...)")
    evaluate.add_argument(
        "data", help="a data file (column, CoNLL-U, JSONL), a config .yaml or a named corpus"
    )
    evaluate.add_argument(
        "--split",
        default="test",
        choices=("train", "dev", "test"),
        help="split of a corpus or config to score (default: test)",
    )
    evaluate.add_argument(
        "--format", dest="fmt", default="auto", help="data file format: column, conllu, jsonl"
    )
    evaluate.add_argument("--columns", help="column file layout, e.g. 0:text,1:pos,3:ner")
    evaluate.add_argument("--batch-size", type=int, default=32)
    evaluate.add_argument("--json", action="store_true", help="print the scores as JSON")
    evaluate.add_argument("--out", help="write token, gold and predicted columns to this file (single head)")
    evaluate.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from polytag.cli.inputs import parse_columns

    run_evaluate(
        args.model,
        args.data,
        args.split,
        args.fmt,
        parse_columns(args.columns),
        args.batch_size,
        args.json,
        args.out,
    )
    return 0
