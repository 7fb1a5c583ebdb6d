"""Flair's span classifier tutorial: a corpus built in memory with FlairDatapointDataset.

``create_sentence`` turns one record of your own data structure into a Sentence whose spans carry
``nel`` labels (``sentence[start:end+1].add_label("nel", label)``); ``construct_corpus`` builds the
Corpus from the records. The records here are made up; a short training run shows the corpus works.
POLYTAG_EXAMPLE_ENCODER overrides the encoder (default: the shipped all-MiniLM-L6-v2).
"""

import os
import tempfile

from polytag.data import Corpus, Sentence
from polytag.datasets import FlairDatapointDataset
from polytag.embeddings import TransformerWordEmbeddings
from polytag.models import SpanClassifier
from polytag.models.entity_linker_model import CandidateGenerator
from polytag.trainers import ModelTrainer

ENCODER = os.environ.get("POLYTAG_EXAMPLE_ENCODER", "sentence-transformers/all-MiniLM-L6-v2")

RECORDS = [
    {
        "tokens": ["George", "Washington", "went", "to", "Washington", "."],
        "spans": [(0, 1, "George_Washington"), (4, 4, "Washington,_D.C.")],
    },
    {
        "tokens": ["Sam", "Houston", "stayed", "home", "in", "Houston", "."],
        "spans": [(0, 1, "Sam_Houston"), (5, 5, "Houston")],
    },
    {
        "tokens": ["The", "EU", "rejects", "German", "calls", "."],
        "spans": [(1, 1, "European_Union"), (3, 3, "Germany")],
    },
]


def create_sentence(datapoint: dict) -> Sentence:
    tokens = datapoint["tokens"]  # calculate the tokens from your internal data structure
    spans = datapoint["spans"]  # a list of tuples (start_token, end_token, label) from your data structure
    sentence = Sentence(tokens)
    for start, end, label in spans:
        sentence[start : end + 1].add_label("nel", label)
    return sentence


def construct_corpus(data: dict) -> Corpus:
    return Corpus(
        train=FlairDatapointDataset([create_sentence(datapoint) for datapoint in data["train"]]),
        dev=FlairDatapointDataset([create_sentence(datapoint) for datapoint in data["dev"]]),
        test=FlairDatapointDataset([create_sentence(datapoint) for datapoint in data["test"]]),
    )


corpus = construct_corpus({"train": RECORDS * 4, "dev": RECORDS, "test": RECORDS})
print(corpus)

label_dict = corpus.make_label_dictionary("nel", add_unk=True)
candidates = CandidateGenerator(
    {
        "George Washington": ["George_Washington", "George_Washington_(film)"],
        "Washington": {"Washington,_D.C.": 60, "Washington_(state)": 30, "George_Washington": 10},
        "Sam Houston": ["Sam_Houston"],
        "Houston": {"Houston": 80, "Sam_Houston": 20},
        "EU": ["European_Union"],
        "German": {"Germany": 90, "German_language": 10},
    }
)
linker = SpanClassifier(
    TransformerWordEmbeddings(ENCODER, fine_tune=True),
    label_dictionary=label_dict,
    label_type="nel",
    candidates=candidates,
)
output = os.environ.get("POLYTAG_EXAMPLE_OUTPUT", tempfile.mkdtemp(prefix="polytag-nel-model-"))
ModelTrainer(linker, corpus).fine_tune(
    output, learning_rate=5e-5, decoder_learning_rate=1e-3, mini_batch_size=4, max_epochs=2
)
print(linker.evaluate(corpus.test).detailed_results)
