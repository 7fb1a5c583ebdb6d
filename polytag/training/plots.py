"""``training-curves.png``: training loss, learning rate and dev score (per task) over optimizer steps.

Drawn with matplotlib's Agg canvas directly (no pyplot, so no global backend state and no display
needed) and written atomically, after every evaluation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def plot_training_curves(path: str | os.PathLike, history: dict[str, Any]) -> Path:
    """Draw the curves of ``history`` (the trainer's JSON history) into ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    figure = Figure(figsize=(15, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    ax_loss, ax_lr, ax_score = figure.subplots(1, 3)

    steps = history.get("steps", {})
    if steps.get("step"):
        ax_loss.plot(
            steps["step"], steps["loss"], color="tab:blue", alpha=0.35, linewidth=0.8, label="train (batches)"
        )
        ax_lr.plot(steps["step"], steps["lr"], color="tab:green")
    epochs = history.get("epochs", [])
    if epochs:
        x = [e["step"] for e in epochs]
        ax_loss.plot(x, [e["train_loss"] for e in epochs], "o-", color="tab:blue", label="train (epoch)")
    evaluations = history.get("evaluations", [])
    for split in sorted({e["split"] for e in evaluations}):
        points = [e for e in evaluations if e["split"] == split]
        with_loss = [e for e in points if e.get("loss") is not None]
        if with_loss:
            ax_loss.plot([e["step"] for e in with_loss], [e["loss"] for e in with_loss], "s--", label=split)
        ax_score.plot([e["step"] for e in points], [e["score"] for e in points], "o-", label=split)
        tasks = sorted({t for e in points for t in e.get("tasks", {})})
        for task in tasks:
            task_points = [e for e in points if task in e.get("tasks", {})]
            ax_score.plot(
                [e["step"] for e in task_points],
                [e["tasks"][task] for e in task_points],
                ".:",
                label=f"{split} {task}",
            )

    ax_loss.set_title("loss")
    ax_lr.set_title("learning rate")
    ax_score.set_title(f"score ({history.get('metric', 'main')})")
    for axis in (ax_loss, ax_lr, ax_score):
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis in (ax_loss, ax_score):
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
    figure.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    figure.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path
