"""Precision, recall, F1 and accuracy over plain tuples, independent of any model.

A model turns its gold and predicted labels into *items*: hashable tuples whose last element is the label
value and whose other elements (the *key*) say which data point the label belongs to::

    spans      (sentence_idx, start, end, label)
    tokens     (sentence_idx, token_idx, label)
    sentences  (sentence_idx, label)            one item per label, so multi-label is several items

Counting follows Flair's evaluation:

* P/R/F1 count (key, label) pairs: a predicted pair is a true positive when the same pair is gold.
  "micro avg" sums the counts over classes, "macro avg" averages the per-class figures, "weighted avg"
  weights them by support (the number of gold pairs).
* Accuracy counts data points: a key is correct when its set of gold labels equals its set of predicted
  labels. Keys are those of any gold or predicted item, plus ``keys`` when given (so that, for
  multi-label text, a sentence with no gold and no predicted label counts as correct). For spans this is
  tp / (tp + fp + fn) with a boundary-exact span of the wrong type counting as one error.
* The label ``"O"`` means "no label": it is never a class and an ``O`` item only makes its key count for
  accuracy (a token tagged ``O`` in gold and prediction is a correct token).
* ``exclude_labels`` are removed from gold and prediction; a key whose gold labels were all excluded is
  ignored entirely, predictions included (as Flair does).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from polytag.errors import PolytagError

KINDS = ("span", "token", "text")
OUTSIDE = "O"
_AVERAGES = ("micro avg", "macro avg", "weighted avg")
_COLUMNS = ("precision", "recall", "f1-score", "support")


class EvaluationError(PolytagError, ValueError):
    """Evaluation called with arguments it cannot score (unknown kind, malformed items, unknown metric)."""


class Result:
    """What an evaluation returns: the main score, figures for logging and a readable report."""

    def __init__(
        self,
        main_score: float,
        detailed_results: str,
        classification_report: dict[str, Any] | None = None,
        scores: dict[str, float] | None = None,
        log_header: str = "",
        log_line: str = "",
        loss: float | None = None,
    ) -> None:
        self.main_score = float(main_score)
        self.detailed_results = detailed_results
        self.classification_report = classification_report if classification_report is not None else {}
        self.scores = dict(scores) if scores is not None else {}
        if loss is None and self.scores.get("loss") is not None:
            loss = self.scores["loss"]
        if loss is not None:
            self.scores["loss"] = float(loss)
        self.loss = None if loss is None else float(loss)
        self.log_header = log_header
        self.log_line = log_line

    def __str__(self) -> str:
        return self.detailed_results

    def __repr__(self) -> str:
        return f"Result(main_score={self.main_score:.4f}, loss={self.loss})"


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, or 0.0 for an empty denominator (no gold items: nothing to score)."""
    return numerator / denominator if denominator else 0.0


def f1(precision: float, recall: float) -> float:
    """Harmonic mean of precision and recall (0.0 when both are 0)."""
    return ratio(2 * precision * recall, precision + recall)


def _as_item_set(items: Iterable[tuple], side: str) -> set[tuple]:
    """The distinct items, checked to be (key..., label) tuples."""
    distinct: set[tuple] = set(items) if not isinstance(items, set) else items
    for item in distinct:
        if not isinstance(item, tuple) or len(item) < 2:
            raise EvaluationError(
                f"{side} item {item!r} is not a tuple of a key and a label, "
                "e.g. (sentence_idx, start, end, label)"
            )
    return distinct


def format_report(rows: dict[str, dict[str, float]], digits: int = 4) -> str:
    """A table like scikit-learn's classification report: one line per class, then the averages."""
    classes = [name for name in rows if name not in _AVERAGES and name != "accuracy"]
    width = max([len("weighted avg"), digits, *(len(str(name)) for name in classes)])
    lines = [f"{'':>{width}} " + "".join(f" {column:>9}" for column in _COLUMNS), ""]

    def line(name: str, figures: dict[str, float]) -> str:
        numbers = "".join(f" {figures[column]:>9.{digits}f}" for column in _COLUMNS[:3])
        return f"{name:>{width}} {numbers} {int(figures['support']):>9}"

    lines += [line(str(name), rows[name]) for name in classes]
    lines.append("")
    lines += [line(name, rows[name]) for name in _AVERAGES if name in rows]
    return "\n".join(lines) + "\n"


def default_main_metric(kind: str) -> tuple[str, str]:
    """Micro F1 for spans and texts, accuracy for tokens."""
    return ("accuracy", "") if kind == "token" else ("micro avg", "f1-score")


def evaluate_items(
    gold: Iterable[tuple],
    predicted: Iterable[tuple],
    *,
    kind: str,
    main_metric: tuple[str, str] | None = None,
    exclude_labels: Iterable[str] = (),
    loss: float | None = None,
    keys: Iterable[Hashable] | None = None,
    digits: int = 4,
) -> Result:
    """Score predicted items against gold items (see the module docstring for what an item is).

    ``kind`` is ``"span"``, ``"token"`` or ``"text"``; it chooses the default main metric (micro F1 for
    spans and texts, accuracy for tokens) and the report's title. ``main_metric`` is a pair
    ``(row, column)`` of the classification report, e.g. ``("micro avg", "f1-score")`` or
    ``("macro avg", "f1-score")``, or ``("accuracy", "")``. Duplicate items count once.
    """
    if kind not in KINDS:
        raise EvaluationError(f"unknown evaluation kind {kind!r}; expected one of {', '.join(KINDS)}")
    metric: tuple[str, ...] = tuple(main_metric) if main_metric is not None else default_main_metric(kind)
    gold_items, predicted_items, ignored = _drop_excluded(
        _as_item_set(gold, "gold"), _as_item_set(predicted, "predicted"), set(exclude_labels)
    )

    universe = {item[:-1] for item in gold_items}
    universe.update(item[:-1] for item in predicted_items)
    if keys is not None:
        universe |= {key if isinstance(key, tuple) else (key,) for key in keys} - ignored

    gold_labelled = {item for item in gold_items if item[-1] != OUTSIDE}
    predicted_labelled = {item for item in predicted_items if item[-1] != OUTSIDE}
    gold_count = Counter(item[-1] for item in gold_labelled)
    predicted_count = Counter(item[-1] for item in predicted_labelled)
    true_positive = Counter(item[-1] for item in gold_labelled & predicted_labelled)
    # a key is right when its gold and predicted label sets are equal: no item of it in the difference
    wrong_keys = {item[:-1] for item in gold_labelled ^ predicted_labelled}
    accuracy = ratio(len(universe) - len(wrong_keys), len(universe))

    report = _class_report(gold_count, predicted_count, true_positive)
    report["accuracy"] = accuracy

    return _result(report, metric, kind, len(universe), digits, loss)


def _drop_excluded(
    gold_items: set[tuple], predicted_items: set[tuple], excluded: set[str]
) -> tuple[set[tuple], set[tuple], set[tuple]]:
    """Items without the excluded labels, and the keys that only excluded gold labels had (ignored)."""
    if not excluded:
        return gold_items, predicted_items, set()
    kept_gold_keys = {item[:-1] for item in gold_items if item[-1] not in excluded}
    ignored = {item[:-1] for item in gold_items if item[-1] in excluded} - kept_gold_keys
    gold_items = {item for item in gold_items if item[-1] not in excluded}
    predicted_items = {
        item for item in predicted_items if item[-1] not in excluded and item[:-1] not in ignored
    }
    return gold_items, predicted_items, ignored


def _class_report(gold_count: Counter, predicted_count: Counter, true_positive: Counter) -> dict[str, Any]:
    """Per-class precision/recall/F1/support plus micro, macro and weighted averages (sklearn's layout)."""
    classes = sorted(
        set(gold_count) | set(predicted_count),
        key=lambda label: (-gold_count[label], -predicted_count[label], str(label)),
    )
    report: dict[str, Any] = {}
    for label in classes:
        precision = ratio(true_positive[label], predicted_count[label])
        recall = ratio(true_positive[label], gold_count[label])
        report[label] = {
            "precision": precision,
            "recall": recall,
            "f1-score": f1(precision, recall),
            "support": gold_count[label],
        }
    total_gold = sum(gold_count.values())
    total_tp = sum(true_positive.values())
    micro_precision = ratio(total_tp, sum(predicted_count.values()))
    micro_recall = ratio(total_tp, total_gold)
    report["micro avg"] = {
        "precision": micro_precision,
        "recall": micro_recall,
        "f1-score": f1(micro_precision, micro_recall),
        "support": total_gold,
    }
    per_class = [report[label] for label in classes]
    report["macro avg"] = {
        column: ratio(sum(row[column] for row in per_class), len(per_class)) for column in _COLUMNS[:3]
    }
    report["macro avg"]["support"] = total_gold
    report["weighted avg"] = {
        column: ratio(sum(row[column] * row["support"] for row in per_class), total_gold)
        for column in _COLUMNS[:3]
    }
    report["weighted avg"]["support"] = total_gold
    return report


def _result(
    report: dict[str, Any], metric: tuple, kind: str, n_keys: int, digits: int, loss: float | None
) -> Result:
    """The Result of a finished report: main score, scores by name, the printed report and the log line."""
    accuracy = report["accuracy"]

    main_score = _pick(report, metric)
    micro, macro = report["micro avg"], report["macro avg"]
    scores = {
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1-score"],
        "macro_precision": macro["precision"],
        "macro_recall": macro["recall"],
        "macro_f1": macro["f1-score"],
        "weighted_f1": report["weighted avg"]["f1-score"],
        "accuracy": accuracy,
    }
    title = {"span": "spans", "token": "tokens", "text": "data points"}[kind]
    if n_keys:
        body = f"By class:\n{format_report(report, digits)}"
    else:
        body = "By class:\n(no gold and no predicted labels)\n"
    detailed = (
        f"\nResults ({n_keys} {title}):"
        f"\n- F-score (micro) {micro['f1-score']:.{digits}f}"
        f"\n- F-score (macro) {macro['f1-score']:.{digits}f}"
        f"\n- Accuracy {accuracy:.{digits}f}"
        f"\n\n{body}"
    )
    log_line = "\t".join(
        f"{value:.{digits}f}" for value in (micro["precision"], micro["recall"], micro["f1-score"], accuracy)
    )
    return Result(
        main_score=main_score,
        detailed_results=detailed,
        classification_report=report,
        scores=scores,
        log_header="PRECISION\tRECALL\tF1\tACCURACY",
        log_line=log_line,
        loss=loss,
    )


def _pick(report: dict[str, Any], metric: tuple) -> float:
    """The figure ``metric`` = (row, column) names in ``report``; ("accuracy", anything) is accuracy."""
    if not metric:
        raise EvaluationError("main_metric is empty")
    row = metric[0]
    if row == "accuracy":
        return float(report["accuracy"])
    if len(metric) < 2 or metric[1] not in _COLUMNS[:3]:
        raise EvaluationError(
            f"main_metric {metric!r} must be (row, column) with column one of precision, recall, f1-score"
        )
    if row in report:
        return float(report[row][metric[1]])
    if "avg" in str(row):
        raise EvaluationError(
            f"main_metric {metric!r}: unknown average; expected one of {', '.join(_AVERAGES)}"
        )
    # A class that occurs neither in gold nor in prediction scores 0 (zero_division=0, as in Flair).
    return 0.0


def macro_average(results: Mapping[str, Result]) -> Result:
    """One result over several named splits: the main score is the unweighted mean of theirs (as ZELDA
    reports its nine test splits); ``scores`` holds each split's main score and ``"macro_avg"``, and
    ``split_results`` the full per-split results (Flair keeps them on the result too)."""
    if not results:
        raise EvaluationError("a macro average needs at least one split")
    macro = sum(r.main_score for r in results.values()) / len(results)
    width = max(len(name) for name in results)
    lines = [f"{name:<{width}}  {r.main_score:.4f}" for name, r in results.items()]
    lines.append(f"{'macro avg':<{width}}  {macro:.4f}")
    result = Result(
        main_score=macro,
        detailed_results="\n".join(lines),
        classification_report={name: r.classification_report for name, r in results.items()},
        scores={**{name: r.main_score for name, r in results.items()}, "macro_avg": macro},
        log_header="\t".join(results),
        log_line="\t".join(f"{r.main_score:.4f}" for r in results.values()),
    )
    vars(result)["split_results"] = dict(results)
    return result
