"""ZELDA as published: its folder layout, the ``O-<title>`` tags of test_tweeki, its candidate pickle (read
without trusting it), on-demand reading of the train file, and ``polytag evaluate MODEL ZELDA``."""

from __future__ import annotations

import collections
import json
import logging
import os
import pickle
import subprocess
from pathlib import Path

import pytest
import torch

from polytag.cli.main import main
from polytag.data import Dictionary
from polytag.datasets import ZELDA, ColumnCorpus, zelda_candidate_table
from polytag.datasets.zelda_files import IndexedZeldaFile, find_outside_tags
from polytag.datasets.zelda_pickle import UnsafePickleError, read_mention_entities_counter
from polytag.errors import FormatError
from polytag.nn.candidates import CandidateGenerator

TWEEKI = """-DOCSTART-

# tweet_id=168
Off\tO\tO
to\tO\tO
Cleveland\tB-5951\tB-Cleveland
(\tO\tO
@\tO\tO
RDU\tO-266955\tO-Raleigh–Durham_International_Airport
)\tO\tO
-DOCSTART-
lunch\tO\tO
the\tO\tO
Sunday\tO-54407\tO-Sunday
before\tO\tO
Thanksgiving\tO-8948452\tO-Thanksgiving
in\tO\tO
New\tB-645042\tB-New_York_City
York\tI-645042\tI-New_York_City
"""
TWEEKI_OUTSIDE_LINES = [9, 14, 16]

AIDA_B = """-DOCSTART-

# 1163testb SOCCER
SOCCER\tO\tO
JAPAN\tB-993546\tB-Japan_national_football_team
GET\tO\tO
CHINA\tB-887850\tB-China_national_football_team
.\tO\tO

Japan\tB-993546\tB-Japan_national_football_team
won\tO\tO
"""


def train_text(documents: int) -> str:
    parts = []
    for i in range(documents):
        parts.append(
            f"-DOCSTART-\n\n# {i} doc\n"
            "Japan\tB-15573\tB-Japan\nbeat\tO\tO\nChina\tB-5405\tB-China\n.\tO\tO\n\n"
            f"Cristiano\tB-623737\tB-Cristiano_Ronaldo\nRonaldo\tI-623737\tI-Cristiano_Ronaldo\nscored\tO\tO\n\n"
        )
    return "".join(parts)


# ZELDA's counter names entities with spaces, its CoNLL files with underscores.
COUNTER = {
    "Ronaldo": collections.Counter({"Cristiano Ronaldo": 3, "Ronaldo (Brazilian footballer)": 2}),
    "Japan": {"Japan": 7, "Japan national football team": 2},
    "JAPAN": {"Japan national football team": 4},
    "CHINA": {"China national football team": 1},
}


def make_zelda(root: Path, with_train: bool = True, with_pickle: bool = True) -> Path:
    """A datasets root holding ``zelda/`` in the layout of ZELDA's zip."""
    folder = root / "zelda"
    tests = folder / "test_data" / "conll"
    tests.mkdir(parents=True)
    (tests / "test_tweeki.conll").write_text(TWEEKI, encoding="utf-8")
    (tests / "test_aida-b.conll").write_text(AIDA_B, encoding="utf-8")
    (folder / "test_data" / "jsonl").mkdir()
    (folder / "test_data" / "jsonl" / "test_aida-b.jsonl").write_text("{}\n", encoding="utf-8")
    if with_train:
        (folder / "train_data").mkdir()
        (folder / "train_data" / "zelda_train.conll").write_text(train_text(30), encoding="utf-8")
    if with_pickle:
        (folder / "other").mkdir()
        with open(folder / "other" / "zelda_mention_entities_counter.pickle", "wb") as handle:
            pickle.dump(COUNTER, handle, protocol=pickle.HIGHEST_PROTOCOL)
    return root


def spans(sentence, label_type: str = "nel") -> list[tuple[str, str]]:
    return [(label.data_point.text, label.value) for label in sentence.get_labels(label_type)]


# -- the O-<title> quirk -------------------------------------------------------------------------------


def test_outside_tags_are_found_by_line(tmp_path: Path) -> None:
    make_zelda(tmp_path)
    path = tmp_path / "zelda" / "test_data" / "conll" / "test_tweeki.conll"
    assert find_outside_tags(path) == TWEEKI_OUTSIDE_LINES
    assert find_outside_tags(tmp_path / "zelda" / "test_data" / "conll" / "test_aida-b.conll") == []


@pytest.mark.parametrize("in_memory", [True, False])
def test_zelda_reads_the_official_tweeki_file(
    tmp_path: Path, in_memory: bool, caplog: pytest.LogCaptureFixture
) -> None:
    make_zelda(tmp_path)
    with caplog.at_level(logging.WARNING, logger="polytag"):
        corpus = ZELDA(base_path=tmp_path, in_memory=in_memory)
    assert list(corpus.test_splits) == ["aida-b", "tweeki"]
    tweeki = corpus.test_splits["tweeki"]
    assert len(tweeki) == 2
    # the O- tokens are outside every mention; the real mentions around them are kept
    assert spans(tweeki[0]) == [("Cleveland", "Cleveland")]
    assert spans(tweeki[1]) == [("New York", "New_York_City")]
    assert tweeki.outside_tag_lines == TWEEKI_OUTSIDE_LINES
    warning = [r.getMessage() for r in caplog.records if "O-<id/title>" in r.getMessage()]
    assert len(warning) == 1 and "test_tweeki.conll: 3 line(s)" in warning[0] and "9, 14, 16" in warning[0]
    # the page-id column has the same quirk
    ids = ZELDA(base_path=tmp_path, column_format={0: "text", 1: "nel"}, in_memory=in_memory)
    assert spans(ids.test_splits["tweeki"][0]) == [("Cleveland", "5951")]


def test_other_bad_tags_in_zelda_still_raise(tmp_path: Path) -> None:
    make_zelda(tmp_path, with_train=False, with_pickle=False)
    path = tmp_path / "zelda" / "test_data" / "conll" / "test_aida-b.conll"
    path.write_text(AIDA_B.replace("B-887850\tB-China", "X-887850\tX-China"), encoding="utf-8")
    with pytest.raises(FormatError, match=r"test_aida-b\.conll, line 7: .*'X-China"):
        ZELDA(base_path=tmp_path)
    lazy = ZELDA(base_path=tmp_path, in_memory=False)  # the index does not parse: reading the sentence does
    with pytest.raises(FormatError, match=r"test_aida-b\.conll, line 7: .*'X-China"):
        lazy.test_splits["aida-b"][0]


def test_a_users_own_column_file_stays_strict(tmp_path: Path) -> None:
    (tmp_path / "test.txt").write_text(TWEEKI, encoding="utf-8")
    (tmp_path / "train.txt").write_text(AIDA_B, encoding="utf-8")
    with pytest.raises(FormatError, match=r"test\.txt, line 9: .*'O-Raleigh"):
        ColumnCorpus(tmp_path, {0: "text", 2: "nel"}, span_layers=["nel"], comment_symbol="# ")


def test_in_memory_false_reads_the_train_file_on_demand(tmp_path: Path) -> None:
    make_zelda(tmp_path)
    eager = ZELDA(base_path=tmp_path, in_memory=True)
    lazy = ZELDA(base_path=tmp_path, in_memory=False)
    train = lazy.train.dataset if hasattr(lazy.train, "dataset") else lazy.train
    assert isinstance(train.sentences, IndexedZeldaFile) and not train.is_in_memory()
    assert train.token_counts().tolist() == [4, 3] * 30
    assert len(lazy.train) + len(lazy.dev) == 60 == len(eager.train) + len(eager.dev)
    assert [spans(s) for s in lazy.train] == [spans(s) for s in eager.train]
    assert [s.to_tokenized_string() for s in lazy.test] == [s.to_tokenized_string() for s in eager.test]


# -- ZELDA's candidate pickle ----------------------------------------------------------------------------


def test_candidate_generator_reads_zeldas_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_zelda(tmp_path, with_train=False)
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    generator = CandidateGenerator("zelda")
    # titles written like the CoNLL files' (underscores), best count first
    assert generator.lookup("Ronaldo") == [
        ("Cristiano_Ronaldo", 3.0),
        ("Ronaldo_(Brazilian_footballer)", 2.0),
    ]
    assert generator.lookup("JAPAN") == [("Japan_national_football_team", 4.0)]
    assert generator.lookup("china")[0][0] == "China_national_football_team"  # case back-off
    # a TSV next to it is preferred (e.g. a user's own lists)
    (tmp_path / "zelda" / "candidates.tsv").write_text("Japan\tJapan_(band)\t1\n", encoding="utf-8")
    assert zelda_candidate_table(tmp_path) == {"Japan": {"Japan_(band)": 1.0}}


def test_flairs_download_spot_and_title_merging(tmp_path: Path) -> None:
    (tmp_path / "zelda").mkdir()
    counter = {"NYC": {"New York City": 2, "New_York_City": 3}, "": {"Nothing": 1}}
    (tmp_path / "zelda_mention_entities_counter.pickle").write_bytes(pickle.dumps(counter, protocol=2))
    assert zelda_candidate_table(tmp_path) == {"NYC": {"New_York_City": 5.0}}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_of_plain_containers_loads(tmp_path: Path, protocol: int) -> None:
    nested = collections.defaultdict(collections.Counter)
    nested["Paris"]["Paris"] += 9
    nested["Paris"]["Paris_Hilton"] += 1
    path = tmp_path / "counter.pickle"
    for value in (COUNTER, nested, collections.OrderedDict(Paris={"Paris": 2.5})):
        path.write_bytes(pickle.dumps(value, protocol=protocol))
        expected = {m: {e: float(c) for e, c in entities.items()} for m, entities in value.items()}
        assert read_mention_entities_counter(path) == expected


class RunsCommand:
    """Pickles into a call of ``os.system`` (what a hostile candidate file would do)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class RunsSubprocess:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", str(self.marker)],))


def hostile_pickles(marker: Path) -> dict[str, bytes]:
    touch = f"touch {marker}"
    return {
        "os.system via __reduce__": pickle.dumps({"a": {"b": RunsCommand(touch)}}),
        "os.system, protocol 0": pickle.dumps(RunsCommand(touch), protocol=0),
        "subprocess": pickle.dumps({"a": RunsSubprocess(marker)}, protocol=4),
        "eval": b"cbuiltins\neval\n(V__import__('os').system('" + touch.encode() + b"')\ntR.",
        "getattr chain": b"cbuiltins\ngetattr\n(cos\nsystem\nS'x'\ntR.",
        "nested global in an allowed call": b"\x80\x04\x8c\x0bcollections\x8c\x07Counter\x93\x8c\x02os\x8c"
        b"\x06system\x93\x85R.",
        "dotted name": b"\x80\x04\x8c\x0bcollections\x8c\x0fCounter.__new__\x93.",
        "BUILD sets attributes": b"\x80\x02ccollections\nCounter\n)R}X\x01\x00\x00\x00xK\x01sb.",
        "persistent id": b"\x80\x02X\x01\x00\x00\x00xQ.",
        "huge memo index": b"\x80\x02}r\xff\xff\xff\xff.",
        "huge memo index, text": b"(dp4294967295\n.",
        "empty memo slot": b"\x80\x02j\x00\x00\x01\x00.",
        "huge int": b"\x80\x02\x8b\x00\x00\x10\x00" + b"\xff" * (1 << 20) + b".",
        "huge int, text": b"L" + b"9" * 100_000 + b"L\n.",
        "one inner dict shared by every mention": pickle.dumps(
            dict.fromkeys([f"m{i}" for i in range(3000)], {f"e{j}": 1 for j in range(3000)})
        ),
        "truncated": pickle.dumps(COUNTER)[:-3],
        "not a pickle": b"mention\tentity\t3\n",
        "a list": pickle.dumps([["a", "b", 1]]),
        "negative count": pickle.dumps({"a": {"b": -1}}),
        "infinite count": pickle.dumps({"a": {"b": float("inf")}}),
        "text count": pickle.dumps({"a": {"b": "3"}}),
        "bool count": pickle.dumps({"a": {"b": True}}),
        "entity not a string": pickle.dumps({"a": {7: 1}}),
    }


@pytest.mark.parametrize("case", list(hostile_pickles(Path("x"))))
def test_hostile_pickles_are_refused_without_running_anything(tmp_path: Path, case: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "zelda_mention_entities_counter.pickle"
    path.write_bytes(hostile_pickles(marker)[case])
    with pytest.raises(UnsafePickleError, match=r"zelda_mention_entities_counter\.pickle: "):
        read_mention_entities_counter(path)
    assert not marker.exists()


def test_a_hostile_zelda_pickle_fails_the_generator_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_zelda(tmp_path, with_train=False, with_pickle=False)
    (tmp_path / "zelda" / "other").mkdir()
    marker = tmp_path / "pwned"
    (tmp_path / "zelda" / "other" / "zelda_mention_entities_counter.pickle").write_bytes(
        pickle.dumps({"a": {"b": RunsCommand(f"touch {marker}")}})
    )
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    with pytest.raises(FormatError, match="refers to .*system") as info:
        CandidateGenerator("zelda")
    assert "\n" not in str(info.value) and not marker.exists()


# -- polytag evaluate MODEL ZELDA --------------------------------------------------------------------------


@pytest.fixture()
def zelda_linker(tmp_path: Path, tiny_encoder_dir: Path) -> Path:
    """A saved SpanClassifier whose candidates leave one entity per mention: its predictions are known."""
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models.span_classifier import SpanClassifier

    torch.manual_seed(0)
    entities = ["Japan_national_football_team", "China", "Cleveland", "New_York_City", "Japan"]
    dictionary = Dictionary(add_unk=True)
    for entity in entities:
        dictionary.add_item(entity)
    candidates = CandidateGenerator(
        {
            "JAPAN": ["Japan_national_football_team"],
            "Japan": ["Japan"],  # gold in aida-b is the national team: wrong
            "CHINA": ["China"],  # wrong
            "Cleveland": ["Cleveland"],
            "New York": ["New_York_City"],
        }
    )
    model = SpanClassifier(
        TransformerWordEmbeddings(str(tiny_encoder_dir)), dictionary, candidates=candidates, label_type="nel"
    )
    path = tmp_path / "linker.pt"
    model.save(path)
    return path


def test_evaluate_prints_accuracy_per_split_and_the_macro_average(
    tmp_path: Path, zelda_linker: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    make_zelda(tmp_path, with_train=False, with_pickle=False)
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    with pytest.raises(SystemExit) as done:
        main(["evaluate", str(zelda_linker), "ZELDA", "-q"])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {
        line.split()[0]: line.split() for line in lines if line and line.split()[0] in ("aida-b", "tweeki")
    }
    assert rows["aida-b"][1:] == ["0.3333", "3"]  # JAPAN right; CHINA and Japan wrong
    assert rows["tweeki"][1:] == ["1.0000", "2"]
    macro = next(line for line in lines if line.startswith("macro avg"))
    assert "0.6667" in macro and "(2 of 9 splits)" in macro
    assert any(line.startswith("missing splits") and "cweb" in line and "wned-wiki" in line for line in lines)
    with pytest.raises(SystemExit):
        main(["evaluate", str(zelda_linker), "zelda", "--json", "-q"])
    report = json.loads(capsys.readouterr().out)
    assert report["metric"] == "accuracy" and list(report["splits"]) == ["aida-b", "tweeki"]
    assert report["splits"]["aida-b"]["accuracy"] == pytest.approx(1 / 3)
    assert report["macro_avg"] == report["main_score"] == pytest.approx(2 / 3)
    assert len(report["missing"]) == 7


def test_zelda_convert_writes_the_tsv_that_is_read_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    make_zelda(tmp_path, with_train=False)
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    pickled = tmp_path / "zelda" / "other" / "zelda_mention_entities_counter.pickle"
    counter = {**COUNTER, "tab\there": {"X": 1}, "Paris": {"Paris": 2.5}}
    pickled.write_bytes(pickle.dumps(counter))
    expected = zelda_candidate_table(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["zelda-convert", "-q"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "6 mentions, 7 (mention, entity) rows; 1 skipped" in out
    tsv = tmp_path / "zelda" / "zelda_mention_entities_counter.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "mention\tentity\tcount"
    assert lines[1:3] == ["Ronaldo\tCristiano_Ronaldo\t3", "Ronaldo\tRonaldo_(Brazilian_footballer)\t2"]
    assert "Paris\tParis\t2.5" in lines
    pickled.write_bytes(b"not read any more")  # the TSV is read first now
    del expected["tab\there"]
    assert zelda_candidate_table(tmp_path) == expected
    with pytest.raises(SystemExit) as failed:
        main(["zelda-convert", str(tmp_path / "missing.pickle")])
    assert failed.value.code == 2
    assert "missing.pickle" in capsys.readouterr().err


def test_a_linker_trains_on_zelda_read_on_demand(
    tmp_path: Path, tiny_encoder_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flair's ZELDA recipe on the on-demand corpus: the train sentences are parsed from disk per batch."""
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models.span_classifier import SpanClassifier
    from polytag.trainers import ModelTrainer

    make_zelda(tmp_path / "root")
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path / "root"))
    torch.manual_seed(0)
    corpus = ZELDA(in_memory=False)
    dictionary = corpus.make_label_dictionary("nel", add_unk=True)
    assert {"Japan", "China", "Cristiano_Ronaldo"} <= set(dictionary.get_items())
    model = SpanClassifier(
        TransformerWordEmbeddings(str(tiny_encoder_dir)),
        dictionary,
        label_type="nel",
        candidates=CandidateGenerator("zelda"),
    )
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = ModelTrainer(model, corpus).fine_tune(
            tmp_path / "out", max_epochs=1, mini_batch_size=8, progress_bar=False, plot_training_curves=False
        )
    finally:
        torch.set_num_threads(before)
    assert (tmp_path / "out" / "final-model.pt").is_file()
    assert len(result["train_loss_history"]) == 1 and torch.isfinite(
        torch.tensor(result["train_loss_history"])
    )
    scores = model.evaluate_splits(corpus.test_splits)
    assert set(scores.scores) == {"aida-b", "tweeki", "macro_avg"}
    assert scores.main_score == pytest.approx((scores.scores["aida-b"] + scores.scores["tweeki"]) / 2)
