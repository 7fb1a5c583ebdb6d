"""The training loop end to end on the tiny model: logs, loss.tsv, plot, NaN guard, Flair arguments."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import signal

import pytest
import torch

from polytag.trainers import ModelTrainer
from polytag.training import NonFiniteLossError, find_checkpoint, load_checkpoint
from polytag.training.schedule import LinearWarmupSchedule
from tests.test_trainer_support import TinyMultitask, TinyTagger, build, make_multicorpus

FAST = {"progress_bar": False, "plot_training_curves": False}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _read_tsv(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_fine_tune_log_lines_loss_file_and_return_value(tmp_path):
    model, corpus = build()
    result = ModelTrainer(model, corpus).fine_tune(
        tmp_path, max_epochs=2, learning_rate=0.05, seed=1, warmup_fraction=0.25, **FAST
    )
    log_text = (tmp_path / "training.log").read_text(encoding="utf-8")
    epoch_lines = re.findall(r"EPOCH (\d) done: loss (\d+\.\d{4}) - lr: (\d\.\d{6})$", log_text, re.M)
    dev_lines = re.findall(r"DEV : loss (\d+\.\d{4}) - f1-score \(micro avg\) (\d\.\d{4})$", log_text, re.M)
    assert [e[0] for e in epoch_lines] == ["1", "2"] and len(dev_lines) == 2
    # 48 sentences / 4 = 12 steps per epoch, 24 in all, 6 of warm-up: after epoch 1 the rate is
    # 0.05 * (24 - 12) / (24 - 6)
    assert float(epoch_lines[0][2]) == pytest.approx(0.05 * 12 / 18, abs=1e-6)
    assert float(epoch_lines[1][2]) == 0.0
    rows = _read_tsv(tmp_path / "loss.tsv")
    assert list(rows[0]) == ["EPOCH", "TIMESTAMP", "LEARNING_RATE", "TRAIN_LOSS", "DEV_LOSS", "DEV_SCORE"]
    assert [r["EPOCH"] for r in rows] == ["1", "2"]
    assert [float(r["DEV_SCORE"]) for r in rows] == pytest.approx(result["dev_score_history"], abs=1e-4)
    assert [float(r["TRAIN_LOSS"]) for r in rows] == pytest.approx(result["train_loss_history"], abs=1e-4)
    assert float(rows[0]["DEV_SCORE"]) == pytest.approx(float(dev_lines[0][1]), abs=1e-4)
    assert result["train_loss_history"][1] < result["train_loss_history"][0]  # it learns
    assert set(result) >= {"test_score", "dev_score_history", "train_loss_history", "dev_loss_history"}
    assert 0.0 < result["test_score"] <= 1.0
    assert (tmp_path / "final-model.pt").is_file()
    assert not (tmp_path / "best-model.pt").exists()  # fine_tune evaluates the final model
    reloaded = TinyTagger.load(tmp_path / "final-model.pt")
    for key, value in model.state_dict().items():
        assert torch.equal(reloaded.state_dict()[key], value)


def test_multitask_per_task_lines_and_columns(tmp_path):
    torch.manual_seed(0)
    model = TinyMultitask()
    trainer = ModelTrainer(model, make_multicorpus())
    trainer.fine_tune(tmp_path, max_epochs=1, learning_rate=0.05, seed=2, **FAST)
    lines = (tmp_path / "training.log").read_text(encoding="utf-8").splitlines()
    pattern = r"{} - TinyTagger - loss: \d+\.\d{{4}} - f1-score \(micro avg\) \d\.\d{{4}}$"
    task0 = [i for i, line in enumerate(lines) if re.search(pattern.format("Task_0"), line)]
    task1 = [i for i, line in enumerate(lines) if re.search(pattern.format("Task_1"), line)]
    dev = [i for i, line in enumerate(lines) if " DEV : loss " in line]
    assert len(task0) == 1 and len(task1) == 1 and len(dev) == 1
    assert task0[0] < task1[0] < dev[0]  # task lines first, then the DEV summary, as Flair prints
    rows = _read_tsv(tmp_path / "loss.tsv")
    assert "DEV_SCORE_Task_0" in rows[0] and "DEV_SCORE_Task_1" in rows[0]
    mean = (float(rows[0]["DEV_SCORE_Task_0"]) + float(rows[0]["DEV_SCORE_Task_1"])) / 2
    assert float(rows[0]["DEV_SCORE"]) == pytest.approx(mean, abs=2e-4)


def test_training_curves_png(tmp_path):
    import matplotlib.image

    model, corpus = build()
    ModelTrainer(model, corpus).fine_tune(
        tmp_path, max_epochs=2, learning_rate=0.05, seed=1, progress_bar=False, eval_every_steps=5
    )
    png = tmp_path / "training-curves.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(png)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300
    assert image.std() > 0.01  # something is drawn
    log_text = (tmp_path / "training.log").read_text(encoding="utf-8")
    assert log_text.count("DEV : loss") == 2 + 4  # epochs, plus steps 5 and 10 of each 12-step epoch


def test_nan_guard_saves_checkpoint_then_raises(tmp_path):
    model, corpus = build()
    model.hooks[5] = lambda loss: loss * float("inf")  # the 5th forward pass = optimizer step 5
    with pytest.raises(NonFiniteLossError) as error:
        ModelTrainer(model, corpus).fine_tune(tmp_path, max_epochs=1, learning_rate=0.05, seed=1, **FAST)
    message = str(error.value)
    assert "at step 5 " in message and "epoch 1, batch 5 of 12" in message
    folder, data = load_checkpoint(find_checkpoint(tmp_path))
    assert str(folder) in message
    assert data.state["run"]["global_step"] == 4 and data.state["sampler"]["index"] == 4
    assert all(torch.isfinite(t).all() for t in data.model.values())


def test_seed_makes_runs_repeatable(tmp_path):
    finals = []
    for run, seed in enumerate((5, 5, 6)):
        model, corpus = build()
        ModelTrainer(model, corpus).fine_tune(
            tmp_path / str(run), max_epochs=2, learning_rate=0.05, seed=seed, **FAST
        )
        finals.append(_weights(model))
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])
    assert not all(torch.equal(finals[0][k], finals[2][k]) for k in finals[0])


def fine_tune_with_flair_arguments(model, corpus, path):
    """Flair's fine_tune arguments, including some polytag accepts without acting on them."""
    return ModelTrainer(model, corpus).fine_tune(
        path,
        max_epochs=1,
        learning_rate=0.05,
        **FAST,
        embeddings_storage_mode="none",
        shuffle=False,
        use_final_model_for_eval=False,
        monitor_test=True,
        train_with_dev=False,
        param_selection_mode=False,
        use_amp=False,
        plugins=[],
        multi_gpu=False,
        attach_default_scheduler=False,
        weight_decay=0.01,
        save_optimizer_state=True,
        epoch=0,
        main_evaluation_metric=("micro avg", "f1-score"),
        exclude_labels=[],
        monitor_train_sample=0.5,
        save_model_each_k_epochs=1,
        sampler=None,
        write_weights=False,
        reduce_transformer_vocab=False,
    )


def test_flair_arguments_are_accepted(tmp_path, caplog):
    model, corpus = build()
    caplog.set_level(logging.INFO, logger="polytag")
    with pytest.warns(UserWarning, match=r"polytag ignores save_optimizer_state=True: checkpoints") as caught:
        result = fine_tune_with_flair_arguments(model, corpus, tmp_path)
    assert len(caught) == 1  # the arguments left at their off values and storage hints stay quiet
    assert "ignoring embeddings_storage_mode='none'" in caplog.text
    assert "TEST : loss" in caplog.text and "TRAIN_SAMPLE : loss" in caplog.text
    assert (tmp_path / "best-model.pt").is_file() and (tmp_path / "model_epoch_1.pt").is_file()
    rows = _read_tsv(tmp_path / "loss.tsv")
    assert "TEST_SCORE" in rows[0] and "TRAIN_SAMPLE_SCORE" in rows[0]
    assert float(rows[0]["LEARNING_RATE"]) == 0.05  # no scheduler attached
    assert result["test_score"] > 0
    with pytest.raises(TypeError, match="no_such_argument"):
        ModelTrainer(model, corpus).fine_tune(tmp_path, no_such_argument=1)


def test_train_with_dev_and_sgd_annealing(tmp_path):
    model, corpus = build()
    result = ModelTrainer(model, corpus).train(
        tmp_path, max_epochs=2, learning_rate=0.5, mini_batch_size=8, train_with_dev=True, patience=0, **FAST
    )
    log_text = (tmp_path / "training.log").read_text(encoding="utf-8")
    assert "Train:  60 sentences" in log_text  # 48 train + 12 dev
    assert "DEV : loss" not in log_text and result["dev_score_history"] == []
    assert "BAD EPOCHS (no improvement): 0" in log_text  # annealing follows the train loss
    assert (tmp_path / "final-model.pt").is_file() and not (tmp_path / "best-model.pt").exists()


def test_train_saves_best_model_and_tests_it(tmp_path):
    model, corpus = build()
    ModelTrainer(model, corpus).train(tmp_path, max_epochs=2, learning_rate=0.3, mini_batch_size=8, **FAST)
    log_text = (tmp_path / "training.log").read_text(encoding="utf-8")
    assert "saving best model" in log_text and "Loading model from best epoch" in log_text
    assert (tmp_path / "best-model.pt").is_file()


def test_ctrl_c_saves_checkpoint_and_resume_matches_uninterrupted_run(tmp_path):
    settings = dict(max_epochs=2, learning_rate=0.05, seed=3, **FAST)
    model, corpus = build()
    ModelTrainer(model, corpus).fine_tune(tmp_path / "whole", **settings)
    expected = _weights(model)

    model, corpus = build()
    model.hooks[7] = lambda loss: (os.kill(os.getpid(), signal.SIGINT), loss)[1]  # Ctrl-C in step 7
    result = ModelTrainer(model, corpus).fine_tune(tmp_path / "cut", **settings)
    assert result["interrupted"] is True and result["signal"] == "SIGINT"
    assert (tmp_path / "cut" / "interrupted-model.pt").is_file()  # never final-model.pt: it did not finish
    assert not (tmp_path / "cut" / "final-model.pt").exists()
    folder = find_checkpoint(tmp_path / "cut")
    state = json.loads((folder / "trainer-state.json").read_text())
    assert state["run"]["global_step"] == 7
    assert (state["sampler"]["epoch"], state["sampler"]["index"]) == (1, 7)

    model, corpus = build(model_seed=99)  # other initial weights: all must come from the checkpoint
    result = ModelTrainer(model, corpus).resume(tmp_path / "cut")
    assert result["interrupted"] is False and len(result["train_loss_history"]) == 2
    assert (tmp_path / "cut" / "final-model.pt").is_file()
    assert not (tmp_path / "cut" / "interrupted-model.pt").exists()  # the finished run replaced it
    for key, value in expected.items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=1e-5, atol=1e-6)
    rows = _read_tsv(tmp_path / "cut" / "loss.tsv")
    assert [r["EPOCH"] for r in rows] == ["1", "2"]


def test_resume_with_more_epochs_extends_the_schedule(tmp_path):
    model, corpus = build()
    ModelTrainer(model, corpus).fine_tune(
        tmp_path, max_epochs=1, learning_rate=0.05, seed=3, save_checkpoint_every=1, **FAST
    )
    model, corpus = build()
    result = ModelTrainer(model, corpus).resume(tmp_path, max_epochs=2)
    assert len(result["train_loss_history"]) == 2
    _, data = load_checkpoint(tmp_path)
    assert data.state["schedule"]["total_steps"] == 24 and data.state["run"]["global_step"] == 24
    with pytest.raises(TypeError, match="learning_rate"):
        ModelTrainer(model, corpus).resume(tmp_path, learning_rate=1.0)


def test_token_budget_and_chunked_training_runs(tmp_path):
    model, corpus = build()
    model.dropout.p = 0.0
    ModelTrainer(model, corpus).fine_tune(
        tmp_path / "a", max_epochs=1, learning_rate=0.05, seed=4, mini_batch_chunk_size=3, **FAST
    )
    chunked = _weights(model)
    model, corpus = build()
    model.dropout.p = 0.0
    ModelTrainer(model, corpus).fine_tune(tmp_path / "b", max_epochs=1, learning_rate=0.05, seed=4, **FAST)
    for key, value in _weights(model).items():
        torch.testing.assert_close(chunked[key], value, rtol=1e-5, atol=1e-6)
    model, corpus = build()
    result = ModelTrainer(model, corpus).fine_tune(
        tmp_path / "c", max_epochs=1, learning_rate=0.05, seed=4, max_tokens_per_batch=24, **FAST
    )
    assert '"24" tokens per batch' in (tmp_path / "c" / "training.log").read_text(encoding="utf-8")
    assert result["train_loss_history"][0] > 0


def test_linear_schedule_through_trainer_matches_unit(tmp_path):
    model, corpus = build()
    ModelTrainer(model, corpus).fine_tune(
        tmp_path, max_epochs=1, learning_rate=0.05, seed=1, save_checkpoint_every="6 steps", **FAST
    )
    _, data = load_checkpoint(tmp_path)  # the newest: step 12, the end of the run
    schedule = data.state["schedule"]
    assert (schedule["total_steps"], schedule["warmup_steps"], schedule["step_count"]) == (12, 1, 12)
    used = data.state["run"]["history"]["steps"]["lr"]  # the rate of each of the 12 steps
    assert used[0] == 0.0 and used[1] == pytest.approx(0.05)  # warm-up end
    assert used[11] == pytest.approx(0.05 / 11)  # last step: base / (total - warmup)
    reference = LinearWarmupSchedule(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05), 12, 0.1)
    assert used == pytest.approx([reference.factor(k) * 0.05 for k in range(12)])


def test_cpu_runs_in_float32_and_tensorboard_needs_its_package(tmp_path, caplog):
    import importlib.util

    model, corpus = build()
    caplog.set_level(logging.INFO, logger="polytag")
    ModelTrainer(model, corpus).fine_tune(
        tmp_path, max_epochs=1, learning_rate=0.05, use_amp=True, use_tensorboard=True, **FAST
    )
    assert "precision: float32" in caplog.text and "mixed precision is only used on CUDA" in caplog.text
    if importlib.util.find_spec("tensorboard") is None:
        assert "'tensorboard' package is not installed" in caplog.text
    else:
        assert any((tmp_path / "tensorboard").iterdir())


def test_train_custom_takes_flair_arguments_as_keywords(tmp_path):
    model, corpus = build()
    result = ModelTrainer(model, corpus).train_custom(
        tmp_path,
        learning_rate=0.05,
        max_epochs=1,
        mini_batch_size=8,
        train_with_dev=True,
        shuffle=False,
        embeddings_storage_mode="cpu",
        epoch=0,
        save_checkpoint_every=1,
        momentum=0.9,
        **FAST,
    )
    assert result["dev_score_history"] == [] and find_checkpoint(tmp_path)
    _, data = load_checkpoint(tmp_path)
    assert data.state["config"]["optimizer_kwargs"] == {"momentum": 0.9}
    assert data.state["optimizer"]["param_groups"][0]["lr"] == 0.05  # constant rate
