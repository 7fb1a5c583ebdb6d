"""Flair's UD layers (``dependency``, one layer per FEATS feature), deferred until used; honest
training options; fast failure on unknown hub names; ``-q``."""

from __future__ import annotations

import gc
import pickle
from pathlib import Path

import pytest

from polytag.data import Corpus, Label
from polytag.datasets.treebanks import UniversalDependenciesDataset
from polytag.formats import read_conllu_file

CONLLU = """# sent_id = a
1	Dogs	dog	NOUN	NNS	Number=Plur	2	nsubj	_	_
2	bark	bark	VERB	VBP	Mood=Ind|Number=Plur|Tense=Pres	0	root	_	_
3	.	.	PUNCT	.	_	2	punct	_	_

# sent_id = b
1	It	it	PRON	PRP	Case=Nom|Number=Sing|Person=3	2	nsubj	_	_
2	ran	run	VERB	VBD	Mood=Ind|Tense=Past	0	root	_	_

"""


@pytest.fixture()
def conllu(tmp_path: Path) -> Path:
    path = tmp_path / "train.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    return path


@pytest.mark.parametrize("in_memory", [True, False])
def test_each_feature_is_a_token_layer_as_in_flair(conllu: Path, in_memory: bool) -> None:
    dataset = UniversalDependenciesDataset(conllu, in_memory=in_memory)
    corpus = Corpus(dataset, dataset, dataset)
    assert corpus.make_label_dictionary("number").get_items() == ["Plur", "Sing"]
    assert corpus.make_label_dictionary("tense").get_items() == ["Pres", "Past"]
    first, second = dataset[0], dataset[1]
    assert [t.get_label("dependency").value for t in first] == ["nsubj", "root", "punct"]
    assert [t.get_label("number", "-").value for t in first] == ["Plur", "Plur", "-"]
    assert first[2].get_labels("number") == []  # a word without the feature has no label
    assert [t.get_label("person", "-").value for t in second] == ["3", "-"]
    # Flair's order on a word: its columns, dependency, then the features as FEATS lists them
    assert list(second[0].annotation_layers) == [
        "lemma", "upos", "pos", "head", "deprel", "dependency", "case", "number", "person",
    ]  # fmt: skip


def test_feature_layers_are_built_only_when_used(conllu: Path) -> None:
    gc.collect()
    before = sum(type(o) is Label for o in gc.get_objects())
    sentences = read_conllu_file(conllu)
    assert [t.get_label("pos").value for t in sentences[0]] == ["NNS", "VBP", "."]
    assert sum(type(o) is Label for o in gc.get_objects()) - before == 3  # pos of one sentence only
    assert [label.value for label in sentences[0].get_labels("mood")] == ["Ind"]
    assert sentences[1].get_labels("nosuchlayer") == []


def test_deferred_features_survive_pickle_and_removal(conllu: Path) -> None:
    sentence = read_conllu_file(conllu)[0]
    copy = pickle.loads(pickle.dumps(sentence))
    assert [label.value for label in copy.get_labels("number")] == ["Plur", "Plur"]
    sentence.remove_labels("number")  # before the features were split: they must not come back
    assert sentence.get_labels("number") == []
    assert "number" not in sentence[0].annotation_layers
    assert sentence[1].get_label("tense").value == "Pres"


def test_a_sentence_label_does_not_split_the_features(conllu: Path) -> None:
    sentence = read_conllu_file(conllu)[1]
    sentence.add_label("multitask_id", "Task_0")
    assert sentence.get_label("multitask_id").value == "Task_0"
    assert [t.get_label("case", "-").value for t in sentence] == ["Nom", "-"]
    assert list(sentence.annotation_layers)[-1] == "multitask_id"
