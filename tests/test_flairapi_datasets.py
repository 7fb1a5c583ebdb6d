"""TREC_6 / TREC_50, IMDB, WNUT_17 and UD_<language>: local files in Flair's layout, offline."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from polytag.datasets import IMDB, TREC_6, TREC_50, UD_DUTCH, UD_GERMAN, WNUT_17
from polytag.datasets.imdb import convert_imdb
from polytag.datasets.trec import convert_trec
from polytag.datasets.ud_languages import UD_LANGUAGE_CORPORA
from polytag.errors import DatasetNotFoundError, FormatError


@pytest.fixture()
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    monkeypatch.setenv("POLYTAG_OFFLINE", "1")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


TREC_TRAIN = "".join(
    f"__label__{c} What is question number {i} ?\n" for i, c in enumerate(["NUM", "LOC"] * 10)
)


def test_trec_6_reads_flairs_layout(root: Path) -> None:
    write(root / "trec_6" / "train.txt", TREC_TRAIN)
    write(root / "trec_6" / "test.txt", "__label__HUM Who wrote Hamlet ?\n")
    corpus = TREC_6()
    assert len(corpus.train) + len(corpus.dev) == 20 and len(corpus.test) == 1
    question = corpus.test[0]
    assert question.get_label("question_class").value == "HUM"
    assert [t.text for t in question] == ["Who", "wrote", "Hamlet", "?"]
    assert sorted(corpus.make_label_dictionary("question_class").get_items()) == ["LOC", "NUM"]


def test_trec_missing_files_are_named_with_their_source(root: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        TREC_6()
    message = str(info.value)
    assert str(root / "trec_6" / "train.txt") in message and "TREC_10.label" in message


def test_trec_conversion_keeps_coarse_or_fine_classes(tmp_path: Path) -> None:
    source = tmp_path / "train_5500.label"
    source.write_bytes(
        "NUM:dist How far is it from Denver to Aspen ?\nHUM:ind Who is Caf\xe9 ?\n".encode("latin-1")
    )
    assert convert_trec(source, tmp_path / "coarse.txt", fine=False) == 2
    assert (tmp_path / "coarse.txt").read_text(encoding="utf-8").splitlines() == [
        "__label__NUM How far is it from Denver to Aspen ?",
        "__label__HUM Who is Café ?",
    ]
    convert_trec(source, tmp_path / "fine.txt", fine=True)
    assert (tmp_path / "fine.txt").read_text(encoding="utf-8").startswith("__label__NUM:dist How")
    source.write_text("no label here\n", encoding="latin-1")
    with pytest.raises(FormatError, match="line 1: expected 'COARSE:fine question'"):
        convert_trec(source, tmp_path / "bad.txt", fine=False)


def test_trec_50_has_its_own_folder(root: Path) -> None:
    write(root / "trec_50" / "train.txt", TREC_TRAIN.replace("NUM", "NUM:dist"))
    write(root / "trec_50" / "test.txt", "__label__HUM:ind Who wrote Hamlet ?\n")
    assert TREC_50().test[0].get_label("question_class").value == "HUM:ind"


def _imdb_archive(path: Path) -> Path:
    reviews = {
        "aclImdb/train/pos/0_9.txt": "Great film.<br /><br />Loved it!",
        "aclImdb/train/neg/1_2.txt": "Dull\nand long.",
        "aclImdb/test/pos/2_8.txt": "Fine acting.",
        "aclImdb/train/unsup/3_0.txt": "ignored",
        "aclImdb/README": "ignored",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_imdb_conversion_writes_one_line_a_review(tmp_path: Path) -> None:
    archive = _imdb_archive(tmp_path / "aclImdb_v1.tar.gz")
    assert convert_imdb(archive, tmp_path, split_files=False) == 3
    lines = sorted((tmp_path / "train-all.txt").read_text(encoding="utf-8").splitlines())
    assert lines == [
        "__label__NEGATIVE Dull and long.",
        "__label__POSITIVE Fine acting.",
        "__label__POSITIVE Great film.<br /><br />Loved it!",
    ]
    convert_imdb(archive, tmp_path, split_files=True)
    assert (tmp_path / "test.txt").read_text(encoding="utf-8") == "__label__POSITIVE Fine acting.\n"


def test_imdb_reads_the_rebalanced_file_with_segtok(root: Path) -> None:
    lines = [f"__label__{'POSITIVE' if i % 2 else 'NEGATIVE'} Review {i} wasn't bad." for i in range(30)]
    write(root / "imdb_v4-rebalanced" / "train-all.txt", "\n".join(lines) + "\n")
    corpus = IMDB()
    assert len(corpus.train) + len(corpus.dev) + len(corpus.test) == 30
    assert len(corpus.test) > 0 and len(corpus.dev) > 0  # sampled from the one file, as in Flair
    sentence = corpus.train[0]
    assert sentence.get_label("sentiment").value in ("POSITIVE", "NEGATIVE")
    assert "n't" in [t.text for t in sentence]


def test_imdb_official_split_without_rebalancing(root: Path) -> None:
    write(root / "imdb_v4" / "train.txt", "__label__POSITIVE Good .\n__label__NEGATIVE Bad .\n" * 5)
    write(root / "imdb_v4" / "test.txt", "__label__POSITIVE Fine .\n")
    corpus = IMDB(rebalance_corpus=False, tokenizer=False)
    assert len(corpus.test) == 1 and corpus.test[0].get_label("sentiment").value == "POSITIVE"


def test_imdb_missing_file_is_named(root: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="train-all.txt"):
        IMDB()


WNUT_TRAIN = "@paul\tO\nloves\tO\nStar\tB-creative-work\nWars\tI-creative-work\nin\tO\nParis\tB-location\n\n"


def test_wnut_17_reads_hyphenated_entity_types(root: Path) -> None:
    folder = root / "wnut_17"
    write(folder / "wnut17train.conll", WNUT_TRAIN * 2)
    write(folder / "emerging.dev.conll", WNUT_TRAIN)
    write(folder / "emerging.test.annotated", "Apple\tB-corporation\nrocks\tO\n\n")
    corpus = WNUT_17()
    assert (len(corpus.train), len(corpus.dev), len(corpus.test)) == (2, 1, 1)
    spans = [(s.text, s.tag) for s in corpus.train[0].get_spans("ner")]
    assert spans == [("Star Wars", "creative-work"), ("Paris", "location")]
    assert corpus.test[0].get_spans("ner")[0].tag == "corporation"


def test_wnut_17_missing_files_name_the_download(root: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="noisy-text.github.io/2017/files/emerging.dev.conll"):
        WNUT_17()


CONLLU = (
    "# text = Ich sehe dich.\n"
    "1\tIch\tich\tPRON\tPPER\t_\t2\tnsubj\t_\t_\n"
    "2\tsehe\tsehen\tVERB\tVVFIN\t_\t0\troot\t_\t_\n"
    "3\tdich\tdu\tPRON\tPPER\t_\t2\tobj\t_\tSpaceAfter=No\n"
    "4\t.\t.\tPUNCT\t$.\t_\t2\tpunct\t_\t_\n\n"
)


@pytest.mark.parametrize(
    ("corpus", "folder", "prefix"), [(UD_GERMAN, "ud_german", "de_gsd"), (UD_DUTCH, "ud_dutch", "nl_alpino")]
)
def test_ud_languages_read_the_official_file_names(root: Path, corpus, folder: str, prefix: str) -> None:
    for split in ("train", "dev", "test"):
        write(root / folder / f"{prefix}-ud-{split}.conllu", CONLLU * (2 if split == "train" else 1))
    loaded = corpus()
    assert (len(loaded.train), len(loaded.dev), len(loaded.test)) == (2, 1, 1)
    sentence = loaded.test[0]
    assert [t.get_label("upos").value for t in sentence] == ["PRON", "VERB", "PRON", "PUNCT"]
    assert sentence.to_original_text() == "Ich sehe dich."


def test_ud_missing_treebank_names_the_repository(root: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        UD_DUTCH()
    message = str(info.value)
    assert "nl_alpino-ud-train.conllu" in message and "UD_Dutch-Alpino/master/" in message


def test_every_ud_language_class_has_a_treebank() -> None:
    assert len(UD_LANGUAGE_CORPORA) >= 19
    for cls in UD_LANGUAGE_CORPORA:
        assert cls.FOLDER == cls.__name__.lower()
        assert cls.REPOSITORY.startswith("UD_") and "_" in cls.PREFIX
