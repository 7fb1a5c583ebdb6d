"""How a run ends: finished (test evaluation, result), stopped by a signal, or stopped by a bad loss.

An interrupted run never writes ``final-model.pt``: its model is ``interrupted-model.pt`` (next to the
checkpoint it can resume from), so ``final-model.pt`` in a folder always means the last run finished.
"""

from __future__ import annotations

import logging
from typing import Any

from polytag.training.outputs import BEST_MODEL, INTERRUPTED_MODEL, TEST_FILE
from polytag.training.reporting import LINE
from polytag.training.saving import load_weights, save_model
from polytag.training.step import NonFiniteLoss, NonFiniteLossError

log = logging.getLogger("polytag")


def on_interrupt(run: Any, signal_name: str | None) -> None:
    """After Ctrl-C or SIGTERM: save a checkpoint and ``interrupted-model.pt`` (never ``final-model.pt``)."""
    run.interrupted = True
    run.stop_signal = signal_name or "SIGINT"  # a rank of a distributed run that only agreed to stop
    log.info(LINE)
    log.info("Exiting from training early.")
    path = run.save_checkpoint()
    if run.config.save_final_model:
        log.info("Saving model ... (as %s: training did not finish)", INTERRUPTED_MODEL)
        save_model(run, INTERRUPTED_MODEL)
    log.info("Done. Continue with ModelTrainer(model, corpus).resume(%r)", str(path))


def on_non_finite(run: Any, bad: NonFiniteLoss) -> NonFiniteLossError:
    """Save the state before the bad step and say where it happened and what to try."""
    epoch, batch, total, step, sentences = bad.where
    path = run.save_checkpoint()
    first = getattr(sentences[0], "to_tokenized_string", lambda: "")() if sentences else ""
    return NonFiniteLossError(
        f"training loss is {bad.value} at step {step} (epoch {epoch}, batch {batch + 1} of {total}, "
        f"{len(sentences)} sentences, the first: {first[:80]!r}). A checkpoint with the state before "
        f"this step is at {path}. Try a lower learning rate, max_grad_norm, or use_amp=False."
    )


def finish(run: Any) -> dict[str, Any]:
    """The test evaluation (unless interrupted) and the result the public methods return."""
    config, corpus = run.config, run.corpus
    test_score = 0.0
    if run.interrupted:
        log.info("training was interrupted: no test evaluation")
    elif config.evaluate_on_test and corpus.test and not config.train_with_test:
        log.info(LINE)
        best = run.base_path / BEST_MODEL
        if run.distributed.broadcast_object(not config.use_final_model_for_eval and best.exists()):
            log.info("Loading model from best epoch ...")
            load_weights(run.model, best, run.distributed)
        else:
            log.info("Testing using last state of model ...")
        score = run_test(run) if run.distributed.is_main else None
        test_score = run.distributed.broadcast_object(score)
    elif not corpus.test:
        log.info("Test data not provided setting final score to 0")
    history = run.state.history
    dev = [e for e in history["evaluations"] if e["split"] == "dev" and e["epoch_end"]]
    return {
        "test_score": test_score,
        "dev_score_history": [e["score"] for e in dev],
        "dev_loss_history": [e["loss"] for e in dev],
        "train_loss_history": [e["train_loss"] for e in history["epochs"]],
        "best_score": run.state.best_score,
        "interrupted": run.interrupted,
        "signal": run.stop_signal,
    }


def run_test(run: Any) -> float:
    """The final test evaluation (writes ``test.tsv``); returns the main score."""
    config, model = run.config, run.model
    run.outputs.claim(TEST_FILE)
    result = model.evaluate(
        run.corpus.test,
        gold_label_type=model.label_type,
        mini_batch_size=config.eval_batch_size,
        out_path=run.base_path / TEST_FILE,
        return_loss=False,
        main_evaluation_metric=config.metric,
        exclude_labels=config.exclude_labels,
        gold_label_dictionary=run.extras.gold_label_dictionary,
        embedding_storage_mode="none",
    )
    log.info(result.detailed_results)
    log.info(LINE)
    return float(result.main_score)
