"""Named corpora on small files written by the tests themselves (no network: POLYTAG_OFFLINE=1)."""

from __future__ import annotations

import bz2
import hashlib
import logging
from collections import Counter
from pathlib import Path

import pytest

from polytag.data import Corpus, MultiCorpus
from polytag.datasets import (
    AGNEWS,
    AIDA_NEL,
    CLEANCONLL,
    CONLL_03,
    CONLL_2000,
    NER_MULTI_WIKINER,
    UD_ENGLISH,
    ZELDA,
    AmbiguousSplitError,
    ClassificationCorpus,
    ColumnCorpus,
    CSVClassificationCorpus,
    build_cleanconll,
    datasets_root,
    load_candidate_table,
)
from polytag.datasets.cleanconll import apply_normal_diff
from polytag.errors import DatasetNotFoundError, FormatError


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test here runs offline, so a missing file can never trigger a download."""
    monkeypatch.setenv("POLYTAG_OFFLINE", "1")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def spans(sentence, layer: str) -> list[tuple[str, str]]:
    return [(label.data_point.text, label.value) for label in sentence.get_labels(layer)]


def n_sentences(corpus: Corpus) -> tuple[int, int, int]:
    return tuple(len(split) if split is not None else 0 for split in (corpus.train, corpus.dev, corpus.test))


CONLL03_DOC = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

"""


def conll03_split(n_docs: int, n_extra: int = 0) -> str:
    """``n_docs`` documents of two sentences, then ``n_extra`` one-token sentences in one more document."""
    text = CONLL03_DOC * n_docs
    if n_extra:
        text += "-DOCSTART- -X- -X- O\n\n" + "".join(f"w{i} NN B-NP O\n\n" for i in range(n_extra))
    return text


def make_conll03(root: Path, names: tuple[str, str, str] = ("train.txt", "dev.txt", "test.txt")) -> Path:
    folder = root / "conll_03"
    write(folder / names[0], conll03_split(3, 4))
    write(folder / names[1], conll03_split(2))
    write(folder / names[2], conll03_split(1))
    return folder


# -- base: roots and autofind -----------------------------------------------------------------------


def test_datasets_root_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path / "env"))
    assert datasets_root(tmp_path / "given") == tmp_path / "given"
    assert datasets_root() == tmp_path / "env"
    monkeypatch.delenv("POLYTAG_DATASETS")
    assert datasets_root() == Path.home() / ".polytag" / "datasets"


def test_column_corpus_autofind_ignores_archives_and_hidden_files(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write(folder / "train.txt", conll03_split(2))
    write(folder / "valid.txt", conll03_split(1))
    write(folder / "test.txt", CONLL03_DOC.split("\n\n", 2)[1] + "\n")
    (folder / "train.txt.gz").write_bytes(b"\x1f\x8b not read")
    write(folder / ".train.txt.swp", "x")
    write(folder / "README.md", "no split")
    corpus = ColumnCorpus(folder, {0: "text", 1: "pos", 3: "ner"})
    assert n_sentences(corpus) == (4, 2, 1)
    assert corpus.name == str(folder)
    assert spans(corpus.test[0], "ner") == [("EU", "ORG"), ("German", "MISC")]


def test_column_corpus_autofind_conll_names(tmp_path: Path) -> None:
    folder = make_conll03(tmp_path, ("eng.train", "eng.testa", "eng.testb"))
    corpus = ColumnCorpus(folder, {0: "text", 3: "ner"})
    assert n_sentences(corpus) == (10, 4, 2)


def test_column_corpus_ambiguous_split_raises(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    write(folder / "train.txt", conll03_split(1))
    write(folder / "train_old.txt", conll03_split(1))
    with pytest.raises(AmbiguousSplitError, match="train_old.txt"):
        ColumnCorpus(folder, {0: "text", 3: "ner"})
    # naming the file resolves it (and, as in Flair, the other splits are then sampled)
    corpus = ColumnCorpus(folder, {0: "text", 3: "ner"}, train_file="train.txt", sample_missing_splits=False)
    assert n_sentences(corpus) == (2, 0, 0)


def test_column_corpus_missing_folder_and_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        ColumnCorpus(tmp_path / "nowhere", {0: "text", 1: "ner"})
    write(tmp_path / "c" / "notes.txt", "a O\n")
    with pytest.raises(DatasetNotFoundError, match="no corpus files"):
        ColumnCorpus(tmp_path / "c", {0: "text", 1: "ner"})
    with pytest.raises(DatasetNotFoundError, match="dev file"):
        ColumnCorpus(tmp_path / "c", {0: "text", 1: "ner"}, train_file="notes.txt", dev_file="dev.txt")


def test_in_memory_false_reads_the_same_sentences_lazily(tmp_path: Path) -> None:
    make_conll03(tmp_path)
    eager = CONLL_03(base_path=tmp_path)
    lazy = CONLL_03(base_path=tmp_path, in_memory=False)
    assert not isinstance(lazy.train, list)
    for split in ("train", "dev", "test"):
        a, b = list(getattr(eager, split)), list(getattr(lazy, split))
        assert [s.to_tagged_string() for s in a] == [s.to_tagged_string() for s in b]
    columns = ColumnCorpus(tmp_path / "conll_03", {0: "text", 3: "ner"}, in_memory=False)

    def ner(sentences: list) -> list:
        return [[(span.text, span.get_label("ner").value) for span in s.get_spans("ner")] for s in sentences]

    assert ner(list(columns.test)) == ner(list(eager.test))
    assert any(ner(list(columns.test)))


# -- missing files -> DatasetNotFoundError listing the paths ----------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda root: UD_ENGLISH(base_path=root),
            [
                "ud_english/en_ewt-ud-train.conllu",
                "ud_english/en_ewt-ud-dev.conllu",
                "ud_english/en_ewt-ud-test.conllu",
                "raw.githubusercontent",
            ],
        ),
        (
            lambda root: CONLL_2000(base_path=root),
            [
                "conll_2000/train.txt",
                "conll_2000/test.txt",
                "clips.uantwerpen.be",
            ],
        ),
        (
            lambda root: CONLL_03(base_path=root),
            [
                "conll_03/train.txt",
                "conll_03/dev.txt",
                "conll_03/test.txt",
                "no public download",
            ],
        ),
        (lambda root: AGNEWS(base_path=root), ["agnews/train.csv", "agnews/test.csv"]),
        (lambda root: AIDA_NEL(base_path=root), ["aida_nel/train.tsv", "aida_nel/candidates.tsv"]),
        (
            lambda root: ZELDA(base_path=root),
            [
                "zelda/train_data/zelda_train.conll",
                "zelda/test_data/conll/test_aida-b.conll",
                "zelda.zip",
            ],
        ),
        (lambda root: NER_MULTI_WIKINER(base_path=root), ["ner_multi_wikiner/en/aij-wikiner-en-wp3.bz2"]),
        (
            lambda root: CLEANCONLL(base_path=root),
            [
                "cleanconll/cleanconll.train",
                "cleanconll/cleanconll.test",
                "conll_03",
            ],
        ),
    ],
)
def test_missing_corpus_lists_its_files(tmp_path: Path, make, expected: list[str]) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        make(tmp_path)
    message = str(info.value)
    for part in expected:
        assert part in message, (part, message)
    assert not any(p.suffix == ".part" for p in tmp_path.rglob("*"))  # nothing was downloaded


def test_base_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    make_conll03(tmp_path)
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    assert n_sentences(CONLL_03()) == (10, 4, 2)


# -- CoNLL-03, CoNLL-2000, UD -----------------------------------------------------------------------


def test_conll_03_documents_spans_and_verbatim_labels(tmp_path: Path) -> None:
    make_conll03(tmp_path)
    corpus = CONLL_03(base_path=tmp_path)
    first = corpus.train[0]
    assert spans(first, "ner") == [("EU", "ORG"), ("German", "MISC")]
    assert spans(first, "np") == [("EU", "NP"), ("rejects", "VP"), ("German call", "NP")]
    assert [t.get_label("pos").value for t in first] == ["NNP", "VBZ", "JJ", "NN", "."]
    # two sentences per document, linked inside it and not across documents
    second = corpus.train[1]
    assert first.next_sentence() is second and second.previous_sentence() is first
    assert second.next_sentence() is None
    assert corpus.train[2].previous_sentence() is None
    assert len({s.document_id for s in corpus.train}) == 4
    # label_name_map is applied only when asked for
    renamed = CONLL_03(base_path=tmp_path, label_name_map={"PER": "person"})
    assert spans(renamed.train[1], "ner") == [("Peter Blackburn", "person")]


def test_conll_2000_hash_tokens_and_sampled_dev(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "conll_2000"
    train = "".join(f"# # B-NP\nw{i} NN I-NP\n. . O\n\n" for i in range(20))
    write(folder / "train.txt", train)
    write(folder / "test.txt", "Confidence NN B-NP\nin IN B-PP\n\n")
    with caplog.at_level(logging.INFO, logger="polytag"):
        corpus = CONLL_2000(base_path=tmp_path)
    assert len(corpus.train) + len(corpus.dev) == 20 and len(corpus.dev) == 2
    assert "no dev split" in caplog.text and "sampled 2" in caplog.text
    sentence = corpus.train[0]
    assert [t.text for t in sentence][0] == "#"
    assert spans(sentence, "np")[0][1] == "NP" and len(sentence) == 3
    assert spans(corpus.test[0], "np") == [("Confidence", "NP"), ("in", "PP")]


UD_SENTENCE = """# sent_id = s1
# text = Al-Zaman won
1\tAl\tAl\tPROPN\tNNP\tNumber=Sing\t0\troot\t0:root\tSpaceAfter=No
2\t-\t-\tPUNCT\tHYPH\t_\t3\tpunct\t3:punct\tSpaceAfter=No
3\tZaman\tZaman\tPROPN\tNNP\tNumber=Sing\t1\tflat\t1:flat\t_
4\twon\twin\tVERB\tVBD\t_\t1\tconj\t1:conj\t_

"""


def test_ud_english_upos_and_xpos(tmp_path: Path) -> None:
    folder = tmp_path / "ud_english"
    for split, n in (("train", 3), ("dev", 1), ("test", 2)):
        write(folder / f"en_ewt-ud-{split}.conllu", UD_SENTENCE * n)
    corpus = UD_ENGLISH(base_path=tmp_path)
    assert n_sentences(corpus) == (3, 1, 2)
    sentence = corpus.train[0]
    assert [t.get_label("upos").value for t in sentence] == ["PROPN", "PUNCT", "PROPN", "VERB"]
    assert [t.get_label("pos").value for t in sentence] == ["NNP", "HYPH", "NNP", "VBD"]
    assert sentence.text == "Al-Zaman won"
    upos = corpus.make_label_dictionary("upos", add_unk=False)
    assert sorted(upos.get_items()) == ["PROPN", "PUNCT", "VERB"]


# -- CleanCoNLL -------------------------------------------------------------------------------------


def test_cleanconll_falls_back_to_conll_03_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_conll03(tmp_path)
    with caplog.at_level(logging.WARNING, logger="polytag"):
        corpus = CLEANCONLL(base_path=tmp_path)
    assert corpus.is_fallback
    assert "reading CoNLL-03" in caplog.text and "conll_03" in caplog.text
    reference = CONLL_03(base_path=tmp_path)
    assert n_sentences(corpus) == n_sentences(reference) == (10, 4, 2)
    for ours, theirs in zip(corpus.train, reference.train):
        assert spans(ours, "ner") == spans(theirs, "ner")
    # without the fallback and offline, the error says what is missing
    with pytest.raises(DatasetNotFoundError, match="cleanconll.train"):
        CLEANCONLL(base_path=tmp_path, fallback_to_conll03=False)


CLEAN_FILE = (
    "-DOCSTART-\t-X-\tO\tO\tO\n\n"
    "JAPAN\tNNP\tB-Japan_national_football_team\tB-LOC\tB-ORG\n"
    "GET\tVB\tO\tO\tO\n\n"
)


def test_cleanconll_reads_its_own_layout(tmp_path: Path) -> None:
    for split in ("train", "dev", "test"):
        write(tmp_path / "cleanconll" / f"cleanconll.{split}", CLEAN_FILE * 2)
    corpus = CLEANCONLL(base_path=tmp_path)
    assert not corpus.is_fallback
    assert n_sentences(corpus) == (2, 2, 2)
    sentence = corpus.test[0]
    assert spans(sentence, "ner") == [("JAPAN", "ORG")]  # column 4, not the pre-phase-3 column 3
    assert spans(sentence, "nel") == [("JAPAN", "Japan_national_football_team")]
    assert sentence[0].get_label("pos").value == "NNP"


def test_apply_normal_diff() -> None:
    old = ["a", "FOOTBALL-RANDALL", "b", "", "c", "d"]
    patch = "2c2,4\n< FOOTBALL-RANDALL\n---\n> FOOTBALL\n> -\n> RANDALL\n4d5\n< \n6a9\n> e\n"
    assert apply_normal_diff(old, patch) == ["a", "FOOTBALL", "-", "RANDALL", "b", "c", "d", "e"]
    with pytest.raises(FormatError, match="line 1"):
        apply_normal_diff(["a", "x"], "2d1\n< y\n", "p.patch")
    with pytest.raises(FormatError, match="diff command"):
        apply_normal_diff(["a"], "garbage\n", "p.patch")


def test_build_cleanconll_from_local_files(tmp_path: Path) -> None:
    conll = tmp_path / "conll_03"
    source = "-DOCSTART- -X- -X- O\n\nFOOTBALL-RANDALL NN B-NP O\nwins VBZ B-VP O\n\n"
    for split in ("train", "dev", "test"):
        write(conll / f"{split}.txt", source)
    raw = tmp_path / "cleanconll" / "raw"
    annotations = (
        "-DOCSTART-\t-X-\tO\tO\tO\n\n[TOKEN]\tNN\tO\tO\tO\n[TOKEN]\t:\tO\tO\tO\n"
        "[TOKEN]\tNNP\tB-Randall\tB-PER\tB-PER\n[TOKEN]\tVBZ\tO\tO\tO\n"
    )
    for split in ("train", "dev", "test"):
        write(raw / f"cleanconll_annotations.{split}", annotations)
        write(raw / f"{split}_tokens.patch", "3c3,5\n< FOOTBALL-RANDALL\n---\n> FOOTBALL\n> -\n> RANDALL\n")
    build_cleanconll(tmp_path / "cleanconll", conll)
    built = (tmp_path / "cleanconll" / "cleanconll.test").read_text(encoding="utf-8").split("\n")
    assert built[:3] == ["-DOCSTART-\t-X-\tO\tO\tO", "", "FOOTBALL\tNN\tO\tO\tO"]
    corpus = CLEANCONLL(base_path=tmp_path)
    assert not corpus.is_fallback
    assert [t.text for t in corpus.test[0]] == ["FOOTBALL", "-", "RANDALL", "wins"]
    assert spans(corpus.test[0], "ner") == [("RANDALL", "PER")]
    assert (conll / "test.txt").read_text(encoding="utf-8") == source  # the user's files are untouched


# -- ZELDA ------------------------------------------------------------------------------------------


def zelda_doc(n: int, prefix: str) -> str:
    lines = ["-DOCSTART-", "", f"# {n}{prefix} SOCCER"]
    for i in range(n):
        lines += [f"JAPAN\tB-{i}\tB-Japan_{prefix}", "WIN\tO\tO", "#\tO\tO", ""]
    return "\n".join(lines) + "\n"


def make_zelda(root: Path, flat: bool = False) -> Path:
    folder = root / "zelda"
    if flat:
        write(folder / "test_aida-b.conll", zelda_doc(3, "testb"))
        return folder
    write(folder / "train_data" / "zelda_train.conll", zelda_doc(20, "train"))
    write(folder / "test_data" / "conll" / "test_cweb.conll", zelda_doc(2, "cweb"))
    write(folder / "test_data" / "conll" / "test_aida-b.conll", zelda_doc(3, "testb"))
    write(folder / "test_data" / "jsonl" / "test_aida-b.jsonl", "{}\n")
    return folder


def test_zelda_zip_layout_keeps_test_splits_apart(tmp_path: Path) -> None:
    make_zelda(tmp_path)
    corpus = ZELDA(base_path=tmp_path)
    assert list(corpus.test_splits) == ["aida-b", "cweb"]  # ZELDA's order, not the file system's
    assert [len(d) for d in corpus.test_splits.values()] == [3, 2]
    assert len(corpus.test) == 5
    assert [s[0].text for s in corpus.test] == ["JAPAN"] * 5
    assert spans(corpus.test_splits["cweb"][0], "nel") == [("JAPAN", "Japan_cweb")]
    assert spans(corpus.test[0], "nel") == [("JAPAN", "Japan_testb")]
    assert len(corpus.train) + len(corpus.dev) == 20 and len(corpus.dev) == 2  # dev sampled from train
    # comment lines are not tokens, "#" alone is a token
    assert [t.text for t in corpus.train[0]] == ["JAPAN", "WIN", "#"]
    # the id column instead of the title column
    ids = ZELDA(base_path=tmp_path, column_format={0: "text", 1: "nel"})
    assert spans(ids.test_splits["cweb"][1], "nel") == [("JAPAN", "1")]


def test_zelda_flat_layout(tmp_path: Path) -> None:
    make_zelda(tmp_path, flat=True)
    corpus = ZELDA(base_path=tmp_path)
    assert list(corpus.test_splits) == ["aida-b"]
    assert corpus.train is None and len(corpus.test) == 3
    assert sum(len(s.get_labels("nel")) for s in corpus.test) == 3


# -- WikiNER ----------------------------------------------------------------------------------------

WIKINER = (
    "It|PRP|O is|VBZ|O in|IN|O New|NNP|I-LOC York|NNP|I-LOC Paris|NNP|B-LOC .|.|O\n"
    "John|NNP|I-PER Smith|NNP|I-PER left|VBD|O .|.|O\n"
    "\n"
    "A|DT|O second|JJ|O article|NN|O on|IN|O Google|NNP|I-ORG .|.|O\n"
)


@pytest.mark.parametrize("compressed", [False, True])
def test_wikiner_converts_in_memory(tmp_path: Path, compressed: bool) -> None:
    folder = tmp_path / "ner_multi_wikiner" / "en"
    folder.mkdir(parents=True)
    text = WIKINER * 10
    if compressed:
        source = folder / "aij-wikiner-en-wp3.bz2"
        source.write_bytes(bz2.compress(text.encode("utf-8")))
    else:
        source = write(folder / "aij-wikiner-en-wp3", text)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    corpus = NER_MULTI_WIKINER(base_path=tmp_path, sample_missing_splits=False)
    assert isinstance(corpus, MultiCorpus)
    assert len(corpus.train) == 30
    first = corpus.train[0]
    assert spans(first, "ner") == [("New York", "LOC"), ("Paris", "LOC")]  # IOB1: B- splits adjacent spans
    assert first[3].get_label("pos").value == "NNP"
    assert first.next_sentence() is corpus.train[1] and corpus.train[1].next_sentence() is None
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in folder.iterdir()) == [source.name]  # nothing written next to it
    sampled = NER_MULTI_WIKINER(base_path=tmp_path)
    assert n_sentences(sampled) == (24, 3, 3)


def test_wikiner_bad_token_is_a_format_error(tmp_path: Path) -> None:
    write(tmp_path / "ner_multi_wikiner" / "en" / "aij-wikiner-en-wp3", "ok|NN|O broken|NN\n")
    with pytest.raises(FormatError, match="line 1"):
        NER_MULTI_WIKINER(base_path=tmp_path)


# -- AG News and classification folders -------------------------------------------------------------


def test_agnews_title_and_text_joined(tmp_path: Path) -> None:
    folder = tmp_path / "agnews"
    rows = ["label,title,text"]
    rows += [f'Sci_Tech,,"BEA buzzing {i}, about Beehive #39;s"' for i in range(10)]
    rows += [f"Sports,Title {i},Body text \\ here" for i in range(10)]
    write(folder / "train.csv", "\n".join(rows) + "\n")
    write(folder / "test.csv", "label,title,text\nWorld,Fears for pension,Unions say\n")
    corpus = AGNEWS(base_path=tmp_path)
    assert len(corpus.train) + len(corpus.dev) == 20 and len(corpus.test) == 1
    test = corpus.test[0]
    assert test.get_label("topic").value == "World"
    assert test.text == "Fears for pension Unions say"
    everything = list(corpus.train) + list(corpus.dev)
    texts = {s.to_tokenized_string() for s in everything}
    assert any(t.startswith("BEA") for t in texts)  # empty title: no leading space or token
    assert any("#39;s" in s.text for s in everything)  # artefacts kept
    counts = Counter(s.get_label("topic").value for s in everything)
    assert counts == {"Sci_Tech": 10, "Sports": 10}


def test_csv_and_fasttext_classification_corpora(tmp_path: Path) -> None:
    write(tmp_path / "csv" / "train.csv", "good movie,pos\nbad movie,neg\n")
    write(tmp_path / "csv" / "test.csv", "fine film,pos\n")
    csv_corpus = CSVClassificationCorpus(
        tmp_path / "csv", {0: "text", 1: "label"}, label_type="sentiment", sample_missing_splits=False
    )
    assert n_sentences(csv_corpus) == (2, 0, 1)
    assert csv_corpus.train[1].get_label("sentiment").value == "neg"
    write(tmp_path / "ft" / "train.txt", "__label__pos good movie\n__label__neg bad movie\n")
    write(tmp_path / "ft" / "dev.txt", "__label__pos nice\n")
    ft = ClassificationCorpus(tmp_path / "ft", label_type="sentiment", sample_missing_splits=False)
    assert n_sentences(ft) == (2, 1, 0)
    assert ft.dev[0].get_label("sentiment").value == "pos"


# -- AIDA NEL ---------------------------------------------------------------------------------------


AIDA_DOC = (
    "-DOCSTART-\tO\tO\n# document {n} {split}\n\n"
    'EU\tB-ORG\tO\nrejects\tO\tO\nGerman\tB-MISC\tB-Germany\n"\tO\tO\n\n'
    "National\tB-ORG\tB-National_Hockey_League\nHockey\tI-ORG\tI-National_Hockey_League\n"
    "League\tB-ORG\tI-National_Hockey_League\n\n"
)

CANDIDATES = (
    "mention\ttitle\tin_count\trank\n"
    "Exxon\tExxon\t701\t1\n"
    "Exxon\tExxonMobil\t1143\t0\n"
    "Exxon\tExxon_Valdez_oil_spill\t347\t2\n"
    'Saying "hi"\tSay_"hi"\t3\t0\n'
)


def make_aida(root: Path) -> Path:
    folder = root / "aida_nel"
    for split, docs in (("train", 3), ("dev", 2), ("test", 1)):
        write(folder / f"{split}.tsv", "".join(AIDA_DOC.format(n=i, split=split) for i in range(docs)))
    write(folder / "candidates.tsv", CANDIDATES)
    return folder


def test_aida_nel_corpus(tmp_path: Path) -> None:
    folder = make_aida(tmp_path)
    corpus = AIDA_NEL(base_path=tmp_path)
    assert n_sentences(corpus) == (6, 4, 2)
    assert len({s.document_id for s in corpus.train}) == 3
    first, second = corpus.train[0], corpus.train[1]
    assert [t.text for t in first] == ["EU", "rejects", "German", '"']
    assert first.metadata["comment"] == ["document 0 train"]
    assert spans(first, "nel") == [("German", "Germany")]
    assert spans(first, "ner") == [("EU", "ORG"), ("German", "MISC")]
    assert spans(second, "nel") == [("National Hockey League", "National_Hockey_League")]
    assert spans(second, "ner") == [("National Hockey", "ORG"), ("League", "ORG")]
    assert corpus.candidates_file == folder / "candidates.tsv"
    assert corpus.load_candidates()["Exxon"][0] == ("ExxonMobil", 1143.0)


def test_load_candidate_table(tmp_path: Path) -> None:
    table = load_candidate_table(write(tmp_path / "c.tsv", CANDIDATES))
    assert table["Exxon"] == [("ExxonMobil", 1143.0), ("Exxon", 701.0), ("Exxon_Valdez_oil_spill", 347.0)]
    assert table['Saying "hi"'] == [('Say_"hi"', 3.0)]
    assert list(table) == ["Exxon", 'Saying "hi"']
    with pytest.raises(FormatError, match="line 3"):
        bad = "mention\ttitle\tin_count\trank\nA\tB\t1\t0\nA\tB\t1\n"
        load_candidate_table(write(tmp_path / "bad.tsv", bad))
    with pytest.raises(FormatError, match="integer rank"):
        load_candidate_table(write(tmp_path / "bad2.tsv", "A\tB\tmany\t0\n"))


# -- corpus behaviour through the loaders -----------------------------------------------------------


def test_downsample_keeps_three_splits_and_is_seeded(tmp_path: Path) -> None:
    folder = tmp_path / "conll_03"
    write(folder / "train.txt", conll03_split(0, 200))
    write(folder / "dev.txt", conll03_split(0, 100))
    write(folder / "test.txt", conll03_split(0, 100))

    def texts(corpus: Corpus) -> list[list[str]]:
        return [[s.text for s in split] for split in (corpus.train, corpus.dev, corpus.test)]

    first = CONLL_03(base_path=tmp_path).downsample(0.1, random_seed=1)
    again = CONLL_03(base_path=tmp_path).downsample(0.1, random_seed=1)
    other = CONLL_03(base_path=tmp_path).downsample(0.1, random_seed=2)
    assert n_sentences(first) == (20, 10, 10)
    assert texts(first) == texts(again)
    assert texts(first) != texts(other)
    assert all(len(set(split)) == len(split) for split in texts(first))


def test_make_label_dictionary_add_unk_is_honoured(tmp_path: Path) -> None:
    make_conll03(tmp_path)
    corpus = CONLL_03(base_path=tmp_path)
    plain = corpus.make_label_dictionary("ner", add_unk=False)
    with_unk = corpus.make_label_dictionary("ner", add_unk=True)
    assert sorted(plain.get_items()) == ["MISC", "ORG", "PER"]
    assert with_unk.get_items()[0] == "<unk>" and sorted(with_unk.get_items()[1:]) == ["MISC", "ORG", "PER"]
    assert plain.span_labels and with_unk.span_labels
    with pytest.raises(IndexError):
        plain.get_idx_for_item("LOC")
    assert with_unk.get_idx_for_item("LOC") == 0


def test_column_delimiter_compatibility(tmp_path: Path) -> None:
    make_conll03(tmp_path)
    folder = tmp_path / "conll_03"
    spaced = ColumnCorpus(folder, {0: "text", 3: "ner"}, column_delimiter=r"\s+")
    assert spans(spaced.train[0], "ner") == [("EU", "ORG"), ("German", "MISC")]
    with pytest.raises(NotImplementedError, match="column_delimiter"):
        ColumnCorpus(folder, {0: "text", 3: "ner"}, column_delimiter=",")


def test_extract_zip_refuses_paths_outside_the_target(tmp_path: Path) -> None:
    import zipfile

    from polytag.datasets.archives import extract_zip
    from polytag.errors import PolytagError

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zelda/ok.txt", "fine")
        zf.writestr("../escaped.txt", "bad")
    with pytest.raises(PolytagError, match="outside"):
        extract_zip(archive, tmp_path / "target")
    assert not (tmp_path / "escaped.txt").exists()
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("zelda/test_data/conll/test_cweb.conll", zelda_doc(1, "cweb"))
    extract_zip(good, tmp_path / "root")
    assert list(ZELDA(base_path=tmp_path / "root").test_splits) == ["cweb"]
