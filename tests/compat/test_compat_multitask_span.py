"""Flair's multitask tutorial (two token tasks; a token and a document task) and span-classifier tutorial
(SpanClassifier with a PrototypicalDecoder and a CandidateGenerator; NER + NEL with aligned data),
on the tutorials' own sentences with the tiny encoder, models trained once per module."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, Sentence
from polytag.embeddings import TransformerEmbeddings, TransformerWordEmbeddings
from polytag.models import MultitaskModel, SequenceTagger, SpanClassifier, TextClassifier, TokenClassifier
from polytag.models.entity_linker_model import CandidateGenerator
from polytag.nn import Classifier, PrototypicalDecoder
from polytag.nn.multitask import make_multitask_model_and_corpus
from polytag.trainers import ModelTrainer

QUIET = {"progress_bar": False, "plot_training_curves": False, "seed": 1}
SCORE = r"\(\d\.\d{1,4}\)"
POS = [
    ("Mr Smith loves New York", "NNP NNP VBZ NNP NNP"),
    ("Sam Houston stayed home", "NNP NNP VBD NN"),
    ("New York loves Mr Smith", "NNP NNP VBZ NNP NNP"),
]
CHUNKS = [
    ("Mr Smith loves New York", [(0, 2, "NP"), (2, 3, "VP"), (3, 5, "NP")]),
    ("Sam Houston stayed home", [(0, 2, "NP"), (2, 3, "VP"), (3, 4, "NP")]),
    ("New York loves Mr Smith", [(0, 2, "NP"), (2, 3, "VP"), (3, 5, "NP")]),
]


def pos_corpus() -> Corpus:
    def make() -> list[Sentence]:
        out = []
        for text, tags in POS:
            sentence = Sentence(text)
            for token, tag in zip(sentence, tags.split()):
                token.add_label("pos", tag)
            out.append(sentence)
        return out

    return Corpus(make() * 3, make(), make())


def span_corpus(
    rows: list[tuple[str, list[tuple[int, int, str]]]], label_type: str, copies: int = 3
) -> Corpus:
    def make() -> list[Sentence]:
        out = []
        for text, spans in rows:
            sentence = Sentence(text)
            for start, end, value in spans:
                sentence[start:end].add_label(label_type, value)
            out.append(sentence)
        return out

    return Corpus(make() * copies, make(), make())


@pytest.fixture(scope="module")
def pos_chunk_run(tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path) -> Path:
    """Example 1: one model for part-of-speech tags and chunks, trained once."""
    base = tmp_path_factory.mktemp("multitask") / "multitask_test"
    torch.manual_seed(0)
    shared_embedding = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=True)
    corpus_1 = pos_corpus()
    model_1 = TokenClassifier(
        shared_embedding, label_dictionary=corpus_1.make_label_dictionary("pos"), label_type="pos"
    )
    corpus_2 = span_corpus(CHUNKS, "np")
    model_2 = TokenClassifier(
        shared_embedding, label_dictionary=corpus_2.make_label_dictionary("np"), label_type="np"
    )
    multitask_model, multicorpus = make_multitask_model_and_corpus([(model_1, corpus_1), (model_2, corpus_2)])
    trainer = ModelTrainer(multitask_model, multicorpus)
    trainer.fine_tune(base, learning_rate=5e-3, mini_batch_size=4, max_epochs=8, **QUIET)
    return base


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_multitask_log_evaluates_each_task(pos_chunk_run: Path) -> None:
    log = (pos_chunk_run / "training.log").read_text(encoding="utf-8")
    task_line = r"^.* {} - TokenClassifier - loss: \d+\.\d+ - f1-score \(micro avg\) +\d\.\d{{4}}$"
    assert len(re.findall(task_line.format("Task_0"), log, re.M)) == 8
    assert len(re.findall(task_line.format("Task_1"), log, re.M)) == 8
    assert re.search(r"EPOCH 8 done: loss \d+\.\d{4} - lr: ", log)
    assert len(re.findall(r"DEV : loss \d+\.\d+ - f1-score \(micro avg\) +\d\.\d{4}$", log, re.M)) == 8


def test_multitask_predicts_all_tasks(pos_chunk_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = MultitaskModel.load(pos_chunk_run / "final-model.pt")
    sentence = Sentence("Mr Smith loves New York")
    model.predict(sentence)
    print(sentence)
    print("\nPart of speech tags are: ")
    for label in sentence.get_labels("pos"):
        print(f'"{label.data_point.text}" {label.value}')
    print("\nChunks are: ")
    for label in sentence.get_labels("np"):
        print(f'"{label.data_point.text}" {label.value}')
    assert printed(capsys) == [
        'Sentence[5]: "Mr Smith loves New York" → ["Mr"/NNP, "Mr Smith"/NP, "Smith"/NNP, "loves"/VBZ, '
        '"loves"/VP, "New"/NNP, "New York"/NP, "York"/NNP]',
        "",
        "Part of speech tags are: ",
        '"Mr" NNP',
        '"Smith" NNP',
        '"loves" VBZ',
        '"New" NNP',
        '"York" NNP',
        "",
        "Chunks are: ",
        '"Mr Smith" NP',
        '"loves" VP',
        '"New York" NP',
    ]


def test_classifier_load_reads_a_multitask_file(pos_chunk_run: Path) -> None:
    model = Classifier.load(pos_chunk_run / "final-model.pt")
    sentence = Sentence("Mr Smith loves New York")
    model.predict(sentence)
    assert {label.typename for label in sentence.get_labels()} == {"pos", "np"}


def test_token_and_document_task(
    tmp_path: Path, tiny_encoder_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Example 2: a TextClassifier (topics) and a TokenClassifier (entities) over one TransformerEmbeddings
    torch.manual_seed(0)
    shared_embedding = TransformerEmbeddings(
        str(tiny_encoder_dir), fine_tune=True, is_token_embedding=True, is_document_embedding=True
    )
    topics = [("IBM made a lot of profit.", "Business"), ("Bayern won the match.", "Sports")]
    train = []
    for text, topic in topics:
        sentence = Sentence(text)
        sentence.add_label("topic", topic)
        train.append(sentence)
    corpus_1 = Corpus(train * 4, train, train)
    model_1 = TextClassifier(
        shared_embedding, label_dictionary=corpus_1.make_label_dictionary("topic"), label_type="topic"
    )
    corpus_2 = span_corpus(
        [("IBM made a lot of profit.", [(0, 1, "ORG")]), ("Bayern won the match.", [])], "ner", 4
    )
    model_2 = TokenClassifier(
        shared_embedding, label_dictionary=corpus_2.make_label_dictionary("ner"), label_type="ner"
    )
    multitask_model, multicorpus = make_multitask_model_and_corpus([(model_1, corpus_1), (model_2, corpus_2)])
    ModelTrainer(multitask_model, multicorpus).fine_tune(
        tmp_path / "multitask_news_data", learning_rate=5e-3, mini_batch_size=4, max_epochs=8, **QUIET
    )
    model = MultitaskModel.load(tmp_path / "multitask_news_data" / "final-model.pt")
    sentence = Sentence("IBM made a lot of profit.")
    model.predict(sentence)
    print(sentence)
    line = printed(capsys)[0]
    assert re.fullmatch(
        r'Sentence\[7\]: "IBM made a lot of profit\." → Business ' + SCORE + r' → \["IBM"/ORG\]', line
    )


NEL = [
    ("George Washington went to Washington", [(0, 2, "George_Washington"), (4, 5, "Washington_D_C")]),
    ("Sam Houston stayed home", [(0, 2, "Sam_Houston")]),
]
CANDIDATES = {
    "George Washington": ["George_Washington"],
    "Washington": ["Washington_D_C", "George_Washington"],
    "Sam Houston": ["Sam_Houston"],
}


def test_span_classifier_with_prototypes_and_candidates(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    corpus = span_corpus(NEL, "nel")
    label_type = "nel"
    label_dict = corpus.make_label_dictionary(label_type=label_type, add_unk=True)
    embeddings = TransformerWordEmbeddings(
        model=str(tiny_encoder_dir), layers="-1", subtoken_pooling="first", fine_tune=True, use_context=True
    )
    torch.manual_seed(0)
    tagger = SpanClassifier(
        embeddings=embeddings,
        label_dictionary=label_dict,
        label_type=label_type,
        decoder=PrototypicalDecoder(
            num_prototypes=len(label_dict),
            embeddings_size=embeddings.embedding_length * 2,  # "first_last" span encoding
            distance_function="dot_product",
        ),
        candidates=CandidateGenerator(CANDIDATES),
    )
    trainer = ModelTrainer(tagger, corpus)
    trainer.fine_tune(
        tmp_path / "zelda-nel",
        learning_rate=5e-3,
        mini_batch_size=4,
        mini_batch_chunk_size=1,
        max_epochs=4,
        **QUIET,
    )
    model = SpanClassifier.load(tmp_path / "zelda-nel" / "final-model.pt")
    sentence = Sentence("Sam Houston stayed home")
    sentence[0:2].add_label("nel", "O")  # the span to classify, as the gold layer marks it in training
    model.predict(sentence)
    labels = sentence.get_labels("nel")
    assert [(label.data_point.text, label.value) for label in labels] == [("Sam Houston", "Sam_Houston")]


def create_sentence(text: str, spans: list[tuple[int, int, str, str]]) -> Sentence:
    sentence = Sentence(text)
    for start, end, ner_label, nel_label in spans:
        sentence[start : end + 1].add_label("ner", ner_label)
        sentence[start : end + 1].add_label("nel", nel_label)
    sentence.add_label("multitask_id", "Task_0")  # Task_0 for the NER model
    sentence.add_label("multitask_id", "Task_1")  # Task_1 for the NEL model
    return sentence


ALIGNED = [
    (
        "George Washington went to Washington",
        [(0, 1, "PER", "George_Washington"), (4, 4, "LOC", "Washington_D_C")],
    ),
    ("Sam Houston stayed home", [(0, 1, "PER", "Sam_Houston")]),
]


@pytest.fixture(scope="module")
def aligned_model(tmp_path_factory: pytest.TempPathFactory, tiny_encoder_dir: Path) -> Path:
    """'Multitask with aligned training data': NER and NEL heads on one corpus, use_all_tasks=True."""

    def split() -> list[Sentence]:
        return [create_sentence(text, spans) for text, spans in ALIGNED]

    corpus = Corpus(split() * 4, split(), split())
    torch.manual_seed(0)
    shared_embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=True)
    ner_model = SequenceTagger(
        embeddings=shared_embeddings,
        tag_dictionary=corpus.make_label_dictionary("ner", add_unk=False),
        tag_type="ner",
        use_rnn=False,
        use_crf=False,
        reproject_embeddings=False,
    )
    nel_label_dict = corpus.make_label_dictionary("nel", add_unk=True)
    nel_model = SpanClassifier(
        embeddings=shared_embeddings,
        label_dictionary=nel_label_dict,
        label_type="nel",
        span_label_type="ner",
        decoder=PrototypicalDecoder(
            num_prototypes=len(nel_label_dict),
            embeddings_size=shared_embeddings.embedding_length * 2,
            distance_function="dot_product",
        ),
        candidates=CandidateGenerator(CANDIDATES),
    )
    multitask_model = MultitaskModel([ner_model, nel_model], use_all_tasks=True)
    base = tmp_path_factory.mktemp("aligned") / "zelda_with_mention"
    ModelTrainer(multitask_model, corpus).fine_tune(
        base, learning_rate=5e-3, mini_batch_size=4, max_epochs=8, **QUIET
    )
    return base / "final-model.pt"


def test_aligned_model_tags_and_links_given_mentions(aligned_model: Path) -> None:
    model = MultitaskModel.load(aligned_model)
    sentence = Sentence("Sam Houston stayed home")
    sentence[0:2].add_label("ner", "PER")  # a mention found before: the NEL head links it
    model.predict(sentence)
    assert [(label.data_point.text, label.value) for label in sentence.get_labels("ner")] == [
        ("Sam Houston", "PER")
    ]
    assert [(label.data_point.text, label.value) for label in sentence.get_labels("nel")] == [
        ("Sam Houston", "Sam_Houston")
    ]


def test_aligned_model_links_its_own_mentions_in_one_call(aligned_model: Path) -> None:
    model = MultitaskModel.load(aligned_model)
    sentence = Sentence("Sam Houston stayed home")
    model.predict(sentence)
    assert [(label.data_point.text, label.value) for label in sentence.get_labels("nel")] == [
        ("Sam Houston", "Sam_Houston")
    ]
