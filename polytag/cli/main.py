"""The ``polytag`` command (also ``python -m polytag``): train, evaluate, predict, serve, info, init-config.

Each sub-command lives in its own module, which registers its options and handler; those modules import
their heavy parts (torch, transformers, FastAPI) only when the command runs, so ``polytag --help`` and
``polytag info`` start quickly. polytag's own errors (bad config, bad input, damaged model file) end
the command with a one-line message and exit code 2 instead of a traceback; ``--debug`` shows it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence

# Each command module registers its own sub-parser and handler (``register(commands, common)``); they
# import only light modules at the top, so building the parser stays quick.
COMMAND_MODULES = (
    "train",
    "evaluate",
    "predict",
    "export",
    "serve_command",
    "info",
    "init_config",
    "zelda_convert",
)

EPILOG = """examples:
  polytag init-config --task multitask -o my.yaml
  polytag train my.yaml --set trainer.max_epochs=1 --output runs/first
  polytag evaluate runs/first/final-model.pt my.yaml --split dev
  polytag predict runs/first/final-model.pt input.txt --output out.jsonl
  polytag predict runs/first/final-model.pt input.txt --format html --output out.html
  polytag serve runs/first/final-model.pt --port 8000
  polytag info runs/first/final-model.pt
"""


def _parser() -> argparse.ArgumentParser:
    from polytag import __version__

    parser = argparse.ArgumentParser(
        prog="polytag",
        description="Multitask NLP on one shared transformer encoder: train, evaluate, predict and serve.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"polytag {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="less logging and no progress bars")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="less logging and no progress bars",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"polytag.cli.{name}").register(commands, common)
    return parser


@contextlib.contextmanager
def _logging(quiet: bool) -> Iterator[None]:
    """polytag's log on standard error (or silenced with ``--quiet``), undone afterwards.

    Undoing matters when the CLI runs inside another program (tests call ``run`` in-process).
    """
    polytag_log = logging.getLogger("polytag")
    transformers_log = logging.getLogger("transformers")
    saved = (
        list(polytag_log.handlers),
        polytag_log.level,
        transformers_log.level,
        os.environ.get("TQDM_DISABLE"),
    )
    if quiet:
        polytag_log.addHandler(logging.NullHandler())
        polytag_log.setLevel(logging.WARNING)
        os.environ["TQDM_DISABLE"] = "1"
    elif not polytag_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        polytag_log.addHandler(handler)
        polytag_log.setLevel(logging.INFO)
    transformers_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for added in list(polytag_log.handlers):
            if added not in saved[0]:
                polytag_log.removeHandler(added)
        polytag_log.setLevel(saved[1])
        transformers_log.setLevel(saved[2])
        if saved[3] is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = saved[3]


def run(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit code (errors propagate)."""
    parser = _parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command is None:
        parser.print_help()
        return 2
    with _logging(getattr(args, "quiet", False)):
        return int(args.handler(args))


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: run and exit with its code; polytag's errors become one-line messages."""
    from polytag.errors import PolytagError

    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = run(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    except (PolytagError, FileExistsError, FileNotFoundError) as exc:
        if debug:
            raise
        print(f"polytag: error: {exc}", file=sys.stderr)
        code = 2
    except BrokenPipeError:  # output piped into head and the like
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
