"""The lines a run logs when it starts: model, corpus, settings, device, where it writes (as Flair)."""

from __future__ import annotations

from typing import Any

from polytag.training.reporting import LINE


def start_lines(run: Any) -> list[str]:
    """The start banner of ``run`` (a :class:`polytag.training.run.TrainingRun`)."""
    config, model = run.config, run.model
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    decoder = f" (decoder: {config.decoder_learning_rate})" if config.decoder_learning_rate else ""
    batching = (
        f'"{config.max_tokens_per_batch}" tokens per batch'
        if config.max_tokens_per_batch
        else f'"{config.mini_batch_size}"'
    )
    final = (
        "model after last epoch (final-model.pt)"
        if config.use_final_model_for_eval or not (config.saves_best_model)
        else "model from best epoch (best-model.pt)"
    )
    lines = [
        LINE,
        f'Model: "{type(model).__name__}" ({params:,} parameters, {trainable:,} trainable)',
        LINE,
        f"{run.corpus}",
        LINE,
        f"Train:  {len(run.data)} sentences",
        f"        (train_with_dev={config.train_with_dev}, train_with_test={config.train_with_test})",
        LINE,
        "Training Params:",
        f' - learning_rate: "{config.learning_rate}"{decoder}',
        f" - mini_batch_size: {batching}",
        f' - max_epochs: "{config.max_epochs}"',
        f' - shuffle: "{config.shuffle}"',
        f' - optimizer: "{config.optimizer}", schedule: "{config.schedule}"',
        LINE,
        f"Final evaluation on {final}",
        f' - metric: "{tuple(config.metric)}"',
        LINE,
        "Computation:",
        f" - compute on device: {run.device}",
        *distributed_lines(run),
        f" - precision: {run.precision.describe()}",
        LINE,
        f'Model training base path: "{run.base_path}"',
    ]
    if run.resumed:
        lines.append(
            f"Resumed from {run.extras.resumed_from} at epoch {run.sampler.epoch}, "
            f"step {run.state.global_step}"
        )
    return lines


def distributed_lines(run: Any) -> list[str]:
    """How a data-parallel run splits the work (nothing for a single process)."""
    distributed = run.distributed
    if not distributed.enabled:
        return []
    config = run.config
    tokens = config.max_tokens_per_batch
    size = f"{tokens} tokens" if tokens else f"{config.mini_batch_size} sentences"
    return [
        f" - distributed: {distributed.world_size} processes ({distributed.backend}), each trains on its"
        f" slice of every global batch ({size}); rank 0 evaluates and writes files",
    ]
