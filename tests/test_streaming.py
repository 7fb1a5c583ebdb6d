"""``in_memory=False``: indexed sentence files read the same sentences as the whole-file readers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polytag.data import MultiCorpus, SubsetDataset
from polytag.datasets import ColumnCorpus, UniversalDependenciesCorpus
from polytag.errors import FormatError
from polytag.formats import indexed, read_column_file, read_conllu_file, read_jsonl_file
from polytag.formats.streaming import (
    IndexedColumnFile,
    IndexedConlluFile,
    IndexedJsonlFile,
    dataset_token_counts,
    is_lazy,
)
from polytag.training.batching import BatchPlan, ShuffleSampler

COLUMNS = {0: "text", 1: "pos", 2: "ner"}


def write(path: Path, text: str, newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def same(eager: list, lazy) -> None:
    """Same count, tokens, labels, spans, metadata and document ids; word counts match the sentences."""
    assert len(lazy) == len(eager)
    assert [s.to_dict() for s in lazy] == [s.to_dict() for s in eager]
    assert [lazy[i].to_dict() for i in range(len(lazy))] == [s.to_dict() for s in eager]
    assert lazy.token_counts().tolist() == [len(s) for s in eager]


COLUMN_TEXT = """-DOCSTART- -X- O

# a comment before the first sentence
EU NNP B-ORG
rejects VBZ O
German JJ B-MISC
call NN O
. . O
# a comment inside, after the last token

Peter NNP B-PER
Blackburn NNP I-PER

\t \t
-DOCSTART- -X- O
# comment before a separator goes to the next sentence


BRUSSELS NNP I-LOC
1996-08-22 CD O
-DOCSTART-\t-X-\tO

x\tNN\tO
  leading  NN   O
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
@pytest.mark.parametrize("bom", [False, True])
def test_column_lazy_equals_eager(tmp_path: Path, newline: str, final_newline: bool, bom: bool) -> None:
    text = COLUMN_TEXT if final_newline else COLUMN_TEXT.rstrip("\n")
    path = write(tmp_path / "train.txt", ("\ufeff" if bom else "") + text, newline)
    args = {"comment_symbol": "# "}
    eager = read_column_file(path, COLUMNS, **args)
    lazy = IndexedColumnFile(path, COLUMNS, **args)
    same(eager, lazy)
    assert lazy.span_layer_names == ["ner"]
    assert [s.document_id for s in lazy] == ["train.txt#0"] * 2 + ["train.txt#1", "train.txt#2"]
    assert [len(s) for s in lazy] == [5, 2, 2, 2]
    assert lazy[0].metadata["comment"] == [
        "a comment before the first sentence",
        "a comment inside, after the last token",
    ]
    assert lazy[2].metadata["comment"] == ["comment before a separator goes to the next sentence"]
    # not linked to neighbours (documented): the whole-file reader links them
    assert eager[1].previous_sentence() is eager[0] and lazy[1].previous_sentence() is None


def test_column_options_skip_first_line_no_separator_label_map(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "header line\nA B-X\nb I-X\n\n-DOCSTART- O\n\nc B-Y\n")
    for args in (
        {"skip_first_line": True, "document_separator_token": None},
        {"skip_first_line": True, "label_name_map": {"X": "Z", "Y": "O"}},
        {"skip_first_line": True, "span_layers": [], "tag_scheme": "BIO"},
    ):
        same(
            read_column_file(path, {0: "text", 1: "ner"}, **args),
            IndexedColumnFile(path, {0: "text", 1: "ner"}, **args),
        )
    lazy = IndexedColumnFile(path, {0: "text", 1: "ner"}, skip_first_line=True, document_separator_token=None)
    assert len(lazy) == 3 and lazy[1][0].text == "-DOCSTART-"  # without a separator token it is a word


_LINES = st.sampled_from(
    [
        "w1 NN B-PER",
        "w2 VB I-PER",
        "w3 DT O",
        "-DOCSTART- -X- O",
        "",
        "  ",
        "\t",
        "# note",
        "#nospace NN O",
        " lead NN O",
        "x\tNN\tS-LOC",
        "é NN E-LOC",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_LINES, max_size=40), crlf=st.booleans(), final=st.booleans(), chunk=st.integers(1, 64))
def test_column_random_files_with_tiny_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], crlf: bool, final: bool, chunk: int
) -> None:
    """Any mix of sentences, blank and whitespace lines, separators and comments, and any chunking."""
    monkeypatch.setattr(indexed, "SCAN_CHUNK", chunk)
    text = ("\r\n" if crlf else "\n").join(lines) + (("\r\n" if crlf else "\n") if final else "")
    path = tmp_path / "random.txt"
    path.write_bytes(text.encode("utf-8"))
    args = {"comment_symbol": "# ", "span_layers": ["ner"]}
    same(read_column_file(path, COLUMNS, **args), IndexedColumnFile(path, COLUMNS, **args))


CONLLU_TEXT = """# newdoc id = doc-a
# sent_id = 1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t0:root\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
# a free comment
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_


# newdoc
# newpar
1\tNo\tno\tINTJ\tUH\t_\t0\troot\t_\t_

# newdoc id = doc-c
1\tOk\tok\tINTJ\tUH\t_\t0\troot\t_\t_
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_conllu_lazy_equals_eager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, final_newline: bool
) -> None:
    text = CONLLU_TEXT if final_newline else CONLLU_TEXT.rstrip("\n")
    path = write(tmp_path / "t.conllu", text, newline)
    for chunk in (1 << 20, 16):
        monkeypatch.setattr(indexed, "SCAN_CHUNK", chunk)
        for extra in (False, True):
            eager = read_conllu_file(path, extra_layers=extra)
            lazy = IndexedConlluFile(path, extra_layers=extra)
            same(eager, lazy)
            assert [s.document_id for s in lazy] == ["doc-a", "doc-a", "t.conllu#1", "doc-c"]
            assert lazy.token_counts().tolist() == [4, 1, 1, 1]


def _jsonl_text() -> str:
    from polytag.data import Sentence

    first = Sentence("Ann met Bob in Paris.")
    first[0:1].add_label("ner", "PER")
    first[2:3].add_label("ner", "PER")
    first.add_label("topic", "travel")
    first.document_id = "d1"
    second = Sentence("They said hello .")
    second[3].add_label("pos", "PUNCT")
    second.document_id = "d1"
    lines = [
        json.dumps(first.to_dict(lossless=True)),
        "",
        "  ",
        json.dumps(second.to_dict(lossless=True)),
        json.dumps(
            {"text": "Simple form here", "labels": "pos", "spans": [{"start": 0, "end": 1, "value": "X"}]}
        ),
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_jsonl_lazy_equals_eager(tmp_path: Path, newline: str, final_newline: bool) -> None:
    text = _jsonl_text() if final_newline else _jsonl_text().rstrip("\n")
    path = write(tmp_path / "t.jsonl", text, newline)
    lazy = IndexedJsonlFile(path)
    eager = read_jsonl_file(path)
    same(eager, lazy)
    assert [s.document_id for s in lazy] == ["d1", "d1", None]


def test_malformed_block_raises_at_access_with_true_line(tmp_path: Path) -> None:
    good = "".join(f"w{i} NN O\nx NN O\n\n" for i in range(5))
    path = write(tmp_path / "bad.txt", good + "ok NN O\nonly-one-column\n\n" + good)
    with pytest.raises(FormatError) as eager_error:
        read_column_file(path, COLUMNS)
    assert eager_error.value.line == 17
    lazy = IndexedColumnFile(path, COLUMNS, span_layers=["ner"])  # the scan does not validate
    assert len(lazy) == 11 and lazy[4][0].text == "w4" and lazy[6][0].text == "w0"
    with pytest.raises(FormatError) as error:
        lazy[5]
    assert error.value.line == 17 and error.value.path == str(path) and "columns" in error.value.message
    with pytest.raises(FormatError, match="line 17"):
        IndexedColumnFile(path, COLUMNS, span_layers=["ner"], validate=True)

    conllu = write(tmp_path / "bad.conllu", CONLLU_TEXT.replace("1\tOk\tok", "x\tOk\tok"))
    lazy_u = IndexedConlluFile(conllu)
    lazy_u[0]
    with pytest.raises(FormatError) as error:
        lazy_u[3]
    assert error.value.line == 21 and "ID 'x'" in error.value.message

    jsonl = write(tmp_path / "bad.jsonl", '{"text": "fine"}\n\n{"text": broken\n')
    lazy_j = IndexedJsonlFile(jsonl)
    assert lazy_j[0][0].text == "fine"
    with pytest.raises(FormatError, match="line 3: invalid JSON"):
        lazy_j[1]

    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"a NN O\n\nb NN O\nc\xe9 NN O\n")
    lazy_l = IndexedColumnFile(latin, COLUMNS, span_layers=["ner"])
    with pytest.raises(FormatError, match="line 4.*cannot be decoded"):
        lazy_l[1]
    assert IndexedColumnFile(latin, COLUMNS, span_layers=["ner"], encoding="latin-1")[1][1].text == "cé"


def test_random_access_len_and_changed_file(tmp_path: Path) -> None:
    text = "".join(f"t{i} NN {'B-X' if i % 3 else 'O'}\nu{i} VB O\n\n" for i in range(200))
    path = write(tmp_path / "t.txt", text)
    eager = read_column_file(path, COLUMNS)
    lazy = IndexedColumnFile(path, COLUMNS)
    assert len(lazy) == 200 and lazy[-1].to_dict() == eager[-1].to_dict()
    order = list(range(200)) * 2
    random.Random(0).shuffle(order)
    for i in order:
        assert lazy[i].to_dict() == eager[i].to_dict()
    assert lazy[5] is not lazy[5]  # parsed anew each time: nothing is cached
    assert [s.to_dict() for s in lazy[10:13]] == [s.to_dict() for s in eager[10:13]]
    with pytest.raises(IndexError):
        lazy[200]
    assert lazy.byte_offsets().dtype == np.int64 and not lazy.is_in_memory()
    fresh = IndexedColumnFile(path, COLUMNS)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("more NN O\n")
    with pytest.raises(FormatError, match="changed"):
        fresh[0]
    with pytest.raises(FormatError, match="changed"):
        list(lazy)


def test_corpora_in_memory_false(tmp_path: Path) -> None:
    rows = "".join(f"w{i} NN {'B-PER' if i % 2 else 'O'}\nx NN O\n\n" for i in range(40))
    write(tmp_path / "col" / "train.txt", rows)
    write(tmp_path / "col" / "test.txt", "a NN B-PER\n\nb NN O\n")
    lazy = ColumnCorpus(tmp_path / "col", COLUMNS, in_memory=False)
    eager = ColumnCorpus(tmp_path / "col", COLUMNS)
    assert not lazy.train.dataset.is_in_memory() and is_lazy(lazy.train) and not is_lazy(eager.train)
    for split in ("train", "dev", "test"):
        assert [s.to_dict() for s in getattr(lazy, split)] == [s.to_dict() for s in getattr(eager, split)]
    counts = dataset_token_counts(lazy.train)  # through the sampled SubsetDataset, without parsing
    assert counts.tolist() == [len(s) for s in eager.train]
    assert dataset_token_counts(eager.train) is None
    assert lazy.make_label_dictionary("ner").get_items() == eager.make_label_dictionary("ner").get_items()

    write(tmp_path / "ud" / "x-ud-train.conllu", CONLLU_TEXT)
    ud = UniversalDependenciesCorpus(tmp_path / "ud", in_memory=False, sample_missing_splits=False)
    assert [s.to_dict() for s in ud.train] == [
        s.to_dict() for s in read_conllu_file(tmp_path / "ud" / "x-ud-train.conllu")
    ]
    assert ud.train.token_counts().tolist() == [4, 1, 1, 1]


def test_multicorpus_task_ids_on_corpora_read_from_disk(tmp_path: Path) -> None:
    write(tmp_path / "a" / "train.txt", "".join(f"a{i} NN O\n\n" for i in range(6)))
    write(tmp_path / "b" / "train.txt", "".join(f"b{i} NN B-PER\n\n" for i in range(4)))
    first = ColumnCorpus(tmp_path / "a", COLUMNS, in_memory=False, sample_missing_splits=False)
    second = ColumnCorpus(tmp_path / "b", COLUMNS, sample_missing_splits=False)  # in memory
    multi = MultiCorpus([first, second], task_ids=["Task_0", "Task_1"])
    ids = [[lab.value for lab in s.get_labels("multitask_id")] for s in multi.train]
    assert ids == [["Task_0"]] * 6 + [["Task_1"]] * 4
    assert [lab.value for lab in multi.train[3].get_labels("multitask_id")] == ["Task_0"]  # random access
    assert is_lazy(multi.train) and dataset_token_counts(multi.train).tolist() == [1] * 10
    # the in-memory corpus is labelled once, as Flair does; the file-backed one is not rewritten
    assert second.train[0].get_labels("multitask_id")[0].value == "Task_1"
    assert not first.train[0].get_labels("multitask_id")


def test_batch_plan_uses_index_counts_without_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "".join("".join(f"w{j} NN O\n" for j in range(1 + i % 7)) + "\n" for i in range(3000))
    lazy = IndexedColumnFile(write(tmp_path / "t.txt", text), COLUMNS, span_layers=["ner"])
    parsed = []
    original = IndexedColumnFile._parse

    def counting(self, index, text):
        parsed.append(index)
        return original(self, index, text)

    monkeypatch.setattr(IndexedColumnFile, "_parse", counting)
    data = SubsetDataset(lazy, range(0, 3000, 2))
    plan = BatchPlan(data, ShuffleSampler(len(data), 3), 8, max_tokens_per_batch=40)
    batches = plan.batches(1)
    assert not parsed
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(data)))
    words = np.array([1 + i % 7 for i in range(0, 3000, 2)])
    assert all(words[b].max() * len(b) <= 40 for b in batches)

    def subtokens(sentences):  # two subtokens a word: the estimate must find the ratio 2
        return np.array([2 * len(s) for s in sentences])

    plan = BatchPlan(data, ShuffleSampler(len(data), 3), 8, max_tokens_per_batch=40, length_fn=subtokens)
    assert plan.lengths().tolist() == (2 * words).tolist()
    assert len(parsed) == 1000  # only the sample was parsed


def test_training_in_memory_false_gives_the_same_weights(tmp_path: Path, tiny_encoder_dir: Path) -> None:
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.models import SequenceTagger
    from polytag.trainers import ModelTrainer

    rng = random.Random(0)
    words = ["Ann", "Bob", "Paris", "went", "to", "the", "city", "of", "London", "."]
    tags = {"Ann": "B-PER", "Bob": "B-PER", "Paris": "B-LOC", "London": "B-LOC"}
    lines = []
    for i in range(40):
        if i % 10 == 0:
            lines.append("-DOCSTART- -X- O\n\n")
        sent = [rng.choice(words) for _ in range(rng.randint(2, 7))]
        lines.append("".join(f"{w} NN {tags.get(w, 'O')}\n" for w in sent) + "\n")
    write(tmp_path / "data" / "train.txt", "".join(lines))
    write(tmp_path / "data" / "test.txt", "".join(lines[:6]))

    def train(in_memory: bool) -> dict[str, torch.Tensor]:
        corpus = ColumnCorpus(tmp_path / "data", COLUMNS, in_memory=in_memory)
        torch.manual_seed(0)
        embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir))
        model = SequenceTagger(embeddings, corpus.make_label_dictionary("ner"), "ner")
        initial.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        ModelTrainer(model, corpus).fine_tune(
            tmp_path / f"run-{in_memory}",
            max_epochs=2,
            learning_rate=1e-3,
            mini_batch_size=4,
            seed=0,
            progress_bar=False,
            plot_training_curves=False,
        )
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    initial: list[dict[str, torch.Tensor]] = []
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        eager, lazy = train(True), train(False)
    finally:
        torch.set_num_threads(before)
    assert eager.keys() == lazy.keys()
    assert any(not torch.equal(eager[k], initial[0][k]) for k in eager)  # it trained
    for key in eager:
        assert torch.equal(eager[key], lazy[key]), key


def test_lazy_dataset_holds_no_sentences(tmp_path: Path) -> None:
    """What the index keeps: numpy arrays only, about 20 bytes a sentence."""
    text = "".join(f"w{i} NN O\nx NN O\n\n" for i in range(5000))
    lazy = IndexedColumnFile(write(tmp_path / "t.txt", text), COLUMNS, span_layers=["ner"])
    arrays = [v for v in vars(lazy).values() if isinstance(v, np.ndarray)]
    assert sum(a.nbytes for a in arrays) <= 24 * len(lazy)
    assert not any(isinstance(v, list) and len(v) >= len(lazy) for v in vars(lazy).values())
