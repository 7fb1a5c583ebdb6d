"""Evaluation metrics over plain tuples: span, token and text classification, and entity linking."""

from polytag.evaluation.linking import (
    as_mention_mapping,
    candidate_recall_at_k,
    disambiguation_accuracy,
    end_to_end_scores,
    evaluate_linking,
    recall_at_k,
    seen_unseen_accuracy,
)
from polytag.evaluation.metrics import (
    KINDS,
    EvaluationError,
    Result,
    default_main_metric,
    evaluate_items,
    format_report,
    macro_average,
)

__all__ = [
    "KINDS",
    "EvaluationError",
    "Result",
    "as_mention_mapping",
    "candidate_recall_at_k",
    "default_main_metric",
    "disambiguation_accuracy",
    "end_to_end_scores",
    "evaluate_items",
    "evaluate_linking",
    "format_report",
    "macro_average",
    "recall_at_k",
    "seen_unseen_accuracy",
]
