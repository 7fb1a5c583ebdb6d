"""The named corpora on the real shared files: split sizes and label counts from the shared README.

Skipped (with the reason) when the shared datasets folder is absent. Each corpus is read once per
module; the whole file takes about 20 s on two CPU cores.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from polytag.data import Corpus
from polytag.datasets import AGNEWS, AIDA_NEL, CONLL_03, CONLL_2000, UD_ENGLISH, ZELDA, load_candidate_table


@pytest.fixture(scope="module", autouse=True)
def _offline() -> None:
    """A missing shared file must fail the test, never start a download."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POLYTAG_OFFLINE", "1")
        yield


def label_counts(dataset, layer: str) -> Counter:
    return Counter(label.value for sentence in dataset for label in sentence.get_labels(layer))


def documents(dataset) -> int:
    return len({sentence.document_id for sentence in dataset})


def tokens(dataset) -> int:
    return sum(len(sentence) for sentence in dataset)


def sizes(corpus: Corpus) -> tuple[int, int, int]:
    return len(corpus.train), len(corpus.dev), len(corpus.test)


@pytest.fixture(scope="module")
def ud(shared_datasets: Path) -> UD_ENGLISH:
    return UD_ENGLISH(base_path=shared_datasets)


@pytest.fixture(scope="module")
def conll2000(shared_datasets: Path) -> CONLL_2000:
    return CONLL_2000(base_path=shared_datasets)


@pytest.fixture(scope="module")
def conll03(shared_datasets: Path) -> CONLL_03:
    return CONLL_03(base_path=shared_datasets)


@pytest.fixture(scope="module")
def agnews(shared_datasets: Path) -> AGNEWS:
    return AGNEWS(base_path=shared_datasets)


@pytest.fixture(scope="module")
def aida(shared_datasets: Path) -> AIDA_NEL:
    return AIDA_NEL(base_path=shared_datasets)


@pytest.fixture(scope="module")
def zelda(shared_datasets: Path) -> ZELDA:
    return ZELDA(base_path=shared_datasets)


def test_ud_english_ewt(ud: UD_ENGLISH) -> None:
    assert sizes(ud) == (12_544, 2_001, 2_077)
    assert (tokens(ud.train), tokens(ud.dev), tokens(ud.test)) == (204_577, 25_147, 25_094)
    first = ud.train[0]
    assert [t.text for t in first][:3] == ["Al", "-", "Zaman"]
    assert [t.get_label("upos").value for t in first][:3] == ["PROPN", "PUNCT", "PROPN"]
    assert [t.get_label("pos").value for t in first][:3] == ["NNP", "HYPH", "NNP"]
    assert len(ud.make_label_dictionary("upos", add_unk=False)) == 17


def test_conll_2000(conll2000: CONLL_2000) -> None:
    assert len(conll2000.train) + len(conll2000.dev) == 8_936
    assert len(conll2000.dev) == 894  # 10 % sampled from train
    assert len(conll2000.test) == 2_012
    assert tokens(conll2000.train) + tokens(conll2000.dev) == 211_727
    assert tokens(conll2000.test) == 47_377
    assert any(t.text == "#" for s in conll2000.test for t in s)  # '#' is a token, not a comment
    assert {"NP", "VP", "PP"} <= set(label_counts(conll2000.test, "np"))


def test_conll_03(conll03: CONLL_03) -> None:
    assert sizes(conll03) == (14_041, 3_250, 3_453)
    assert (documents(conll03.train), documents(conll03.dev), documents(conll03.test)) == (946, 216, 231)
    assert (tokens(conll03.train), tokens(conll03.dev), tokens(conll03.test)) == (203_621, 51_362, 46_435)
    expected = {
        "train": {"LOC": 7_140, "MISC": 3_438, "ORG": 6_321, "PER": 6_600},
        "dev": {"LOC": 1_837, "MISC": 922, "ORG": 1_341, "PER": 1_842},
        "test": {"LOC": 1_668, "MISC": 702, "ORG": 1_661, "PER": 1_617},
    }
    for split, dataset in (("train", conll03.train), ("dev", conll03.dev), ("test", conll03.test)):
        assert label_counts(dataset, "ner") == expected[split], split


def test_agnews(agnews: AGNEWS) -> None:
    assert len(agnews.train) + len(agnews.dev) == 5_000
    assert len(agnews.test) == 7_600
    train = label_counts(agnews.train, "topic") + label_counts(agnews.dev, "topic")
    assert train == {"World": 1_259, "Sports": 1_257, "Business": 1_281, "Sci_Tech": 1_203}
    assert label_counts(agnews.test, "topic") == {name: 1_900 for name in train}
    first = agnews.test[0]
    assert first.text.startswith("Fears for T N pension after talks Unions representing")


def test_aida_nel(aida: AIDA_NEL) -> None:
    assert sizes(aida) == (13_970, 3_238, 3_433)
    assert (documents(aida.train), documents(aida.dev), documents(aida.test)) == (946, 216, 231)
    linked = tuple(sum(label_counts(d, "nel").values()) for d in (aida.train, aida.dev, aida.test))
    assert linked == (18_540, 4_791, 4_485)
    ner = tuple(sum(label_counts(d, "ner").values()) for d in (aida.train, aida.dev, aida.test))
    assert ner == (23_499, 5_942, 5_648)
    assert any(t.text == '"' for s in aida.train for t in s)
    table = load_candidate_table(aida.candidates_file)
    assert len(table) == 8_050
    assert sum(len(v) for v in table.values()) == 47_524
    assert table["Exxon"][:2] == [("ExxonMobil", 1143.0), ("Exxon", 701.0)]


def test_zelda_aida_b(zelda: ZELDA) -> None:
    assert list(zelda.test_splits) == ["aida-b"]
    aida_b = zelda.test_splits["aida-b"]
    assert len(aida_b) == 3_421
    assert documents(aida_b) == 231
    assert tokens(aida_b) == 46_435
    assert sum(label_counts(aida_b, "nel").values()) == 4_485
    assert len(zelda.test) == 3_421
