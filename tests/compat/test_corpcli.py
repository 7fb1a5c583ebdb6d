"""Flair's documented shapes for UD layers, trainer arguments, hub names and embedding keywords."""

from __future__ import annotations

from pathlib import Path

import pytest

from polytag.datasets import UD_ENGLISH

WORDS = [
    "1\tDogs\tdog\tNOUN\tNNS\tNumber=Plur\t2\tnsubj\t_\t_",
    "2\tbark\tbark\tVERB\tVBP\tMood=Ind|Number=Plur|Tense=Pres\t0\troot\t_\t_",
    "",
    "1\tIt\tit\tPRON\tPRP\tCase=Nom|Number=Sing|Person=3\t2\tnsubj\t_\t_",
    "2\tran\trun\tVERB\tVBD\tMood=Ind|Tense=Past\t0\troot\t_\t_",
    "",
]


@pytest.fixture()
def ud_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POLYTAG_DATASETS", str(tmp_path))
    monkeypatch.setenv("POLYTAG_OFFLINE", "1")
    folder = tmp_path / "ud_english"
    folder.mkdir()
    for split in ("train", "dev", "test"):
        (folder / f"en_ewt-ud-{split}.conllu").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    return folder


def test_ud_morphological_number_dictionary(ud_english: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = UD_ENGLISH()
    pos_dictionary = corpus.make_label_dictionary(label_type="pos")
    number_dictionary = corpus.make_label_dictionary(label_type="number")
    print(pos_dictionary)
    print(number_dictionary)
    assert capsys.readouterr().out.splitlines() == [
        "Dictionary with 4 tags: NNS, VBP, PRP, VBD",
        "Dictionary with 2 tags: Plur, Sing",
    ]


def test_ud_dependency_layer(ud_english: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = UD_ENGLISH()
    print(corpus.make_label_dictionary(label_type="dependency"))
    print(corpus.train[0].to_tagged_string("dependency"))
    assert capsys.readouterr().out.splitlines() == [
        "Dictionary with 2 tags: nsubj, root",
        'Sentence[2]: "Dogs bark" → ["Dogs"/nsubj, "bark"/root]',
    ]


def test_transformer_embeddings_take_flair_auth_keyword(capsys: pytest.CaptureFixture[str]) -> None:
    from polytag.data import Sentence
    from polytag.embeddings import TransformerWordEmbeddings

    embedding = TransformerWordEmbeddings(use_auth_token=None)  # Flair's keyword for private hub models
    sentence = Sentence("The grass is green .")
    embedding.embed(sentence)
    vectors = embedding.get_token_embeddings(sentence)  # Flair: token.embedding
    print(sentence[0])
    print(vectors[0].shape)
    assert capsys.readouterr().out.splitlines() == ['Token[0]: "The"', "torch.Size([384])"]


def test_unknown_hub_model_offline_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from polytag.embeddings import TransformerWordEmbeddings
    from polytag.errors import ModelFileError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelFileError, match=r"found no local folder.*POLYTAG_MODELS"):
        TransformerWordEmbeddings("bert-base-uncased")  # Flair's tutorial model, not shipped


def test_trainer_multi_gpu_warns_and_trains(tmp_path: Path) -> None:
    from polytag.trainers import ModelTrainer
    from tests.test_trainer_support import build

    tagger, corpus = build()
    trainer = ModelTrainer(tagger, corpus)
    with pytest.warns(UserWarning, match=r"multi_gpu=True: this run trains in one process.*torchrun"):
        trainer.train(str(tmp_path / "taggers" / "example"), learning_rate=0.1, max_epochs=1, multi_gpu=True)
    assert (tmp_path / "taggers" / "example" / "final-model.pt").is_file()
