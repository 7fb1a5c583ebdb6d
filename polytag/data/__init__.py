"""Data model: tokens, spans, sentences, labels, dictionaries and corpora."""

from polytag.data.corpus import (
    ConcatDataset,
    Corpus,
    FlairDatapointDataset,
    LabelledView,
    MultiCorpus,
    SentenceDataset,
    SubsetDataset,
)
from polytag.data.dictionary import Dictionary
from polytag.data.sentence import DataPoint, Label, Sentence, Span, Token, link_document
from polytag.data.tokenizer import tokenize, whitespace_tokenize

__all__ = [
    "ConcatDataset",
    "Corpus",
    "DataPoint",
    "Dictionary",
    "FlairDatapointDataset",
    "Label",
    "LabelledView",
    "MultiCorpus",
    "Sentence",
    "SentenceDataset",
    "Span",
    "SubsetDataset",
    "Token",
    "link_document",
    "tokenize",
    "whitespace_tokenize",
]
