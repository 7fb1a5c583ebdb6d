"""``polytag train CONFIG.yaml``: build corpora, encoder and heads from a config and train them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from polytag.cli.config import (
    build_corpora,
    build_model,
    embed_in_model,
    load_config,
    resolve_config,
    save_resolved,
)

log = logging.getLogger("polytag")


def model_files(folder: Path) -> list[Path]:
    """The model files a run leaves in its folder (final, best, per-epoch)."""
    return sorted(p for p in folder.glob("*.pt") if p.is_file())


def run_train(
    config_path: str | os.PathLike,
    overrides: list[str] | tuple[str, ...] = (),
    output: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    print_json: bool = False,
) -> dict[str, Any]:
    """Train what ``config_path`` describes; returns the trainer's result plus the model paths.

    The resolved config is written to ``<output>/config.yaml`` before training starts (so a crashed or
    interrupted run still records its settings) and stored inside every model file the run saves.
    With ``resume`` the model is built from the config exactly as before and training continues from
    the checkpoint; trainer options the config sets that a resumed run may change (``max_epochs`` and
    the like) are passed on, the others are fixed by the checkpoint.
    """
    from polytag.training import ModelTrainer
    from polytag.training.options import RESUME_OVERRIDES

    raw, source = load_config(config_path, overrides)
    resolved = resolve_config(raw, source, output=output)
    out = Path(resolved["output"])
    out.mkdir(parents=True, exist_ok=True)
    save_resolved(resolved, out)
    log.info("resolved config written to %s", out / "config.yaml")

    corpus, per_task = build_corpora(resolved)
    model = build_model(resolved, per_task)
    trainer = ModelTrainer(model, corpus)
    options = dict(resolved["trainer"])
    method = options.pop("method")
    if resume is not None:
        given = raw.get("trainer") or {}
        changes = {k: options[k] for k in given if k in RESUME_OVERRIDES and k in options}
        changes["base_path"] = out
        result = trainer.resume(resume, **changes)
    else:
        result = getattr(trainer, method)(out, **options)
    saved = model_files(out)
    for path in saved:
        embed_in_model(path, resolved)
    summary = {
        "output": str(out),
        "models": [str(p) for p in saved],
        "config": str(out / "config.yaml"),
        **{k: v for k, v in result.items() if isinstance(v, (int, float, str, list, bool, type(None)))},
    }
    if print_json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"model(s): {', '.join(p.name for p in saved) or 'none saved'} in {out}")
        if result.get("dev_score_history"):
            print(f"dev scores by epoch: {', '.join(f'{s:.4f}' for s in result['dev_score_history'])}")
        if result.get("interrupted"):
            print("training was interrupted; continue with --resume " + str(out / "checkpoints"))
        else:
            print(f"test score: {result.get('test_score', 0.0):.4f}")
    return summary
