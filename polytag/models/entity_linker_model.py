"""Flair's import path ``flair.models.entity_linker_model``: the span classifier and its candidates."""

from polytag.models.span_classifier import SpanClassifier, SpanClassifierError, SpanScores, entity_name
from polytag.nn.candidates import CandidateGenerator

EntityLinker = SpanClassifier  # Flair's older name

__all__ = [
    "CandidateGenerator",
    "EntityLinker",
    "SpanClassifier",
    "SpanClassifierError",
    "SpanScores",
    "entity_name",
]
