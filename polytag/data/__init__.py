"""Data model: tokens, spans, sentences, labels, dictionaries and corpora."""

from polytag.data.context import document_sentences
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
from polytag.data.label import DataPoint, Label
from polytag.data.sentence import Sentence, Span, Token, link_document
from polytag.data.sizes import dataset_token_counts, is_lazy
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
    "dataset_token_counts",
    "is_lazy",
    "document_sentences",
    "link_document",
    "tokenize",
    "whitespace_tokenize",
]
