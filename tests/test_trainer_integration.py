"""The trainer with the real heads on the tiny encoder: TokenClassifier and a two-task MultitaskModel."""

from __future__ import annotations

import csv

import pytest
import torch

from polytag.trainers import ModelTrainer
from tests.test_trainer_support import make_corpus

models = pytest.importorskip("polytag.models")
embeddings_module = pytest.importorskip("polytag.embeddings")
multitask = pytest.importorskip("polytag.models.multitask")

FAST = {"progress_bar": False, "plot_training_curves": False, "seed": 0}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_token_classifier_fine_tune_checkpoint_and_reload(tiny_encoder_dir, tmp_path):
    corpus = make_corpus(24)
    embeddings = embeddings_module.TransformerWordEmbeddings(str(tiny_encoder_dir))
    model = models.TokenClassifier(embeddings, corpus.make_label_dictionary("pos"), "pos")
    result = ModelTrainer(model, corpus).fine_tune(
        tmp_path,
        max_epochs=2,
        learning_rate=1e-3,
        decoder_learning_rate=5e-2,  # 1e-2 is too slow for the loss to fall within two epochs
        save_checkpoint_every=1,
        **FAST,
    )
    assert len(result["dev_score_history"]) == 2 and 0.0 <= result["test_score"] <= 1.0
    assert result["train_loss_history"][1] < result["train_loss_history"][0]
    log_text = (tmp_path / "training.log").read_text(encoding="utf-8")
    assert "EPOCH 2 done: loss " in log_text and " - lr: 0.000000,0.000000" in log_text
    loaded = models.TokenClassifier.load(tmp_path / "final-model.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key].cpu(), value.cpu())
    assert (tmp_path / "checkpoints" / "step-000000012" / "model.safetensors").is_file()


def test_multitask_model_lines_and_task_columns(tiny_encoder_dir, tmp_path):
    corpus_1, corpus_2 = make_corpus(16), make_corpus(16, 10, "chunk")
    shared = embeddings_module.TransformerWordEmbeddings(str(tiny_encoder_dir))
    model_1 = models.TokenClassifier(shared, corpus_1.make_label_dictionary("pos"), "pos")
    model_2 = models.TokenClassifier(shared, corpus_2.make_label_dictionary("chunk"), "chunk")
    model, corpus = multitask.make_multitask_model_and_corpus([(model_1, corpus_1), (model_2, corpus_2)])
    ModelTrainer(model, corpus).fine_tune(tmp_path, max_epochs=1, learning_rate=1e-3, **FAST)
    log_text = (tmp_path / "training.log").read_text(encoding="utf-8")
    for task in ("Task_0", "Task_1"):
        assert f"{task} - TokenClassifier - loss: " in log_text
    assert "DEV : loss " in log_text
    with open(tmp_path / "loss.tsv", encoding="utf-8") as handle:
        header = next(csv.reader(handle, delimiter="\t"))
    assert header[-2:] == ["DEV_SCORE_Task_0", "DEV_SCORE_Task_1"]
