"""A corpus that cannot be trained on is a one-line polytag error naming its file (issue 14, point 11):
an empty train split, and a fastText file without labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytag.cli.main import main
from polytag.data import Corpus, Sentence, SentenceDataset
from polytag.data.corpus import CorpusError, split_source
from polytag.datasets import ClassificationCorpus
from polytag.errors import PolytagError
from polytag.trainers import ModelTrainer
from tests.test_cli_support import one_torch_thread
from tests.test_trainer_support import TinyTagger

UNLABELLED = "the team won the match\nthe minister passed a law\n"
LABELLED = "__label__sports the team won\n__label__politics a law passed\n"


def fasttext_folder(folder: Path, train: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text(train, encoding="utf-8")
    (folder / "dev.txt").write_text(LABELLED, encoding="utf-8")
    (folder / "test.txt").write_text(LABELLED, encoding="utf-8")
    return folder


def test_fasttext_file_without_labels_names_the_file(tmp_path):
    corpus = ClassificationCorpus(fasttext_folder(tmp_path / "ft", UNLABELLED))
    with pytest.raises(CorpusError) as error:
        corpus.make_label_dictionary("class")
    message = str(error.value)
    assert message.startswith(str(tmp_path / "ft" / "train.txt") + ": no label of type 'class'")
    assert isinstance(error.value, PolytagError) and isinstance(error.value, ValueError)  # Flair code


def test_empty_train_file_names_the_file(tmp_path):
    corpus = ClassificationCorpus(fasttext_folder(tmp_path / "ft", ""))
    with pytest.raises(CorpusError, match=r"train\.txt: the train split has no sentences"):
        corpus.make_label_dictionary("class")


def test_the_trainer_refuses_an_empty_train_split_naming_its_file(tmp_path):
    dev = [Sentence("w1 w2")]
    corpus = Corpus(SentenceDataset([], source="data/train.txt"), dev, dev)
    with pytest.raises(CorpusError, match=r"^data/train\.txt: the train split has no sentences"):
        ModelTrainer(TinyTagger(), corpus).fine_tune(tmp_path, max_epochs=1, progress_bar=False)
    unnamed = Corpus([], dev, dev, name="mine")
    with pytest.raises(CorpusError, match=r"^corpus 'mine' \(train split\): the train split has no"):
        unnamed.make_label_dictionary("pos")


def test_split_source_looks_through_views():
    data = SentenceDataset([Sentence("a")], source="x/train.txt")
    corpus = Corpus(data, name="c")  # dev and test are sampled: subsets of the same file
    assert split_source(corpus.train) == "x/train.txt" == split_source(corpus.dev)
    assert split_source(SentenceDataset([])) is None


CONFIG = """\
encoder: {{model: {encoder}}}
tasks:
  - {{id: topic, head: text, label_type: class, corpus: {{type: fasttext, train: {train}}}}}
trainer: {{max_epochs: 1, progress_bar: false, plot_training_curves: false}}
"""


@pytest.mark.parametrize(
    ("train", "expected"),
    [(UNLABELLED, "no label of type 'class'"), ("", "the train split has no sentences")],
)
def test_cli_prints_a_one_line_error(tiny_encoder_dir, tmp_path, capsys, train, expected):
    folder = fasttext_folder(tmp_path / "ft", train)
    config = tmp_path / "ft.yaml"
    config.write_text(CONFIG.format(encoder=tiny_encoder_dir, train=folder / "train.txt"), encoding="utf-8")
    with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
        main(["train", str(config), "-o", str(tmp_path / "out"), "-q"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith(f"polytag: error: {folder / 'train.txt'}: {expected}")
