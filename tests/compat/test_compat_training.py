"""Flair's training tutorials (tutorial-training: how-model-training-works, how-to-load-prepared-dataset,
how-to-train-sequence-tagger, how-to-train-text-classifier) on small corpora written to a tmp folder.

Hub embeddings are replaced by the tiny encoder (tests/conftest.py) or by a local GloVe-format file;
epochs are cut to one or two, so the tests check the shape of each step, not the scores.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from polytag.data import Corpus, MultiCorpus, Sentence
from polytag.datasets import CONLL_03, TREC_6, UD_ENGLISH, UD_GERMAN
from polytag.embeddings import TransformerDocumentEmbeddings, TransformerWordEmbeddings, WordEmbeddings
from polytag.models import SequenceTagger, TextClassifier
from polytag.trainers import ModelTrainer

QUIET = {"progress_bar": False, "plot_training_curves": False, "seed": 1}
SPLIT_SIZES = {"train": 40, "dev": 10, "test": 10}


def first_blocks(path: Path, count: int) -> str:
    return "\n\n".join(path.read_text(encoding="utf-8").split("\n\n")[:count]) + "\n\n"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Iterator[Path]:
    """$POLYTAG_DATASETS with 40/10/10-sentence cuts of EWT (as ud_english and ud_german), CoNLL-03, TREC."""
    root = tmp_path_factory.mktemp("datasets")
    ewt = shared_datasets / "ud_english"
    for split, count in SPLIT_SIZES.items():
        text = first_blocks(ewt / f"en_ewt-ud-{split}.conllu", count)
        for folder, name in (("ud_english", "en_ewt"), ("ud_german", "de_gsd")):
            (root / folder).mkdir(exist_ok=True)
            (root / folder / f"{name}-ud-{split}.conllu").write_text(text, encoding="utf-8")
    (root / "conll_03").mkdir()
    for split in ("train", "dev", "test"):
        text = first_blocks(shared_datasets / "conll_03" / f"{split}.txt", 12)
        (root / "conll_03" / f"{split}.txt").write_text(text, encoding="utf-8")
    (root / "trec_6").mkdir()
    questions = [
        ("HUM", "Who built the Eiffel Tower ?"),
        ("LOC", "Where is the Eiffel Tower ?"),
        ("NUM", "How far is it from Denver to Aspen ?"),
        ("DESC", "What is a tower ?"),
    ]
    rows = "".join(f"__label__{label} {text}\n" for label, text in questions)
    (root / "trec_6" / "train.txt").write_text(rows * 5, encoding="utf-8")
    (root / "trec_6" / "test.txt").write_text(rows, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLYTAG_DATASETS", str(root))
        patch.setenv("POLYTAG_OFFLINE", "1")
        yield root


@pytest.fixture()
def glove_file(tmp_path: Path) -> Path:
    words = ["the", "i", "love", "berlin", "what", "if", "google", ".", "?", ","]
    rows = [
        w + " " + " ".join(f"{(i + 1) * 0.01 + j * 0.001:.4f}" for j in range(20))
        for i, w in enumerate(words)
    ]
    path = tmp_path / "glove.6B.20d.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def upos_counts(datasets: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in (datasets / "ud_english" / "en_ewt-ud-train.conllu").read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) == 10 and cols[0].isdigit():
            counts[cols[3]] += 1
    return counts


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_corpus_split_sizes(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = UD_ENGLISH()
    print(len(corpus.train))
    print(len(corpus.test))
    print(len(corpus.dev))
    assert printed(capsys) == ["40", "10", "10"]


def test_first_test_sentence_with_pos_tags(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = UD_ENGLISH()
    sentence = corpus.test[0]
    print(sentence.to_tagged_string("pos"))
    assert printed(capsys) == [
        'Sentence[7]: "What if Google Morphed Into GoogleOS?" → '
        '["What"/WP, "if"/IN, "Google"/NNP, "Morphed"/VBD, "Into"/IN, "GoogleOS"/NNP, "?"/.]'
    ]


def test_downsample_prints_smaller_corpus(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = UD_ENGLISH()
    downsampled_corpus = UD_ENGLISH().downsample(0.1)
    print("--- 1 Original ---")
    print(corpus)
    print("--- 2 Downsampled ---")
    print(downsampled_corpus)
    assert printed(capsys) == [
        "--- 1 Original ---",
        "Corpus: 40 train + 10 dev + 10 test sentences",
        "--- 2 Downsampled ---",
        "Corpus: 4 train + 1 dev + 1 test sentences",
    ]


def test_upos_label_dictionary(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    upos_dictionary = UD_ENGLISH().make_label_dictionary(label_type="upos")
    print(upos_dictionary)
    counts = upos_counts(datasets)
    line = printed(capsys)[0]
    head, tags = line.split(": ", 1)
    assert head == f"Dictionary with {len(counts)} tags"  # no <unk>: Flair's add_unk defaults to False
    assert sorted(tags.split(", ")) == sorted(counts)
    assert tags.split(", ")[0] == counts.most_common(1)[0][0]  # most frequent first


def test_label_dictionary_with_unk(datasets: Path) -> None:
    label_dict = UD_ENGLISH().make_label_dictionary(label_type="upos", add_unk=True)
    assert str(label_dict).startswith(f"Dictionary with {len(upos_counts(datasets)) + 1} tags: <unk>, ")


def test_unknown_label_type_names_the_present_ones(datasets: Path) -> None:
    with pytest.raises(ValueError, match="abcd") as caught:
        UD_ENGLISH().make_label_dictionary(label_type="abcd")
    assert "upos" in str(caught.value) and "pos" in str(caught.value)


def test_pos_dictionary(datasets: Path) -> None:
    pos_dictionary = UD_ENGLISH().make_label_dictionary(label_type="pos")
    assert "NNP" in pos_dictionary.get_items() and "<unk>" not in pos_dictionary.get_items()


def test_morphological_number_dictionary(datasets: Path) -> None:
    number_dictionary = UD_ENGLISH().make_label_dictionary(label_type="number")
    # UD's values of Number; the cut of EWT here may or may not hold a plurale tantum ("Ptan")
    assert {"Plur", "Sing"} <= set(number_dictionary.get_items()) <= {"Plur", "Sing", "Ptan"}


def test_multi_corpus_of_treebanks(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    multi_corpus = MultiCorpus([UD_ENGLISH(), UD_GERMAN()])
    print(multi_corpus)
    assert printed(capsys) == [
        "MultiCorpus: 80 train + 20 dev + 20 test sentences",
        " - Corpus: 40 train + 10 dev + 10 test sentences",
        " - Corpus: 40 train + 10 dev + 10 test sentences",
    ]
    assert isinstance(multi_corpus, Corpus)
    assert len(multi_corpus.downsample(0.1).train) == 8


def test_train_pos_tagger_on_word_embeddings(datasets: Path, glove_file: Path, tmp_path: Path) -> None:
    corpus = UD_ENGLISH().downsample(0.1)
    label_dict = corpus.make_label_dictionary(label_type="upos")
    model = SequenceTagger(
        hidden_size=16, embeddings=WordEmbeddings(str(glove_file)), tag_dictionary=label_dict, tag_type="upos"
    )
    ModelTrainer(model, corpus).train(
        tmp_path / "example-upos", learning_rate=0.1, mini_batch_size=32, max_epochs=1, **QUIET
    )
    assert (tmp_path / "example-upos" / "final-model.pt").is_file()


def test_train_pos_tagger_log_report_and_reload(
    datasets: Path, tiny_encoder_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = UD_ENGLISH()
    label_type = "upos"
    label_dict = corpus.make_label_dictionary(label_type=label_type)
    torch.manual_seed(0)
    model = SequenceTagger(
        hidden_size=16,
        embeddings=TransformerWordEmbeddings(str(tiny_encoder_dir), fine_tune=False),
        tag_dictionary=label_dict,
        tag_type=label_type,
    )
    trainer = ModelTrainer(model, corpus)
    trainer.train(tmp_path / "example-upos", learning_rate=0.1, mini_batch_size=32, max_epochs=2, **QUIET)
    log = (tmp_path / "example-upos" / "training.log").read_text(encoding="utf-8")
    assert f'Model training base path: "{tmp_path / "example-upos"}"' in log
    assert re.search(r"epoch 1 - iter 2/2 - loss \d+\.\d{8} - time \(sec\): \d+\.\d\d - samples/sec: ", log)
    assert re.search(r"EPOCH 2 done: loss \d+\.\d{4} - lr: 0\.100000$", log, re.M)
    assert re.search(r"DEV : loss \d+\.\d+ - f1-score \(micro avg\)  ?\d\.\d{4}$", log, re.M)
    assert re.search(
        r"^Results( \(\d+ [a-z ]+\))?:\n- F-score \(micro\) \d\.\d{4}\n"
        r"- F-score \(macro\) \d\.\d{4}\n- Accuracy",
        log,
        re.M,
    )
    assert re.search(r"^By class:\n +precision +recall +f1-score +support$", log, re.M)

    model = SequenceTagger.load(tmp_path / "example-upos" / "final-model.pt")
    sentence = Sentence("I love Berlin")
    model.predict(sentence)
    capsys.readouterr()
    print(sentence.to_tagged_string())
    assert re.fullmatch(
        r'Sentence\[3\]: "I love Berlin" → \["I"/\w+, "love"/\w+, "Berlin"/\w+\]\n', capsys.readouterr().out
    )


def test_fine_tune_flert_ner_tagger(
    datasets: Path, tiny_encoder_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = CONLL_03()
    print(corpus)
    label_dict = corpus.make_label_dictionary(label_type="ner", add_unk=False)
    print(label_dict)
    lines = printed(capsys)
    assert re.fullmatch(r"Corpus: \d+ train \+ \d+ dev \+ \d+ test sentences", lines[0])
    assert re.fullmatch(r"Dictionary with \d tags: (LOC|PER|ORG|MISC)(, (LOC|PER|ORG|MISC))*", lines[1])
    embeddings = TransformerWordEmbeddings(
        model=str(tiny_encoder_dir), layers="-1", subtoken_pooling="first", fine_tune=True, use_context=True
    )
    tagger = SequenceTagger(
        hidden_size=256,
        embeddings=embeddings,
        tag_dictionary=label_dict,
        tag_type="ner",
        use_crf=False,
        use_rnn=False,
        reproject_embeddings=False,
    )
    trainer = ModelTrainer(tagger, corpus)
    result = trainer.fine_tune(
        tmp_path / "sota-ner-flert",
        learning_rate=5.0e-6,
        mini_batch_size=4,
        mini_batch_chunk_size=1,
        max_epochs=1,
        **QUIET,
    )
    assert (tmp_path / "sota-ner-flert" / "final-model.pt").is_file()
    assert not (tmp_path / "sota-ner-flert" / "best-model.pt").exists()  # fine_tune keeps the final model
    assert len(result["train_loss_history"]) == 1 and 0.0 <= result["test_score"] <= 1.0


def test_train_text_classifier_and_predict(datasets: Path, tiny_encoder_dir: Path, tmp_path: Path) -> None:
    corpus: Corpus = TREC_6()
    label_type = "question_class"
    label_dict = corpus.make_label_dictionary(label_type=label_type)
    assert sorted(label_dict.get_items()) == ["DESC", "HUM", "LOC", "NUM"]
    torch.manual_seed(0)
    document_embeddings = TransformerDocumentEmbeddings(str(tiny_encoder_dir), fine_tune=True)
    classifier = TextClassifier(document_embeddings, label_dictionary=label_dict, label_type=label_type)
    trainer = ModelTrainer(classifier, corpus)
    base = tmp_path / "question-classification-with-transformer"
    trainer.fine_tune(base, learning_rate=5.0e-3, mini_batch_size=4, max_epochs=6, **QUIET)

    classifier = TextClassifier.load(base / "final-model.pt")
    sentence = Sentence("Who built the Eiffel Tower ?")
    classifier.predict(sentence)
    assert len(sentence.labels) == 1
    assert re.fullmatch(
        r"\['Sentence\[6\]: \"Who built the Eiffel Tower \?\"'/'HUM' \(\d\.\d{1,4}\)\]", str(sentence.labels)
    )


def test_train_and_fine_tune_pick_their_optimizers(
    datasets: Path, tiny_encoder_dir: Path, tmp_path: Path
) -> None:
    # train-vs-fine-tune.md: train() is SGD with annealing, fine_tune() AdamW with a linear schedule
    corpus = TREC_6().downsample(0.5)
    for method, expected in (("train", "SGD"), ("fine_tune", "AdamW")):
        classifier = TextClassifier(
            TransformerDocumentEmbeddings(str(tiny_encoder_dir), fine_tune=True),
            label_dictionary=corpus.make_label_dictionary(label_type="question_class"),
            label_type="question_class",
        )
        getattr(ModelTrainer(classifier, corpus), method)(
            tmp_path / method, max_epochs=1, learning_rate=0.01, **QUIET
        )
        log = (tmp_path / method / "training.log").read_text(encoding="utf-8")
        assert re.search(rf"optimizer: \"[\w.]*\b{expected}\"", log), f"{method}: no '{expected}' in the log"
