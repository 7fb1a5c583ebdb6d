"""Flair's span classifier tutorial: NER (mention detection) and NEL over one shared encoder.

Part 1 follows the tutorial's "Combining NEL with Mention Detection": a SequenceTagger on an NER corpus
and a SpanClassifier on ZELDA, aligned by make_multitask_model_and_corpus. WikiNER cannot be downloaded
offline, so CoNLL-03 stands in when its files are absent (logged). ZELDA needs the folder that
``python bench/aida_nel.py --write-zelda DIR`` writes (``POLYTAG_DATASETS=DIR``; it links the other
shared corpora, ``conll_03/`` and ``aida_nel/``, into DIR too).

Part 2 is "Multitask with aligned training data": AIDA sentences carry both ``ner`` and ``nel`` spans
and both ``multitask_id`` labels, and MultitaskModel(..., use_all_tasks=True) trains both heads on every
sentence with one encoder pass; the NEL head links the spans the NER head predicts
(``span_label_type="ner"``), so one ``predict`` call finds and links the entities.

Environment knobs: POLYTAG_EXAMPLE_ENCODER, POLYTAG_EXAMPLE_FRACTION (default 0.02),
POLYTAG_EXAMPLE_EPOCHS (default 1), POLYTAG_EXAMPLE_OUTPUT, POLYTAG_EXAMPLE_PART ("1", "2" or "both").
"""

import logging
import os

from polytag.data import Corpus, Sentence, link_document
from polytag.datasets import AIDA_NEL, CONLL_03, NER_MULTI_WIKINER, ZELDA
from polytag.embeddings import TransformerWordEmbeddings
from polytag.errors import DatasetNotFoundError
from polytag.models import MultitaskModel, SequenceTagger, SpanClassifier
from polytag.models.entity_linker_model import CandidateGenerator
from polytag.nn import PrototypicalDecoder
from polytag.nn.multitask import make_multitask_model_and_corpus
from polytag.trainers import ModelTrainer

log = logging.getLogger("polytag")
ENCODER = os.environ.get("POLYTAG_EXAMPLE_ENCODER", "sentence-transformers/all-MiniLM-L6-v2")
FRACTION = float(os.environ.get("POLYTAG_EXAMPLE_FRACTION", "0.02"))
EPOCHS = int(os.environ.get("POLYTAG_EXAMPLE_EPOCHS", "1"))
OUTPUT = os.environ.get("POLYTAG_EXAMPLE_OUTPUT", "resources/taggers/ner-nel")
PART = os.environ.get("POLYTAG_EXAMPLE_PART", "both")


def part_1() -> None:
    # 1. get the corpus
    try:
        ner_corpus = NER_MULTI_WIKINER()
    except DatasetNotFoundError:
        log.info("WikiNER is not available offline; CoNLL-03 stands in for it")
        ner_corpus = CONLL_03()
    ner_corpus = ner_corpus.downsample(FRACTION)
    nel_corpus = ZELDA(column_format={0: "text", 2: "nel"}).downsample(FRACTION)

    # --- Embeddings that are shared by both models --- #
    shared_embeddings = TransformerWordEmbeddings(ENCODER, fine_tune=True)

    ner_label_dict = ner_corpus.make_label_dictionary("ner", add_unk=False)
    ner_model = SequenceTagger(
        hidden_size=256,
        embeddings=shared_embeddings,
        tag_dictionary=ner_label_dict,
        tag_type="ner",
        use_rnn=False,
        use_crf=False,
        reproject_embeddings=False,
    )

    nel_label_dict = nel_corpus.make_label_dictionary("nel", add_unk=True)
    nel_model = SpanClassifier(
        embeddings=shared_embeddings,
        label_dictionary=nel_label_dict,
        label_type="nel",
        span_label_type="ner",
        decoder=PrototypicalDecoder(
            num_prototypes=len(nel_label_dict),
            embeddings_size=shared_embeddings.embedding_length * 2,  # we use "first_last" encoding for spans
            distance_function="dot_product",
            normal_distributed_initial_prototypes=True,
        ),
        candidates=CandidateGenerator("zelda"),
    )

    # -- Define mapping (which tagger should train on which model) -- #
    multitask_model, multicorpus = make_multitask_model_and_corpus(
        [
            (ner_model, ner_corpus),
            (nel_model, nel_corpus),
        ]
    )

    # -- Create model trainer and train -- #
    trainer = ModelTrainer(multitask_model, multicorpus)
    trainer.fine_tune(f"{OUTPUT}/part1", max_epochs=EPOCHS)


def create_sentence(source: Sentence) -> Sentence:
    """A fresh sentence with the ner and nel spans of ``source`` and both task ids."""
    sentence = Sentence([token.form for token in source])
    for label in source.get_labels("ner"):
        sentence[label.data_point.start : label.data_point.end].add_label("ner", label.value)
    for label in source.get_labels("nel"):
        sentence[label.data_point.start : label.data_point.end].add_label("nel", label.value)
    sentence.add_label("multitask_id", "Task_0")  # Task_0 for the NER model
    sentence.add_label("multitask_id", "Task_1")  # Task_1 for the NEL model
    return sentence


def part_2() -> None:
    aida = AIDA_NEL().downsample(FRACTION)
    splits = {}
    for name in ("train", "dev", "test"):
        documents: dict = {}
        for source in getattr(aida, name):
            documents.setdefault(source.document_id, []).append(create_sentence(source))
        for document_id, sentences in documents.items():
            link_document(sentences, document_id)  # document context: the headline of each document
        splits[name] = [s for sentences in documents.values() for s in sentences]
    corpus = Corpus(**splits)
    shared_embeddings = TransformerWordEmbeddings(ENCODER, fine_tune=True)
    ner_model = SequenceTagger(
        hidden_size=256,
        embeddings=shared_embeddings,
        tag_dictionary=corpus.make_label_dictionary("ner", add_unk=False),
        tag_type="ner",
        use_rnn=False,
        use_crf=False,
        reproject_embeddings=False,
    )
    nel_model = SpanClassifier(
        shared_embeddings,
        label_dictionary=corpus.make_label_dictionary("nel", add_unk=True),
        label_type="nel",
        span_label_type="ner",
        candidates=CandidateGenerator(aida.candidates_file),
        document_context=True,
    )
    multitask_model = MultitaskModel([ner_model, nel_model], use_all_tasks=True)
    ModelTrainer(multitask_model, corpus).fine_tune(
        f"{OUTPUT}/part2", max_epochs=EPOCHS, learning_rate=5e-5, decoder_learning_rate=1e-3
    )

    model = MultitaskModel.load(f"{OUTPUT}/part2/final-model.pt")
    sentence = Sentence("Japan began the defence of their Asian Cup title with a win over Syria .")
    model.predict(sentence)  # NER spans, then their links, in one call
    print(sentence.get_labels("ner"))
    print(sentence.get_labels("nel"))


if PART in ("1", "both"):
    part_1()
if PART in ("2", "both"):
    part_2()
