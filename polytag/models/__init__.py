"""Task heads over one shared encoder (Flair's ``flair.models``)."""

from polytag.models.base import Classifier, Model
from polytag.models.head import Head
from polytag.models.multitask import MultitaskModel
from polytag.models.sequence_tagger import SequenceTagger
from polytag.models.span_classifier import SpanClassifier
from polytag.models.text_classifier import TextClassifier
from polytag.models.token_classifier import TokenClassifier

__all__ = [
    "Classifier",
    "Head",
    "Model",
    "MultitaskModel",
    "SequenceTagger",
    "SpanClassifier",
    "TextClassifier",
    "TokenClassifier",
]
