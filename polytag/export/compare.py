"""How far onnxruntime's predictions are from PyTorch's: identical labels, largest score difference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from polytag.data import Sentence, Span, Token


@dataclass
class Agreement:
    """Labels compared item by item (a token, span or sentence label), per sentence.

    ``sentences_equal`` counts sentences whose label sets (positions and values) are identical;
    ``max_score_difference`` is over labels present in both.
    """

    sentences: int = 0
    sentences_equal: int = 0
    labels_reference: int = 0
    labels_equal: int = 0
    max_score_difference: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def label_agreement(self) -> float:
        """Share of sentences whose labels are identical (1.0 = 100 %)."""
        return self.sentences_equal / self.sentences if self.sentences else 1.0


def _where(label: Any, sentence: Sentence) -> tuple:
    point = label.data_point
    if isinstance(point, Span):
        return ("span", point.start, point.end)
    if isinstance(point, Token):
        return ("token", point.idx)
    return ("sentence",)


def _labels(sentence: Sentence, name: str) -> list[tuple[tuple, str, float]]:
    return [(_where(label, sentence), label.value, float(label.score)) for label in sentence.get_labels(name)]


def compare_predictions(
    sentences: Sequence[Sentence],
    reference_names: Sequence[str],
    candidate_names: Sequence[str],
    max_examples: int = 5,
) -> Agreement:
    """Compare the label layers ``reference_names[i]`` and ``candidate_names[i]`` on every sentence."""
    result = Agreement()
    for sentence in sentences:
        equal = True
        for ref_name, cand_name in zip(reference_names, candidate_names):
            reference = _labels(sentence, ref_name)
            candidate = _labels(sentence, cand_name)
            result.labels_reference += len(reference)
            found = {(where, value): score for where, value, score in candidate}
            for where, value, score in reference:
                if (where, value) in found:
                    result.labels_equal += 1
                    diff = abs(found[(where, value)] - score)
                    result.max_score_difference = max(result.max_score_difference, diff)
            if [(w, v) for w, v, _ in reference] != [(w, v) for w, v, _ in candidate]:
                equal = False
                if len(result.examples) < max_examples:
                    text = sentence.to_tokenized_string()[:80]
                    result.examples.append(f"{text!r}: {ref_name}={reference} {cand_name}={candidate}")
        result.sentences += 1
        result.sentences_equal += int(equal)
    return result
