"""``polytag train CONFIG.yaml``: build corpora, encoder and heads from a config and train them.

``--nproc N`` trains data-parallel on N processes: the command starts itself again under PyTorch's
launcher (``python -m torch.distributed.run``, i.e. ``torchrun``), which runs one ``polytag train`` per
rank; see docs/training.md, "Distributed training".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from polytag.config import (
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
    from polytag.training.distributed import is_main_process
    from polytag.training.options import RESUME_OVERRIDES

    main = is_main_process()  # under torchrun: only rank 0 writes files and prints
    if not main:
        logging.getLogger("polytag").setLevel(logging.WARNING)
        os.environ["TQDM_DISABLE"] = "1"
    raw, source = load_config(config_path, overrides)
    resolved = resolve_config(raw, source, output=output)
    out = Path(resolved["output"])
    out.mkdir(parents=True, exist_ok=True)
    if main:
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
    if not main:
        return {"output": str(out), "models": [str(p) for p in saved], **result}
    for path in saved:
        embed_in_model(path, resolved, base_dir=Path(config_path).parent)  # paths portable, relative
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


# -- --nproc: data-parallel training through torchrun ----------------------------------------------------
# polytag train option -> torchrun option, for training over several machines (same on every machine,
# except --node-rank)
LAUNCH_OPTIONS = {
    "nnodes": "--nnodes",
    "node_rank": "--node-rank",
    "master_addr": "--master-addr",
    "master_port": "--master-port",
    "rdzv_backend": "--rdzv-backend",
    "rdzv_endpoint": "--rdzv-endpoint",
    "rdzv_id": "--rdzv-id",
}


def torchrun_command(
    config_path: str | os.PathLike,
    nproc: int,
    overrides: Sequence[str] = (),
    output: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    print_json: bool = False,
    launch: dict[str, Any] | None = None,
    flags: Sequence[str] = (),
) -> list[str]:
    """The command that runs ``polytag train`` on ``nproc`` processes of this machine under torchrun.

    ``launch`` holds torchrun's rendezvous options (keys of :data:`LAUNCH_OPTIONS`); without any, the
    run is ``--standalone`` (one machine, a free port). ``flags`` are passed on (``--debug``, ``-q``).
    """
    if nproc < 1:
        raise ValueError(f"--nproc must be at least 1, got {nproc}")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
    given = {k: v for k, v in (launch or {}).items() if v is not None}
    unknown = set(given) - set(LAUNCH_OPTIONS)
    if unknown:
        raise ValueError(f"unknown torchrun options: {sorted(unknown)}")
    if given:
        for key, option in LAUNCH_OPTIONS.items():
            if key in given:
                command += [option, str(given[key])]
    else:
        command.append("--standalone")
    command += ["-m", "polytag", "train", str(config_path), *flags]
    for override in overrides:
        command += ["--set", override]
    if output is not None:
        command += ["--output", str(output)]
    if resume is not None:
        command += ["--resume", str(resume)]
    if print_json:
        command.append("--json")
    return command


def wants_launch(args: argparse.Namespace) -> bool:
    """Whether ``polytag train`` must start torchrun (``--nproc``), rather than train in this process."""
    nproc = getattr(args, "nproc", None)
    if not nproc:
        return False
    from polytag.training.distributed import launched_by_torchrun

    if launched_by_torchrun():
        log.warning("--nproc ignored: this process was already started by torchrun")
        return False
    return nproc > 1 or int(getattr(args, "nnodes", None) or 1) > 1


def launch_train(args: argparse.Namespace) -> int:
    """Run ``polytag train`` under torchrun as ``args`` ask (``--nproc`` and rendezvous options);
    returns torchrun's exit code. Ctrl-C reaches torchrun too, which stops the ranks (they save a
    checkpoint first); this process waits for it to finish."""
    flags = [
        flag
        for flag, on in (
            ("--debug", getattr(args, "debug", False)),
            ("--quiet", getattr(args, "quiet", False)),
        )
        if on
    ]
    command = torchrun_command(
        args.config,
        args.nproc,
        args.overrides,
        args.output,
        args.resume,
        args.json,
        {key: getattr(args, key, None) for key in LAUNCH_OPTIONS},
        flags,
    )
    print("launching: " + " ".join(command[1:]), file=sys.stderr)
    process = subprocess.Popen(command)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue
