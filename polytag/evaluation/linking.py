"""Entity-linking metrics over plain mappings, independent of any model.

A *mention* is any hashable key, typically ``(sentence_idx, start, end)``; its value is an entity id (e.g.
a Wikipedia title). Every function accepts either a mapping ``{mention: entity}`` or items in the
:func:`~polytag.evaluation.evaluate_items` style, ``(sentence_idx, start, end, entity)``.

* :func:`disambiguation_accuracy`: mentions are given (gold spans); the share of gold mentions whose
  predicted entity is the gold one. A gold mention with no prediction (or ``None``) is wrong.
* :func:`end_to_end_scores`: spans are predicted too; P/R/F1 over (mention, entity) pairs, strong
  matching (exact span and entity), plus the same figures for mention detection alone.
* :func:`recall_at_k`: candidate generation; the share of gold mentions whose gold entity is among the
  first k candidates (best first). A mention without a candidate list is a miss.
* :func:`candidate_recall_at_k`: the same over the gold spans of sentences, asking a candidate look-up
  (e.g. ``CandidateGenerator``) for each span's ranked entities.
* :func:`seen_unseen_accuracy`: disambiguation accuracy split by whether the gold entity occurred in
  training, to tell memorisation from generalisation.

Mentions whose gold entity is NIL (no entity in the knowledge base) are left to the caller: drop them
from ``gold`` to ignore them, or keep them with a NIL id to score NIL prediction as an entity.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Mapping, Sequence
from typing import Any, Union

from polytag.evaluation.metrics import EvaluationError, Result, f1, format_report, ratio

Mentions = Union[Mapping[Hashable, Any], Iterable[tuple]]


def as_mention_mapping(mentions: Mentions, side: str = "mentions") -> dict[Hashable, Any]:
    """``{mention: entity}`` from a mapping or from ``(key..., entity)`` items (a key may occur once)."""
    if isinstance(mentions, Mapping):
        return dict(mentions)
    mapping: dict[Hashable, Any] = {}
    for item in mentions:
        if not isinstance(item, tuple) or len(item) < 2:
            raise EvaluationError(f"{side}: item {item!r} is not a tuple of a mention key and an entity")
        key = item[:-1]
        if key in mapping and mapping[key] != item[-1]:
            raise EvaluationError(
                f"{side}: mention {key!r} has two entities, {mapping[key]!r} and {item[-1]!r}"
            )
        mapping[key] = item[-1]
    return mapping


def disambiguation_accuracy(gold: Mentions, predicted: Mentions) -> float:
    """Share of gold mentions linked to their gold entity (0.0 when there are no gold mentions)."""
    gold_map = as_mention_mapping(gold, "gold")
    predicted_map = as_mention_mapping(predicted, "predicted")
    correct = sum(1 for key, entity in gold_map.items() if predicted_map.get(key) == entity)
    return ratio(correct, len(gold_map))


def end_to_end_scores(gold: Mentions, predicted: Mentions) -> dict[str, float]:
    """Strong-match P/R/F1 of (mention, entity) pairs, and of mention detection alone.

    Returns ``precision, recall, f1, tp, fp, fn`` and ``mention_precision, mention_recall, mention_f1``.
    A predicted entity of ``None`` counts as no prediction for that mention.
    """
    gold_map = {k: v for k, v in as_mention_mapping(gold, "gold").items() if v is not None}
    predicted_map = {k: v for k, v in as_mention_mapping(predicted, "predicted").items() if v is not None}
    tp = sum(1 for key, entity in predicted_map.items() if gold_map.get(key, None) == entity)
    precision = ratio(tp, len(predicted_map))
    recall = ratio(tp, len(gold_map))
    found = len(set(gold_map) & set(predicted_map))
    mention_precision = ratio(found, len(predicted_map))
    mention_recall = ratio(found, len(gold_map))
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
        "tp": tp,
        "fp": len(predicted_map) - tp,
        "fn": len(gold_map) - tp,
        "mention_precision": mention_precision,
        "mention_recall": mention_recall,
        "mention_f1": f1(mention_precision, mention_recall),
    }


def recall_at_k(
    gold: Mentions,
    candidates: Mapping[Hashable, Sequence[Any]],
    ks: Iterable[int] = (1, 5, 10, 30),
) -> dict[int, float]:
    """For each k, the share of gold mentions whose gold entity is among their first k candidates."""
    gold_map = as_mention_mapping(gold, "gold")
    ks = sorted(set(ks))
    if any(not isinstance(k, int) or k < 1 for k in ks):
        raise EvaluationError(f"recall_at_k: every k must be a positive integer, got {ks}")
    ranks = []
    for key, entity in gold_map.items():
        ranked = list(candidates.get(key, ()))
        ranks.append(ranked.index(entity) + 1 if entity in ranked else None)
    return {k: ratio(sum(1 for r in ranks if r is not None and r <= k), len(ranks)) for k in ks}


def candidate_recall_at_k(
    lookup: Callable[[str], Sequence[Any]],
    sentences: Iterable[Any],
    label_type: str = "nel",
    ks: Iterable[int] = (1, 5, 10, 30),
) -> dict[int, float]:
    """:func:`recall_at_k` of a candidate look-up over the gold ``label_type`` spans of ``sentences``.

    ``lookup(span_text)`` returns the span's candidate entities best first (an empty sequence when it
    knows none: a miss). Sentence-level labels are not mentions and are skipped. A mention is keyed by
    (sentence number, start, end), so equal texts in different places count separately.
    """
    gold: dict[Hashable, Any] = {}
    ranked: dict[Hashable, Sequence[Any]] = {}
    for number, sentence in enumerate(sentences):
        for label in sentence.get_labels(label_type):
            span = label.data_point
            if span is sentence or not hasattr(span, "start"):
                continue
            key = (number, span.start, span.end)
            gold[key] = label.value
            ranked[key] = lookup(span.text)
    return recall_at_k(gold, ranked, ks)


def seen_unseen_accuracy(
    gold: Mentions, predicted: Mentions, seen_entities: Collection[Any]
) -> dict[str, float]:
    """Disambiguation accuracy on gold mentions whose entity was / was not seen in training.

    Returns ``seen_accuracy, unseen_accuracy, seen_count, unseen_count``; an empty group has accuracy 0.0.
    """
    gold_map = as_mention_mapping(gold, "gold")
    predicted_map = as_mention_mapping(predicted, "predicted")
    seen = seen_entities if isinstance(seen_entities, (set, frozenset, dict)) else set(seen_entities)
    counts = {True: [0, 0], False: [0, 0]}  # seen? -> [correct, total]
    for key, entity in gold_map.items():
        bucket = counts[entity in seen]
        bucket[0] += predicted_map.get(key) == entity
        bucket[1] += 1
    return {
        "seen_accuracy": ratio(*counts[True]),
        "unseen_accuracy": ratio(*counts[False]),
        "seen_count": counts[True][1],
        "unseen_count": counts[False][1],
    }


def evaluate_linking(
    gold: Mentions,
    predicted: Mentions,
    *,
    candidates: Mapping[Hashable, Sequence[Any]] | None = None,
    seen_entities: Collection[Any] | None = None,
    ks: Iterable[int] = (1, 5, 10, 30),
    main_metric: tuple[str, str] = ("micro avg", "f1-score"),
    loss: float | None = None,
    digits: int = 4,
) -> Result:
    """All linking figures in one :class:`Result` (no per-entity table: entities are too many).

    ``classification_report`` has ``"micro avg"`` (strong-match P/R/F1, support = gold mentions),
    ``"mentions"`` (detection only) and ``"accuracy"`` (disambiguation accuracy over gold mentions), so
    the trainer's ``main_metric`` pairs work as for :func:`evaluate_items`. When the model links gold
    spans, micro F1, recall and accuracy coincide.
    """
    gold_map = as_mention_mapping(gold, "gold")
    predicted_map = as_mention_mapping(predicted, "predicted")
    e2e = end_to_end_scores(gold_map, predicted_map)
    accuracy = disambiguation_accuracy(gold_map, predicted_map)
    report: dict[str, Any] = {
        "micro avg": {
            "precision": e2e["precision"],
            "recall": e2e["recall"],
            "f1-score": e2e["f1"],
            "support": len(gold_map),
        },
        "mentions": {
            "precision": e2e["mention_precision"],
            "recall": e2e["mention_recall"],
            "f1-score": e2e["mention_f1"],
            "support": len(gold_map),
        },
        "accuracy": accuracy,
    }
    scores: dict[str, float] = {
        "micro_precision": e2e["precision"],
        "micro_recall": e2e["recall"],
        "micro_f1": e2e["f1"],
        "mention_f1": e2e["mention_f1"],
        "accuracy": accuracy,
    }
    lines = [
        f"\nResults ({len(gold_map)} gold mentions, {len(predicted_map)} predicted):",
        f"- F-score (micro) {e2e['f1']:.{digits}f}",
        f"- Accuracy {accuracy:.{digits}f}",
    ]
    if seen_entities is not None:
        split = seen_unseen_accuracy(gold_map, predicted_map, seen_entities)
        scores.update(split)
        report["seen"] = split
        lines.append(
            f"- Accuracy on entities seen in training {split['seen_accuracy']:.{digits}f} "
            f"({split['seen_count']} mentions), unseen {split['unseen_accuracy']:.{digits}f} "
            f"({split['unseen_count']} mentions)"
        )
    if candidates is not None:
        recalls = recall_at_k(gold_map, candidates, ks)
        report["recall@k"] = recalls
        for k, value in recalls.items():
            scores[f"recall@{k}"] = value
        lines.append("- Candidate recall " + ", ".join(f"@{k} {v:.{digits}f}" for k, v in recalls.items()))
    table = format_report({name: report[name] for name in ("mentions", "micro avg")}, digits)
    detailed = "\n".join(lines) + "\n\n" + table

    main_score = _main_score(report, main_metric)
    return Result(
        main_score=main_score,
        detailed_results=detailed,
        classification_report=report,
        scores=scores,
        log_header="PRECISION\tRECALL\tF1\tACCURACY",
        log_line="\t".join(f"{v:.{digits}f}" for v in (e2e["precision"], e2e["recall"], e2e["f1"], accuracy)),
        loss=loss,
    )


def _main_score(report: dict[str, Any], main_metric: tuple[str, str]) -> float:
    """The figure the trainer selects models by: accuracy, or a column of the micro/mentions rows."""
    row = main_metric[0] if main_metric else ""
    if row == "accuracy":
        return report["accuracy"]
    if row in ("micro avg", "mentions") and len(main_metric) > 1 and main_metric[1] in report[row]:
        return report[row][main_metric[1]]
    raise EvaluationError(
        f"main_metric {main_metric!r} is not available for linking; use ('micro avg', 'f1-score'), "
        "('mentions', 'f1-score') or ('accuracy', '')"
    )
