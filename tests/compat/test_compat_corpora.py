"""Flair's corpus tutorial shapes for TREC_6, WNUT_17, UD_GERMAN and IMDB, on small local files."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytag.datasets import IMDB, TREC_6, UD_GERMAN, WNUT_17


@pytest.fixture()
def datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    monkeypatch.setenv("POLYTAG_OFFLINE", "1")
    return tmp_path


def put(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_trec_6_tutorial(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put(
        datasets / "trec_6" / "train.txt",
        "__label__DESC How did serfdom develop in and then leave Russia ?\n" * 10,
    )
    put(datasets / "trec_6" / "test.txt", "__label__NUM How far is it from Denver to Aspen ?\n" * 2)
    corpus = TREC_6()
    print(corpus)
    print(corpus.test[0])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "Corpus: 9 train + 1 dev + 2 test sentences",
        'Sentence[9]: "How far is it from Denver to Aspen ?" → NUM (1.0)',
    ]
    label_dict = corpus.make_label_dictionary(label_type="question_class")
    assert label_dict.get_items() == ["DESC"]


def test_wnut_17_tutorial(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    block = "I\tO\nsaw\tO\nStar\tB-creative-work\nWars\tI-creative-work\n\n"
    for name in ("wnut17train.conll", "emerging.dev.conll", "emerging.test.annotated"):
        put(datasets / "wnut_17" / name, block)
    corpus = WNUT_17()
    print(corpus.train[0])
    assert capsys.readouterr().out.strip() == 'Sentence[4]: "I saw Star Wars" → ["Star Wars"/creative-work]'


def test_ud_german_tutorial(datasets: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conllu = "1\tIch\tich\tPRON\tPPER\t_\t2\tnsubj\t_\t_\n2\tlache\tlachen\tVERB\tVVFIN\t_\t0\troot\t_\t_\n\n"
    for split in ("train", "dev", "test"):
        put(datasets / "ud_german" / f"de_gsd-ud-{split}.conllu", conllu)
    corpus = UD_GERMAN()
    print(corpus)
    print(corpus.test[0].to_tagged_string("upos"))
    assert capsys.readouterr().out.splitlines() == [
        "Corpus: 1 train + 1 dev + 1 test sentences",
        'Sentence[2]: "Ich lache" → ["Ich"/PRON, "lache"/VERB]',
    ]


def test_imdb_tutorial(datasets: Path) -> None:
    lines = "".join(f"__label__{'POSITIVE' if i % 2 else 'NEGATIVE'} Movie {i} .\n" for i in range(20))
    put(datasets / "imdb_v4-rebalanced" / "train-all.txt", lines)
    corpus = IMDB()
    assert str(corpus) == "Corpus: 16 train + 2 dev + 2 test sentences"
    assert sorted(corpus.make_label_dictionary("sentiment").get_items()) == ["NEGATIVE", "POSITIVE"]
