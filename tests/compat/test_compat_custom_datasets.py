"""Flair's custom-dataset tutorial (tutorial-training/how-to-load-custom-dataset.md) and the data parts of
the span-classifier tutorial: ColumnCorpus, CSVClassificationCorpus, ClassificationCorpus (fastText format),
a corpus built in memory with FlairDatapointDataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytag.data import Corpus, Sentence
from polytag.datasets import (
    ClassificationCorpus,
    ColumnCorpus,
    CSVClassificationCorpus,
    FlairDatapointDataset,
)

NER_COLUMNS = (
    "George N B-PER\nWashington N I-PER\nwent V O\nto P O\nWashington N B-LOC\n\n"
    "Sam N B-PER\nHouston N I-PER\nstayed V O\nhome N O\n\n"
)
NEL_COLUMNS = (
    "George B-George_Washington\nWashington I-George_Washington\n"
    "went O\nto O\nWashington B-Washington_D_C\n\n"
    "Sam B-Sam_Houston\nHouston I-Sam_Houston\nstayed O\nhome O\n\n"
)


def write_splits(folder: Path, text: str, suffix: str = ".txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev", "test"):
        (folder / f"{split}{suffix}").write_text(text, encoding="utf-8")
    return folder


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_column_corpus_with_named_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_folder = write_splits(tmp_path / "data", NER_COLUMNS)
    columns = {0: "text", 1: "pos", 2: "ner"}
    corpus: Corpus = ColumnCorpus(
        data_folder, columns, train_file="train.txt", test_file="test.txt", dev_file="dev.txt"
    )
    print(len(corpus.train))
    print(corpus.train[0].to_tagged_string("ner"))
    print(corpus.train[1].to_tagged_string("pos"))
    # Flair 0.15.1 prints BIO columns as spans (the docs' '<B-PER>' printout is from older versions)
    assert printed(capsys) == [
        "2",
        'Sentence[5]: "George Washington went to Washington" → ["George Washington"/PER, "Washington"/LOC]',
        'Sentence[4]: "Sam Houston stayed home" → ["Sam"/N, "Houston"/N, "stayed"/V, "home"/N]',
    ]


def test_column_corpus_finds_its_splits(tmp_path: Path) -> None:
    data_folder = write_splits(tmp_path / "data", NER_COLUMNS)
    corpus = ColumnCorpus(data_folder, {0: "text", 1: "pos", 2: "ner"})
    assert str(corpus) == "Corpus: 2 train + 2 dev + 2 test sentences"
    assert sorted(corpus.make_label_dictionary("ner").get_items()) == ["LOC", "PER"]


def test_column_corpus_for_entity_linking(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_folder = write_splits(tmp_path / "nel", NEL_COLUMNS)
    columns = {0: "text", 1: "nel"}
    corpus: Corpus = ColumnCorpus(data_folder, columns)
    print(corpus.train[0].to_tagged_string("nel"))
    print(corpus.train[1].to_tagged_string("nel"))
    assert printed(capsys) == [
        'Sentence[5]: "George Washington went to Washington" → '
        '["George Washington"/George_Washington, "Washington"/Washington_D_C]',
        'Sentence[4]: "Sam Houston stayed home" → ["Sam Houston"/Sam_Houston]',
    ]


def test_column_corpus_missing_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        ColumnCorpus(tmp_path / "nowhere", {0: "text", 1: "ner"})


CSV_ROWS = (
    "id\ttopic\tsubtopic\tsource\ttext\n"
    "1\tsports\tfootball\tweb\tBayern played against Barcelona.\n"
    "2\tpolitics\telection\tweb\tThe vote was close.\n"
)


def test_csv_classification_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_folder = write_splits(tmp_path / "csv", CSV_ROWS, suffix=".csv")
    column_name_map = {4: "text", 1: "label_topic", 2: "label_subtopic"}
    corpus: Corpus = CSVClassificationCorpus(data_folder, column_name_map, skip_header=True, delimiter="\t")
    print(corpus)
    print(corpus.train[0])
    assert printed(capsys) == [
        "Corpus: 2 train + 2 dev + 2 test sentences",
        'Sentence[5]: "Bayern played against Barcelona." → sports (1.0); football (1.0)',
    ]


@pytest.mark.xfail(
    strict=True, reason="'label_<name>' CSV columns become layer <name>; Flair files all under 'class'"
)
def test_csv_label_columns_share_the_label_type(tmp_path: Path) -> None:
    data_folder = write_splits(tmp_path / "csv", CSV_ROWS, suffix=".csv")
    column_name_map = {4: "text", 1: "label_topic", 2: "label_subtopic"}
    corpus = CSVClassificationCorpus(data_folder, column_name_map, skip_header=True, delimiter="\t")
    assert [label.value for label in corpus.train[1].get_labels("class")] == ["politics", "election"]


def test_csv_label_columns_as_polytag_files_them(tmp_path: Path) -> None:
    data_folder = write_splits(tmp_path / "csv", CSV_ROWS, suffix=".csv")
    column_name_map = {4: "text", 1: "label_topic", 2: "label_subtopic"}
    corpus = CSVClassificationCorpus(data_folder, column_name_map, skip_header=True, delimiter="\t")
    assert [label.value for label in corpus.train[1].get_labels("topic")] == ["politics"]
    assert sorted(corpus.make_label_dictionary("subtopic").get_items()) == ["election", "football"]


FASTTEXT = (
    "__label__sports Bayern played against Barcelona .\n"
    "__label__politics __label__economy The budget vote was close .\n"
)


def test_classification_corpus_with_named_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data_folder = write_splits(tmp_path / "imdb", FASTTEXT)
    corpus: Corpus = ClassificationCorpus(
        data_folder, test_file="test.txt", dev_file="dev.txt", train_file="train.txt", label_type="topic"
    )
    print(corpus.train[0])
    assert printed(capsys) == ['Sentence[5]: "Bayern played against Barcelona ." → sports (1.0)']
    assert [label.value for label in corpus.train[1].get_labels("topic")] == ["politics", "economy"]


def test_classification_corpus_finds_its_splits(tmp_path: Path) -> None:
    data_folder = write_splits(tmp_path / "topics", FASTTEXT)
    corpus: Corpus = ClassificationCorpus(data_folder, label_type="topic")
    assert str(corpus) == "Corpus: 2 train + 2 dev + 2 test sentences"
    label_dictionary = corpus.make_label_dictionary(label_type="topic")
    assert sorted(label_dictionary.get_items()) == ["economy", "politics", "sports"]
    assert (
        label_dictionary.multi_label
    )  # a line with two labels makes the dictionary multi-label, as in Flair


def create_sentence(datapoint: dict) -> Sentence:
    sentence = Sentence(datapoint["tokens"])
    for start, end, label in datapoint["spans"]:
        sentence[start : end + 1].add_label("nel", label)
    return sentence


def test_corpus_built_in_memory(capsys: pytest.CaptureFixture[str]) -> None:
    data = {
        "train": [
            {"tokens": ["George", "Washington", "went", "home"], "spans": [(0, 1, "George_Washington")]}
        ]
        * 3,
        "dev": [{"tokens": ["Sam", "Houston", "stayed"], "spans": [(0, 1, "Sam_Houston")]}],
        "test": [{"tokens": ["Washington", "is", "big"], "spans": [(0, 0, "Washington_D_C")]}],
    }
    corpus = Corpus(
        train=FlairDatapointDataset([create_sentence(d) for d in data["train"]]),
        dev=FlairDatapointDataset([create_sentence(d) for d in data["dev"]]),
        test=FlairDatapointDataset([create_sentence(d) for d in data["test"]]),
    )
    print(corpus)
    print(corpus.test[0])
    assert printed(capsys) == [
        "Corpus: 3 train + 1 dev + 1 test sentences",
        'Sentence[3]: "Washington is big" → ["Washington"/Washington_D_C]',
    ]
    assert corpus.make_label_dictionary("nel", add_unk=True).get_items() == ["<unk>", "George_Washington"]
