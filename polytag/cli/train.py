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
    """The model files the runs in ``folder`` wrote (final, best, interrupted, per-epoch); never a
    user's own ``.pt`` file that happens to lie there."""
    from polytag.training.outputs import RunFolder

    return RunFolder(folder, write=False).own_files(".pt")


def check_output_folder(folder: Path, overwrite: bool) -> None:
    """Refuse to train into a non-empty folder that no polytag run wrote, unless ``overwrite``.

    A folder with ``polytag-run.json`` is a run: training again replaces only that run's own files, and
    ``--resume`` continues it. With ``--overwrite`` a run may replace files of its output names; other
    files are never touched.
    """
    from polytag.training.outputs import MANIFEST, OutputFolderError, RunFolder

    run_folder = RunFolder(folder, write=False)
    if not overwrite and not run_folder.is_run() and run_folder.entries():
        raise OutputFolderError(
            f"output folder {folder} is not empty and holds no polytag run (no {MANIFEST}); "
            "pass --overwrite to train into it anyway, or choose another folder"
        )


def run_train(
    config_path: str | os.PathLike,
    overrides: list[str] | tuple[str, ...] = (),
    output: str | os.PathLike | None = None,
    resume: str | os.PathLike | None = None,
    print_json: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train what ``config_path`` describes; returns the trainer's result plus the model paths.

    The output folder must be empty, new, or a polytag run's folder, unless ``overwrite`` (see
    :func:`check_output_folder`). The resolved config is written to ``<output>/config.yaml`` before
    training starts (so a crashed or interrupted run still records its settings) and stored inside
    every model file the run saves. With ``resume`` the model is built from the config exactly as
    before and training continues from the checkpoint; trainer options the config sets that a resumed
    run may change (``max_epochs`` and the like) are passed on, the others are fixed by the checkpoint.
    An interrupted run (Ctrl-C, SIGTERM) returns with ``interrupted`` and ``signal`` set.
    """
    from polytag.training import ModelTrainer
    from polytag.training.distributed import is_main_process
    from polytag.training.interrupt import TrainingTerminated
    from polytag.training.options import RESUME_OVERRIDES
    from polytag.training.outputs import CONFIG, RunFolder

    main = is_main_process()  # under torchrun: only rank 0 writes files and prints
    if not main:
        logging.getLogger("polytag").setLevel(logging.WARNING)
        os.environ["TQDM_DISABLE"] = "1"
    raw, source = load_config(config_path, overrides)
    resolved = resolve_config(raw, source, output=output)
    out = Path(resolved["output"])
    if main:
        check_output_folder(out, overwrite)
        out.mkdir(parents=True, exist_ok=True)
        RunFolder(out).claim(CONFIG)
        save_resolved(resolved, out)
        log.info("resolved config written to %s", out / "config.yaml")

    corpus, per_task = build_corpora(resolved)
    model = build_model(resolved, per_task)
    trainer = ModelTrainer(model, corpus)
    options = dict(resolved["trainer"])
    method = options.pop("method")
    try:
        if resume is not None:
            given = raw.get("trainer") or {}
            changes = {k: options[k] for k in given if k in RESUME_OVERRIDES and k in options}
            changes["base_path"] = out
            result = trainer.resume(resume, overwrite=overwrite, **changes)
        else:
            result = getattr(trainer, method)(out, overwrite=overwrite, **options)
    except TrainingTerminated as stop:  # SIGTERM: everything is saved; report, then exit 143
        result = stop.result
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
            print(
                f"training was interrupted ({result.get('signal') or 'SIGINT'}): the model is "
                f"interrupted-model.pt; continue with --resume {out / 'checkpoints'}",
                file=sys.stderr,
            )
        else:
            print(f"test score: {result.get('test_score', 0.0):.4f}")
    return summary


def train_command(args: argparse.Namespace) -> int:
    """``polytag train`` (not ``--check``): train here or under torchrun; returns the exit code, which
    is 130 after Ctrl-C and 143 after SIGTERM (the model is then ``interrupted-model.pt``)."""
    from polytag.training.interrupt import EXIT_CODES

    if wants_launch(args):
        return launch_train(args)
    summary = run_train(
        args.config, args.overrides, args.output, args.resume, args.json, getattr(args, "overwrite", False)
    )
    if not summary.get("interrupted"):
        return 0
    return EXIT_CODES.get(summary.get("signal") or "SIGINT", EXIT_CODES["SIGINT"])


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
    overwrite: bool = False,
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
    if overwrite:
        command.append("--overwrite")
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
        getattr(args, "overwrite", False),
    )
    print("launching: " + " ".join(command[1:]), file=sys.stderr)
    process = subprocess.Popen(command)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


# -- the command line ----------------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``train`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    train = commands.add_parser("train", parents=[common], help="train a model from a YAML config")
    train.add_argument("config", help="the YAML config (see polytag init-config and docs/config.md)")
    train.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set trainer.max_epochs=2 (repeatable)",
    )
    train.add_argument("--output", "-o", help="output folder (overrides the config's 'output')")
    train.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from a checkpoint folder (or a run folder: its newest checkpoint)",
    )
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="train into a non-empty folder that holds no polytag run (files of the run's output names"
        " are replaced; nothing else is touched)",
    )
    train.add_argument(
        "--check", action="store_true", help="only validate the config and print the resolved version"
    )
    launch = train.add_argument_group(
        "data-parallel training (torchrun; see docs/training.md)",
        "--nproc N restarts the command under torchrun; the other options are torchrun's rendezvous options",
    )
    launch.add_argument("--nproc", type=int, metavar="N", help="processes on this machine (one per GPU)")
    launch.add_argument("--nnodes", help="machines in the run (torchrun --nnodes)")
    launch.add_argument("--node-rank", type=int, help="this machine's rank (torchrun --node-rank)")
    launch.add_argument("--master-addr", help="rank 0's machine (torchrun --master-addr)")
    launch.add_argument("--master-port", type=int, help="rank 0's port (torchrun --master-port)")
    launch.add_argument("--rdzv-backend", help="rendezvous backend, e.g. c10d (torchrun --rdzv-backend)")
    launch.add_argument("--rdzv-endpoint", help="rendezvous HOST:PORT (torchrun --rdzv-endpoint)")
    launch.add_argument("--rdzv-id", help="run id shared by all machines (torchrun --rdzv-id)")
    train.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    if args.check:
        from polytag.config import dump_config, load_and_resolve

        print(dump_config(load_and_resolve(args.config, args.overrides, args.output)), end="")
        return 0
    return train_command(args)
